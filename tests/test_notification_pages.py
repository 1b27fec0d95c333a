"""console/notification_pages.py over HTTP (no browser): Settings > Notifications for admins, viewers and other
accounts, a test delivery to a real local receiver, and the paused banner with Resume on the Activity Log."""

import sqlalchemy as sa
import pytest
from fastapi.testclient import TestClient

from control import accounts
from control.models import requests
from tests.support.console_deployment import ADMIN, OUTSIDER, VIEWER, console_deployment, csrf_of, log_in
from tests.support.notifications import SECRET, WebhookReceiver, recurring_export, saved_destination

PAGE = "/console/settings/notifications"


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("notification-pages")
    (tmp / "store" / "events").mkdir(parents=True)
    settings, engine, vault, app = console_deployment(tmp, tmp / "store")
    saved_destination(engine, vault, accounts.DEFAULT_ACCOUNT)
    return engine, app


def _client(app, email):
    client = TestClient(app)
    assert log_in(client, email).status_code == 303
    return client


def _post(client, path, data=None, page=PAGE):
    return client.post(path, data={"csrf_token": csrf_of(client.get(page).text), **(data or {})},
                       follow_redirects=True)


def test_an_admin_adds_tests_and_removes_a_webhook_and_its_secret_never_shows(console):
    engine, app = console
    admin, viewer, outsider = _client(app, ADMIN), _client(app, VIEWER), _client(app, OUTSIDER)
    with WebhookReceiver() as receiver:
        added = _post(admin, f"{PAGE}/webhooks", {"url": receiver.url, "secret": SECRET, "reject_threshold": "3"})
        assert added.status_code == 200 and "Webhook added." in added.text and receiver.url in added.text
        hook_id = int(added.text.split(f"{PAGE}/webhooks/")[1].split("/")[0])
        tested = _post(admin, f"{PAGE}/webhooks/{hook_id}/test")
        assert "Test delivered: the webhook answered HTTP 200." in tested.text and "webhook.test" in tested.text
    assert receiver.events() == ["webhook.test"] and receiver.received[0][3]
    seen = viewer.get(PAGE)
    assert receiver.url in seen.text and "Send test" not in seen.text and "Add a webhook" not in seen.text
    assert _post(viewer, f"{PAGE}/webhooks/{hook_id}/remove").status_code == 403
    assert receiver.url not in outsider.get(PAGE).text
    assert _post(outsider, f"{PAGE}/webhooks/{hook_id}/remove").status_code == 404
    refused = _post(admin, f"{PAGE}/webhooks", {"url": "ftp://x.example/", "secret": SECRET})
    assert refused.status_code == 422 and "is not an http:// or https:// URL" in refused.text
    assert all(SECRET not in page.text for page in (added, tested, seen, refused))
    assert "Webhook removed." in _post(admin, f"{PAGE}/webhooks/{hook_id}/remove").text


def test_mail_settings_are_saved_and_refused_beside_the_rule(console):
    _, app = console
    admin = _client(app, ADMIN)
    saved = _post(admin, f"{PAGE}/settings", {"email_to": "ops@acme.example\noncall@acme.example",
                                              "pause_after": "3"})
    assert "Notification settings saved." in saved.text and "ops@acme.example, oncall@acme.example" in saved.text
    refused = _post(admin, f"{PAGE}/settings", {"email_to": "", "pause_after": "0"})
    assert refused.status_code == 422 and "give 1 to 100 failed runs in a row" in refused.text


def test_a_paused_export_shows_its_reason_and_an_admin_resumes_it(console):
    engine, app = console
    request = recurring_export(engine, account=accounts.DEFAULT_ACCOUNT)
    with engine.begin() as connection:
        connection.execute(requests.update().where(requests.c.id == request).values(
            status="paused", paused_reason="paused after 5 failed runs in a row", failure_streak=5))
    admin, viewer = _client(app, ADMIN), _client(app, VIEWER)
    log = viewer.get("/console/activity").text
    assert f'data-paused="{request}"' in log and "paused after 5 failed runs in a row" in log
    assert f"/exports/{request}/resume" not in log
    assert f'aria-label="Stop export {request}"' in admin.get("/console/activity").text   # stopping stays open
    assert _post(viewer, f"/console/exports/{request}/resume", page="/console/activity").status_code == 403
    resumed = _post(admin, f"/console/exports/{request}/resume", page="/console/activity")
    assert f"Export {request} resumed" in resumed.text and f'data-paused="{request}"' not in resumed.text
    with engine.connect() as connection:
        assert connection.execute(sa.select(requests.c.status).where(requests.c.id == request)).scalar() == "active"
