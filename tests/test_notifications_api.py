"""api/routes/notifications.py: webhooks, their deliveries, notification settings and resume through the REST
API: admins manage, viewers read, other accounts' ids answer 404, and a webhook's secret is never returned."""

import datetime as dt

import sqlalchemy as sa

from control.models import requests
from tests.support.api_deployment import bearer, deployment, stores  # noqa: F401 (fixtures)
from tests.support.notifications import SECRET, WebhookReceiver

API = "/api/v1"


def test_webhooks_are_managed_by_admins_read_by_viewers_and_hidden_from_other_accounts(deployment):
    d, acme, globex = deployment, deployment.tenants["default"], deployment.tenants["globex"]
    with WebhookReceiver(script=[500]) as receiver:
        created = d.client.post(f"{API}/webhooks", headers=bearer(acme.admin),
                                json={"url": receiver.url, "secret": SECRET, "reject_threshold": 5})
        assert created.status_code == 201, created.text
        hook = created.json()
        assert hook["url"] == receiver.url and hook["reject_threshold"] == 5
        path = f"{API}/webhooks/{hook['id']}"
        # a test delivery goes at once and answers with its first attempt; the receiver fails it
        tested = d.client.post(f"{path}/test", headers=bearer(acme.admin)).json()
        assert (tested["event"], tested["status"], tested["attempts"], tested["answer"]) == (
            "webhook.test", "pending", 1, 500)
        assert d.client.post(f"{path}/test", headers=bearer(acme.admin)).json()["status"] == "delivered"
    assert [valid for *_, valid in receiver.received] == [True, True]
    listed = d.client.get(f"{path}/deliveries", headers=bearer(acme.viewer))
    assert [(x["status"], x["answer"]) for x in listed.json()] == [("delivered", 200), ("pending", 500)]
    answers = [created, listed, d.client.get(f"{API}/webhooks", headers=bearer(acme.viewer)),
               d.client.get(path, headers=bearer(acme.viewer))]
    assert all(a.status_code in (200, 201) and SECRET not in a.text for a in answers)
    for method, suffix in (("POST", "/test"), ("DELETE", "")):
        assert d.client.request(method, path + suffix, headers=bearer(acme.viewer)).status_code == 403
    assert d.client.post(f"{API}/webhooks", headers=bearer(acme.viewer),
                         json={"url": receiver.url, "secret": SECRET}).status_code == 403
    for token in (globex.admin, globex.viewer):
        for method, suffix in (("GET", ""), ("GET", "/deliveries")):
            assert d.client.request(method, path + suffix, headers=bearer(token)).status_code == 404
        assert d.client.get(f"{API}/webhooks", headers=bearer(token)).json() == []
    assert d.client.delete(path, headers=bearer(globex.admin)).status_code == 404
    assert d.client.delete(path, headers=bearer(acme.admin)).status_code == 204
    assert d.client.get(path, headers=bearer(acme.admin)).status_code == 404


def test_a_bad_webhook_answers_422_naming_the_field_without_echoing_the_secret(deployment):
    d, acme = deployment, deployment.tenants["default"]
    for body, field in (({"url": "ftp://x.example/", "secret": SECRET}, "url"),
                        ({"url": "https://x.example/", "secret": "short-secret"}, "secret")):
        answer = d.client.post(f"{API}/webhooks", headers=bearer(acme.admin), json=body)
        assert answer.status_code == 422 and answer.json()["error"]["field"] == field
        assert body["secret"] not in answer.text


def test_notification_settings_and_resume(deployment):
    d, acme, globex = deployment, deployment.tenants["default"], deployment.tenants["globex"]
    settings = {"email_to": ["ops@acme.example"], "pause_after": 3}
    assert d.client.put(f"{API}/notification-settings", headers=bearer(acme.viewer), json=settings).status_code == 403
    assert d.client.put(f"{API}/notification-settings", headers=bearer(acme.admin), json=settings).json() == settings
    assert d.client.get(f"{API}/notification-settings", headers=bearer(acme.viewer)).json() == settings
    assert d.client.get(f"{API}/notification-settings", headers=bearer(globex.admin)).json() == {
        "email_to": None, "pause_after": None}
    d.client.post(f"{API}/destinations", headers=bearer(acme.admin), json={
        "name": "acme", "bucket": acme.bucket, "data_region": "EU", "access_key_id": acme.key.access_key_id,
        "secret_access_key": acme.key.secret_access_key, "endpoint_url": d.server.endpoint_url, "path_style": True})
    request = d.client.post(f"{API}/exports", headers=bearer(acme.admin), json={
        "destination": "acme", "export_type": "all_events", "format": "json", "frequency": "recurring",
        "every": "6h"}).json()["id"]
    resume = f"{API}/exports/{request}/resume"
    assert d.client.post(resume, headers=bearer(acme.admin)).status_code == 409   # not paused
    with d.engine.begin() as connection:   # as auto-pause leaves it (tests/test_auto_pause.py)
        connection.execute(requests.update().where(requests.c.id == request).values(
            status="paused", paused_reason="paused after 3 failed runs in a row", failure_streak=3,
            paused_at=dt.datetime(2026, 12, 1)))
    shown = d.client.get(f"{API}/exports/{request}", headers=bearer(acme.viewer)).json()
    assert (shown["status"], shown["paused_reason"], shown["failure_streak"]) == (
        "paused", "paused after 3 failed runs in a row", 3)
    assert d.client.post(resume, headers=bearer(acme.viewer)).status_code == 403
    assert d.client.post(resume, headers=bearer(globex.admin)).status_code == 404
    resumed = d.client.post(resume, headers=bearer(acme.admin)).json()
    assert (resumed["status"], resumed["paused_reason"], resumed["failure_streak"]) == ("active", None, 0)
    with d.engine.connect() as connection:
        assert connection.execute(sa.select(requests.c.status).where(requests.c.id == request)).scalar() == "active"
