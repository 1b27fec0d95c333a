"""The console in a real browser (Debian's headless Chromium driven by Playwright), as a new user meets it:
log in, add a destination against the local S3 server, create a one-time export, let the scheduler run
it, watch the log turn Done, open the run and verify it. Every page is photographed (at 1280 px and at
phone width) into the test's tmp folder; EVENTEXPORT_SCREENSHOTS=docs/screenshots copies them for the README and docs/operations.md.

Every byte the server sends to the browser is recorded, and neither the secret nor the key id is in it.
The browser logs no script error: the only console errors allowed are the 4xx answers forms get by design.
"""

import datetime as dt
import os
import re
import shutil
import threading
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from playwright import sync_api as playwright

from server.serve import serve_in_thread
from control.scheduler import run_due
from devtools.local_s3 import provision_least_privilege
from tests.support.console_deployment import ADMIN, PASSWORD, console_deployment, recent_store
from tests.support.notifications import SECRET as WEBHOOK_SECRET
from tests.support.notifications import WebhookReceiver

pytestmark = pytest.mark.slow   # Chromium driving the console

CHROMIUM = "/usr/bin/chromium"   # Debian's package; .ci/run installs it
DONE_TIMEOUT_MS = 90_000
LONG_NAME = ("checkout_completed_with_saved_payment_method_and_gift_card_redemption_"
             "from_mobile_web_spring_campaign_🚀")   # an event name with no space to wrap at
EXPECTED_ERROR = re.compile(r"Failed to load resource: the server responded with a status of 4\d\d ")


def _add_long_event_name(store):
    """A few events captured yesterday (inside the window the test exports) renamed to LONG_NAME."""
    day = store / "events" / f"captured_date={dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)}"
    table = pq.read_table(next(day.glob("*.parquet"))).slice(0, 3)
    names = pa.array([LONG_NAME] * len(table), table.schema.field("event_name").type)
    pq.write_table(table.set_column(table.schema.get_field_index("event_name"), "event_name", names),
                   day / "part-long-name.parquet")


class Recorder:
    """ASGI wrapper keeping every response body the app sends."""

    def __init__(self, app):
        self.app, self.sent = app, bytearray()

    async def __call__(self, scope, receive, send):
        async def keep(message):
            if message["type"] == "http.response.body":
                self.sent += message.get("body", b"")
            await send(message)
        await self.app(scope, receive, keep)


@pytest.fixture
def console(tmp_path, server):
    store = recent_store(tmp_path / "store")
    _add_long_event_name(store)
    (tmp_path / "deployment").mkdir()
    settings, engine, vault, app = console_deployment(tmp_path / "deployment", store)
    recorder = Recorder(app)
    http, url = serve_in_thread(recorder)
    bucket = f"browser-{uuid.uuid4().hex[:10]}"
    key = provision_least_privilege(server, bucket, region="eu-west-1")
    yield {"url": url, "settings": settings, "engine": engine, "vault": vault, "bucket": bucket, "key": key,
           "server": server, "recorder": recorder, "app": app}
    http.should_exit = True


def _draw_daily_chart(page, console, request_id, exported):
    """The export page's chart partial (_export_chart.html), rendered by the console's own templates and put
    in the page as the export page holds it, draws the export's daily numbers as an SVG (here the one-time
    export's, which has a Done run; the export page shows the chart for recurring exports only)."""
    templates = console["app"].state.console.templates
    html = templates.get_template("_export_chart.html").render(
        export={"id": request_id, "frequency": "recurring"}, prefix="/console")
    page.evaluate("""html => {
        const holder = document.createElement('div');
        holder.innerHTML = html;
        document.querySelector('main').append(holder);
        const script = document.createElement('script');
        script.src = holder.querySelector('script').getAttribute('src');
        document.body.append(script);
    }""", html)
    bar = page.locator("[data-export-chart] svg g.day").first
    bar.wait_for()
    assert int(bar.get_attribute("data-exported")) == exported and bar.get_attribute("data-rejected") == "0"
    assert page.locator("[data-export-chart] rect.bar-exported").first.bounding_box()["height"] > 0


@pytest.fixture
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()


def test_a_new_user_exports_and_verifies_in_the_browser(console, browser, tmp_path):
    shots = tmp_path / "screenshots"
    shots.mkdir()
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and not EXPECTED_ERROR.match(message.text)
            and errors.append(message.text))

    def shot(name, full_page=True):
        page.evaluate("window.scrollTo(0, 0)")   # a full-page picture keeps the sticky top bar at the top
        page.screenshot(path=str(shots / f"{name}.png"), full_page=full_page)

    page.goto(f"{console['url']}/console/")
    assert page.url.endswith("/console/login")
    assert page.evaluate("document.activeElement.id") == "email"   # focus starts in the first field
    shot("login")
    page.keyboard.type(ADMIN)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type("not the password")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("alert").inner_text() == "Wrong email or password."
    assert page.evaluate("document.activeElement.id") == "password"   # the email is kept: retype the password
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/activity")

    page.get_by_role("link", name="Exports").click()
    page.wait_for_url("**/console/settings/exports")
    key, bucket = console["key"], console["bucket"]
    page.get_by_label("Destination name").fill("warehouse")
    page.get_by_label("Bucket").fill(bucket)
    follows = "([id, text]) => document.getElementById(id).textContent.includes(text)"
    page.wait_for_function(follows, arg=["policy", f"arn:aws:s3:::{bucket}/*"])   # the policy follows the bucket
    assert '"sts:ExternalId": "eex-' in page.locator("#trust-policy").inner_text()   # a role is the default way
    page.get_by_label("An access key").check()
    assert page.locator("#trust-policy").is_hidden() and page.get_by_label("Role ARN").is_hidden()
    page.get_by_label("Access key ID").fill(key.access_key_id)
    page.get_by_label("Secret access key").fill("not-the-secret")
    page.get_by_label("Prefix").fill("events")
    page.wait_for_function(follows, arg=["policy", f"arn:aws:s3:::{bucket}/events/*"])   # and the prefix
    page.get_by_text("Endpoint and encryption").click()
    page.get_by_label("Endpoint URL").fill(console["server"].endpoint_url)
    page.get_by_label("Path-style addressing").check()
    page.get_by_role("button", name="Test connection", exact=True).click()
    page.get_by_role("alert").get_by_text("The secret access key does not match the access key id").wait_for()
    page.get_by_label("Secret access key").fill(key.secret_access_key)
    page.get_by_role("button", name="Test connection").click()
    page.get_by_text("Connection test passed").wait_for()
    assert page.get_by_label("Secret access key").input_value() == key.secret_access_key   # kept for Save
    shot("settings-test-connection")
    page.get_by_role("button", name="Save destination").click()
    page.wait_for_url("**/settings/exports?saved=warehouse")
    assert page.locator("table").first.get_by_text(f"s3://{bucket}/events/").is_visible()
    shot("settings-exports")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Activity Log").click()
    page.get_by_role("button", name="+ Create Export").click()
    dialog = page.get_by_role("dialog", name="Create Export")
    dialog.get_by_label("Export type").select_option("select_events")
    dialog.get_by_label("Search event names").fill("charg")
    assert dialog.locator("[data-event-list] li:visible").count() >= 1
    dialog.get_by_label("Charged").check()
    dialog.get_by_label("Search event names").fill("")
    dialog.get_by_label(LONG_NAME).check()
    dialog.get_by_label("App Launched").check()
    dialog.get_by_label("Format").select_option("csv")
    today = dt.datetime.now(dt.timezone.utc).date()
    dialog.get_by_label("To (UTC, included)").fill(str(today - dt.timedelta(days=1)))
    dialog.get_by_label("From (UTC)").fill(str(today - dt.timedelta(days=2)))
    estimate = dialog.locator("[data-estimate-text]")   # the estimate, before Create, from the store itself
    playwright.expect(estimate).to_have_text(re.compile(r"^About "))
    assert re.fullmatch(r"About [\d,]+ rows \(±1%\), [\d.]+ [KMG]?B compressed \(±\d+%\) in \d+ objects\.",
                        estimate.inner_text()), estimate.inner_text()
    assert dialog.locator("[data-estimate-warnings]").is_hidden()
    dialog.get_by_label("To (UTC, included)").fill(str(today - dt.timedelta(days=2)))   # LONG_NAME's day left out
    warning = dialog.locator("[data-estimate-warnings] li", has_text=LONG_NAME)
    warning.wait_for()
    assert warning.inner_text() == (f"The store has no “{LONG_NAME}” events in this window: this export would "
                                    "write none.")
    dialog.get_by_label("To (UTC, included)").fill(str(today - dt.timedelta(days=1)))
    dialog.locator("[data-estimate-warnings]").wait_for(state="hidden")
    shot("create-export", full_page=False)
    dialog.get_by_label("From (UTC)").fill(str(today - dt.timedelta(days=100)))
    dialog.get_by_role("button", name="Create Export").click()
    refusal = page.locator("#err-window_from")   # the service's refusal, beside its field, values kept
    refusal.wait_for()
    assert refusal.inner_text().startswith(f"The start {today - dt.timedelta(days=100)} (UTC) is more than 60 days ago")
    assert "--" not in refusal.inner_text() and dialog.get_by_label("Charged").is_checked()
    shot("create-export-refusal", full_page=False)
    dialog.get_by_label("From (UTC)").fill(str(today - dt.timedelta(days=2)))
    assert not refusal.is_visible()
    dialog.get_by_role("button", name="Create Export").click()
    page.wait_for_url("**/activity?created=*")
    request_id = page.url.rsplit("created=", 1)[1]
    assert page.get_by_text(request_id).first.is_visible()

    scheduler = threading.Thread(target=run_due, args=(console["engine"], console["settings"], console["vault"]),
                                 kwargs={"log": lambda line: None})
    scheduler.start()
    page.locator(".badge-done").wait_for(timeout=DONE_TIMEOUT_MS)   # the log refreshes by itself
    scheduler.join()
    page.get_by_label("Search by request ID").fill(request_id[:8])
    page.get_by_role("button", name="Search").click()
    assert page.locator("tbody tr").count() == 1

    page.get_by_role("link", name="Open").first.click()
    page.wait_for_url("**/console/runs/*")
    assert page.locator("tbody tr").count() >= 2   # objects of both events
    run_url = page.url
    page.get_by_role("button", name="Verify").click()
    page.get_by_text("Verified.").wait_for()
    counted = {name: int(page.locator(f"[data-count={name}]").inner_text().split()[0].replace(",", ""))
               for name in ("read", "exported", "rejected", "later")}
    assert counted["read"] == counted["exported"] + counted["rejected"] + counted["later"] and counted["exported"] > 0
    shot("run")
    _draw_daily_chart(page, console, request_id, counted["exported"])
    page.locator("[data-export-chart]").screenshot(path=str(shots / "export-chart.png"))

    assert page.evaluate("document.querySelector('.table-wrap table').scrollWidth <= "
                         "document.querySelector('.table-wrap').clientWidth")   # the long event name wraps

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Activity Log").click()
    page.get_by_role("button", name="+ Create Export").click()
    dialog.get_by_label("Export type").select_option("select_events")   # no event chosen
    dialog.get_by_role("button", name="Create Export").click()
    refusal = page.locator("#err-events")
    refusal.wait_for()
    assert refusal.inner_text().startswith("An export of selected events (select_events) needs at least one event")
    assert page.evaluate("document.activeElement.id") == "event-search"   # focus lands where the fix is
    dialog.get_by_label("Export type").select_option("all_events")
    dialog.get_by_label("Format").select_option("parquet")
    dialog.get_by_text("Recurring").click()
    dialog.get_by_label("Run every").select_option("6")
    dialog.get_by_role("button", name="Create Export").click()
    page.wait_for_url("**/activity?created=*")
    recurring = page.url.rsplit("created=", 1)[1]
    page.locator(".badge-pending").wait_for()
    shot("activity-log")
    page.on("dialog", lambda confirm: confirm.accept())   # "Stop export ...?", "Cancel run ...?"
    _backfill_cancel_retry(page, recurring, shot)
    new_key = _rotate_key(page, console)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Activity Log").click()
    page.get_by_role("button", name=f"Stop export {recurring}").click()
    page.get_by_text(f"Export {recurring} stopped").wait_for()
    # the backfill run, queued when the export stopped, ends Stopped too
    assert page.locator(".badge-stopped").count() == 1 and page.locator(".badge-done").count() == 1
    assert not page.get_by_role("button", name=re.compile("^Retry run")).count()   # a stopped export's: never

    fresh = browser.new_context()   # a link to a run page, opened logged out, lands there after the log-in
    visitor = fresh.new_page()
    visitor.goto(run_url)
    visitor.wait_for_url("**/console/login?next=*")
    visitor.get_by_label("Email").fill(ADMIN)
    visitor.get_by_label("Password").fill(PASSWORD)
    visitor.get_by_role("button", name="Log in").click()
    visitor.wait_for_url(run_url)
    fresh.close()

    with WebhookReceiver() as receiver:   # Settings > Notifications: a webhook, a test sent to it
        page.get_by_role("link", name="Notifications").click()
        page.get_by_label("URL").fill(receiver.url)
        page.get_by_label("Secret").fill(WEBHOOK_SECRET)
        page.get_by_role("button", name="Add webhook").click()
        page.get_by_text("Webhook added.").wait_for()
        page.get_by_role("button", name="Send a test to webhook 1").click()
        page.get_by_text("Test delivered: the webhook answered HTTP 200.").wait_for()
        assert "webhook.test" in page.locator("#deliveries").inner_text() and receiver.events() == ["webhook.test"]
        shot("settings-notifications")

    phone = browser.new_context(viewport={"width": 390, "height": 844}, storage_state=context.storage_state())
    small = phone.new_page()
    for name, path in (("activity-log-phone", "/console/activity"), ("run-phone", run_url),
                       ("settings-exports-phone", "/console/settings/exports"),
                       ("settings-notifications-phone", "/console/settings/notifications")):
        small.goto(path if path.startswith("http") else f"{console['url']}{path}")
        assert small.evaluate("document.documentElement.scrollWidth") <= 390, name   # nothing wider than a phone
        small.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    phone.close()
    context.close()

    assert errors == []
    sent = bytes(console["recorder"].sent)
    for secret in (key.secret_access_key, key.access_key_id, new_key["SecretAccessKey"], new_key["AccessKeyId"]):
        assert secret.encode() not in sent
    assert WEBHOOK_SECRET.encode() not in sent
    target = os.environ.get("EVENTEXPORT_SCREENSHOTS")
    if target:
        os.makedirs(target, exist_ok=True)
        for picture in shots.iterdir():
            shutil.copy(picture, target)


def _backfill_cancel_retry(page, request_id, shot):
    """From the log to the export's page: a Backfill refused off the window grid, then queued; its run
    cancelled, then retried."""
    page.get_by_role("link", name=request_id).first.click()
    page.wait_for_url(f"**/console/exports/{request_id}")
    page.get_by_text("Next run at").wait_for()
    page.locator("[data-export-chart]").get_by_text("No run of this export is Done yet").wait_for()   # its chart
    page.get_by_role("button", name="Backfill").click()
    dialog = page.get_by_role("dialog", name="Backfill")
    start = dialog.get_by_label("From (UTC)").input_value()   # suggested: the window before the export began
    off_grid = dt.datetime.fromisoformat(start) + dt.timedelta(hours=1)
    dialog.get_by_label("From (UTC)").fill(off_grid.strftime("%Y-%m-%dT%H:%M:%S"))
    dialog.get_by_role("button", name="Backfill").click()
    page.locator("#err-backfill").get_by_text("nearest are").wait_for()   # the dialog opens again, saying why
    dialog.get_by_label("From (UTC)").fill(start)
    dialog.get_by_role("button", name="Backfill").click()
    page.get_by_text("Backfill: 1 window(s) queued").wait_for()
    assert page.locator("tbody .pill", has_text="backfill").count() == 1
    shot("export")
    page.get_by_role("button", name=re.compile("^Cancel run")).click()
    page.get_by_text("cancelled: it ends Stopped").wait_for()
    assert page.locator("tbody .badge-stopped").count() == 1
    page.get_by_role("button", name=re.compile("^Retry run")).click()
    page.get_by_text("queued again").wait_for()
    assert page.locator("tbody .badge-pending").count() == 1


def _rotate_key(page, console):
    """Settings > Exports > Edit: a new key whose secret is wrong is refused and nothing changes; the right
    one is tested and saved. Returns the new key."""
    new = console["server"].admin_client("iam").create_access_key(UserName=f"export-{console['bucket']}")["AccessKey"]
    page.get_by_role("link", name="Exports").click()
    page.get_by_role("link", name="Edit warehouse").click()
    page.get_by_label("New access key ID").fill(new["AccessKeyId"])
    page.get_by_label("Its secret access key").fill("not-the-secret")
    page.get_by_role("button", name="Test and save").click()
    page.get_by_text("does not match").first.wait_for()
    page.get_by_label("New access key ID").fill(new["AccessKeyId"])
    page.get_by_label("Its secret access key").fill(new["SecretAccessKey"])
    page.get_by_role("button", name="Test and save").click()
    page.get_by_text("Destination 'warehouse' saved").wait_for()
    return new
