"""The web console's pages over HTTP (no browser): refusals beside their fields, account isolation, viewers,
destinations, the log's paging, an export's page, and that no secret ever reaches a page. Log-in and
sessions: tests/test_console_sessions.py."""

import datetime as dt
import html
import json
import re
import urllib.parse

import pytest
import sqlalchemy as sa

from console.log_pages import PAGE_SIZE
from control import accounts, destinations, exports
from control.models import requests, runs
from control.scheduler import plan_runs
from tests.support.console_deployment import (ADMIN, OUTSIDER, VIEWER, csrf_of, deployment, logged_in,  # noqa: F401
                                              post_form, store, with_destination)
from transforms.sinks.preflight import MARKER_NAME


@pytest.mark.parametrize("form, field, words", [
    ({"frequency": "once", "window_from": "2020-01-01", "window_to": "2020-01-02"}, "window_from",
     "The start 2020-01-01 (UTC) is more than 60 days ago"),
    ({"frequency": "once", "window_from": "someday", "window_to": "2020-01-02"}, "window_from",
     "'someday' is not a date; give it as YYYY-MM-DD"),
    ({"frequency": "once", "window_from": "2026-01-02", "window_to": "2026-01-01"}, "window_to",
     "The end date 2026-01-01 is before the start date 2026-01-02"),
    ({"frequency": "recurring", "every": "3"}, "every", "The interval '3' is not allowed"),
    ({"frequency": "recurring", "every": "6", "export_type": "select_events"}, "events", "at least one"),
    ({"frequency": "recurring", "every": "6", "format": "yaml"}, "format", "The format 'yaml' is not one of"),
    ({"frequency": "recurring", "every": "6", "destination": "nowhere"}, "destination",
     "There is no destination named 'nowhere'"),
])
def test_create_export_shows_each_refusal_beside_its_field(deployment, form, field, words):
    before = len(exports.list_exports(deployment["engine"]))
    client = logged_in(deployment)
    data = {"destination": "acme", "export_type": "all_events", "format": "json", **form}
    answer = post_form(client, "/console/exports", "/console/activity", data)
    assert answer.status_code == 422
    error = re.search(rf'<p class="field-error" id="err-{field}">([^<]*)</p>', answer.text)
    assert error and words in error.group(1).replace("&#39;", "'"), answer.text[:3000]
    assert 'data-open-on-load="1"' in answer.text   # the dialog opens again, values kept
    assert len(exports.list_exports(deployment["engine"])) == before


def test_create_a_one_time_export_and_stop_a_recurring_one(deployment):
    client = logged_in(deployment)
    today = dt.datetime.now(dt.timezone.utc).date()
    created = post_form(client, "/console/exports", "/console/activity", {
        "destination": "acme", "export_type": "select_events", "events": ["Charged", "Items, Bought"],
        "format": "csv", "frequency": "once", "window_from": str(today - dt.timedelta(days=2)),
        "window_to": str(today - dt.timedelta(days=1))})
    assert created.status_code == 303
    request_id = created.headers["location"].split("created=")[1]
    saved = exports.get_export(deployment["engine"], request_id)
    assert saved["events"] == ["Charged", "Items, Bought"] and saved["format"] == "csv"
    assert saved["window_from"] == dt.datetime.combine(today - dt.timedelta(days=2), dt.time())
    assert saved["window_to"] == dt.datetime.combine(today, dt.time())
    recurring = post_form(client, "/console/exports", "/console/activity", {
        "destination": "acme", "export_type": "all_events", "format": "json", "frequency": "recurring",
        "every": "6"}).headers["location"].split("created=")[1]
    page = client.get("/console/activity").text
    assert request_id in page and recurring in page and 'data-live="1"' in page   # refreshes while Pending
    assert f"/console/exports/{recurring}/stop" in page and f"/console/exports/{request_id}/stop" in page
    assert client.get(f"/console/activity?q={recurring[:6]}").text.count('class="badge badge-') == 1
    stopped = post_form(client, f"/console/exports/{recurring}/stop", "/console/activity", {})
    assert stopped.status_code == 303 and stopped.headers["location"] == "/console/activity"   # a reload posts nothing
    after = client.get(stopped.headers["location"]).text
    assert f"Export {recurring} stopped" in after
    assert f"Export {recurring} stopped" not in client.get("/console/activity").text   # told once
    assert exports.get_export(deployment["engine"], recurring)["status"] == "stopped"
    again = post_form(client, f"/console/exports/{recurring}/stop", "/console/activity", {})
    assert again.status_code == 409 and "already stopped" in again.text


def test_the_event_picker_lists_the_stores_event_names(deployment):
    page = logged_in(deployment).get("/console/activity").text
    names = re.findall(r'<input type="checkbox" name="events" value="([^"]*)"', page)
    assert {"Charged", "App Launched"} <= set(names) and names == sorted(names)


def test_accounts_see_only_their_own(deployment):
    engine = deployment["engine"]
    mine = exports.create_export(engine, destination="acme", export_type="all_events", format="json",
                                 frequency="recurring", every="6h")
    with engine.begin() as connection:
        run_id = connection.execute(runs.insert().values(
            request_id=mine, account_id="default", window_start=dt.datetime(2026, 11, 1),
            window_end=dt.datetime(2026, 11, 1, 6), time_basis="capture", run_timestamp="20261101060000",
            status="Pending", attempts=0)).inserted_primary_key[0]
    outsider = logged_in(deployment, OUTSIDER)
    assert mine not in outsider.get("/console/activity").text
    assert "acme" not in outsider.get("/console/settings/exports").text
    assert outsider.get(f"/console/runs/{run_id}").status_code == 404
    assert post_form(outsider, f"/console/exports/{mine}/stop", "/console/activity", {}).status_code == 404
    assert exports.get_export(engine, mine)["status"] == "active"
    assert logged_in(deployment).get(f"/console/runs/{run_id}").status_code == 200


def test_a_viewer_reads_but_cannot_change_anything(deployment):
    mine = exports.create_export(deployment["engine"], destination="acme", export_type="all_events",
                                 format="json", frequency="recurring", every="6h")
    viewer = logged_in(deployment, VIEWER)
    page = viewer.get("/console/activity").text
    assert mine in page and "+ Create Export" not in page and "/stop" not in page
    assert "Add AWS S3" not in viewer.get("/console/settings/exports").text
    before = len(exports.list_exports(deployment["engine"]))
    refused = post_form(viewer, "/console/exports", "/console/activity", {
        "destination": "acme", "export_type": "all_events", "format": "json", "frequency": "recurring",
        "every": "6"})
    assert refused.status_code == 403 and "is a viewer and may only read" in refused.text
    assert len(exports.list_exports(deployment["engine"])) == before
    settings = viewer.get("/console/settings/exports").text
    assert "/console/settings/exports/acme/test" not in settings and "/remove" not in settings
    assert "Set password" not in viewer.get("/console/settings/users").text
    writes = [f"/console/exports/{mine}/stop", "/console/settings/exports", "/console/settings/exports/acme/test",
              "/console/settings/exports/acme/remove", f"/console/settings/users/{ADMIN}/role",
              f"/console/settings/users/{ADMIN}/password", f"/console/settings/users/{ADMIN}/remove"]
    bucket, admin_s3 = deployment["bucket"], deployment["server"].admin_client()
    admin_s3.delete_object(Bucket=bucket, Key=f"exports/{MARKER_NAME}")   # the one adding acme put
    for path in writes:
        refused = post_form(viewer, path, "/console/activity", {"role": "viewer", "password": "a new long passphrase",
                                                           "action": "test", "name": "x"})
        assert refused.status_code == 403 and "is a viewer and may only read" in refused.text, path
    assert "Contents" not in admin_s3.list_objects_v2(Bucket=bucket, Prefix="exports/")   # no test object put
    assert exports.get_export(deployment["engine"], mine)["status"] == "active"
    assert "acme" in {d["name"] for d in destinations.list_destinations(deployment["engine"])}
    assert accounts.get_user(deployment["engine"], ADMIN)["role"] == "admin"


def test_what_to_paste_into_aws_follows_the_form_and_names_the_accounts_external_id(deployment):
    client = logged_in(deployment)
    external_id = accounts.get_account(deployment["engine"], "default")["external_id"]
    page = html.unescape(client.get("/console/settings/exports").text)
    assert f'"sts:ExternalId": "{external_id}"' in page
    kms = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    typed = {"bucket": "acme-exports", "prefix": "/events/", "sse": "aws:kms", "sse_kms_key_id": kms}
    texts = client.get("/console/settings/exports/role-setup", params=typed).json()
    permission = json.loads(texts["permission_policy"])["Statement"]
    assert [s["Resource"] for s in permission] == [
        ["arn:aws:s3:::acme-exports"], ["arn:aws:s3:::acme-exports/events/*"], [kms]]
    assert json.loads(texts["trust_policy"])["Statement"][0]["Condition"] == {
        "StringEquals": {"sts:ExternalId": external_id}}
    template = client.get("/console/settings/exports/role-setup", params=dict(typed, download="1"))
    assert "attachment" in template.headers["content-disposition"]
    role = template.json()["Resources"]["EventExportRole"]["Properties"]
    assert role["Policies"][0]["PolicyDocument"]["Statement"] == permission
    assert role["AssumeRolePolicyDocument"] == json.loads(texts["trust_policy"])
    without_kms = client.get("/console/settings/exports/role-setup", params=dict(typed, sse="AES256")).json()
    assert "kms:" not in without_kms["permission_policy"]


def test_destination_form_tests_saves_and_never_sends_a_secret_back(deployment):
    client = logged_in(deployment)
    key = deployment["key"]
    form = {"name": "warehouse", "bucket": deployment["bucket"], "data_region": "EU",
            "access_key_id": key.access_key_id, "secret_access_key": key.secret_access_key, "prefix": "raw",
            "endpoint_url": deployment["server"].endpoint_url, "path_style": "on", "sse": "none"}
    page = client.get("/console/settings/exports").text
    assert "arn:aws:s3:::YOUR-BUCKET-NAME/*" in page and "Asia Pacific (Mumbai) ap-south-1" in page
    answers = []
    tested = post_form(client, "/console/settings/exports", "/console/settings/exports", dict(form, action="test"))
    assert tested.status_code == 303
    tested = client.get(tested.headers["location"])   # the outcome and the form's values, on the next page
    answers.append(tested)
    assert tested.status_code == 200 and "Connection test passed" in tested.text
    assert f"arn:aws:s3:::{deployment['bucket']}/raw/*" in tested.text   # the policy names the bucket and prefix
    as_json = client.post("/console/settings/exports", headers={"Accept": "application/json"}, data=dict(
        form, action="test", secret_access_key="wrong-secret", csrf_token=csrf_of(page)))
    answers.append(as_json)
    assert as_json.status_code == 422 and "secret access key does not match" in as_json.json()["message"]
    bad_bucket = post_form(client, "/console/settings/exports", "/console/settings/exports",
                       dict(form, action="save", bucket="Not_A_Bucket"))
    answers.append(bad_bucket)
    assert bad_bucket.status_code == 422
    assert re.search(r'data-error-for="bucket"\s*>\s*The bucket &#39;Not_A_Bucket&#39; is not a valid S3 bucket name',
                     bad_bucket.text)
    saved = post_form(client, "/console/settings/exports", "/console/settings/exports", dict(form, action="save"))
    assert saved.status_code == 303
    answers += [client.get(saved.headers["location"]), client.get("/console/activity")]
    tested_saved = post_form(client, "/console/settings/exports/warehouse/test", "/console/settings/exports", {})
    assert tested_saved.status_code == 303
    answers.append(client.get(tested_saved.headers["location"]))
    assert "warehouse: connection test passed" in answers[-1].text
    for answer in answers:
        assert key.secret_access_key not in answer.text and key.access_key_id not in answer.text
        assert "wrong-secret" not in answer.text


@pytest.mark.slow
def test_the_log_pages_ten_thousand_runs(tmp_path, store, server):
    deployment = with_destination(tmp_path, store, server)
    engine = deployment["engine"]
    request_id = exports.create_export(engine, destination="acme", export_type="all_events", format="json",
                                       frequency="recurring", every="4h")
    start = dt.datetime(2025, 1, 1)
    with engine.begin() as connection:
        connection.execute(runs.insert(), [
            {"request_id": request_id, "account_id": "default", "window_start": start + dt.timedelta(hours=4 * i),
             "window_end": start + dt.timedelta(hours=4 * i + 4), "time_basis": "capture",
             "run_timestamp": (start + dt.timedelta(hours=4 * i + 4)).strftime("%Y%m%d%H%M%S"),
             "status": "Done", "attempts": 1, "objects": 3, "rows": 1000 + i, "bytes": 50_000}
            for i in range(10_000)])
        assert connection.execute(sa.select(sa.func.count()).select_from(runs)).scalar() == 10_000
        assert connection.execute(sa.select(requests.c.id)).scalar() == request_id
    client = logged_in(deployment)
    first = client.get("/console/activity").text
    assert "10,000 entries" in first and f"Page 1 of {10_000 // PAGE_SIZE}" in first
    assert first.count('class="badge badge-done"') == PAGE_SIZE
    assert "10,999" in first   # newest window first
    last = client.get(f"/console/activity?page={10_000 // PAGE_SIZE}").text
    assert "1,000" in last and "Older" not in last and first.count("data-live=\"0\"") == 1


def test_the_log_shows_progress_of_a_running_run_and_the_error_of_a_failed_one(deployment):
    engine = deployment["engine"]
    request_id = exports.create_export(engine, destination="acme", export_type="all_events", format="json",
                                       frequency="recurring", every="4h")
    failure = "the key may not put objects in bucket 'x': grant s3:PutObject on arn:aws:s3:::x/*"
    with engine.begin() as connection:
        failed = connection.execute(runs.insert().values(
            request_id=request_id, account_id="default", window_start=dt.datetime(2026, 10, 1),
            window_end=dt.datetime(2026, 10, 1, 4), time_basis="capture", run_timestamp="20261001040000",
            status="Failed", attempts=2, error=failure,
            next_attempt_at=dt.datetime(2026, 10, 1, 5))).inserted_primary_key[0]
        connection.execute(runs.insert().values(
            request_id=request_id, account_id="default", window_start=dt.datetime(2026, 10, 1, 4),
            window_end=dt.datetime(2026, 10, 1, 8), time_basis="capture", run_timestamp="20261001080000",
            status="Running", attempts=1, last_progress="progress: read 12,345 rows, wrote 12,000 rows"))
    client = logged_in(deployment)
    log = client.get(f"/console/activity?q={request_id}").text
    assert 'data-live="1"' in log and "read 12,345 rows, wrote 12,000 rows" in log
    assert "grant s3:PutObject on arn:aws:s3:::x/*" in log and "attempt 2" in log
    assert client.get(f"/console/activity?q={request_id}&status=Failed").text.count('class="badge badge-') == 1
    run_page = client.get(f"/console/runs/{failed}").text
    assert "grant s3:PutObject" in run_page and "Next automatic retry" in run_page and ">Verify<" not in run_page


def test_every_console_refusal_carries_its_status(deployment):
    client = logged_in(deployment)
    assert client.get("/console/runs/999999").status_code == 404
    assert client.get("/console/runs/999999/manifest.json").status_code == 404
    assert post_form(client, "/console/runs/999999/verify", "/console/activity", {}).status_code == 404
    assert post_form(client, "/console/exports/nope/stop", "/console/activity", {}).status_code == 404
    assert post_form(client, "/console/settings/exports/nope/remove", "/console/settings/exports", {}).status_code == 404
    unknown = client.get("/console/nothing/here")
    assert unknown.status_code == 404 and "No such page" in unknown.text and "Log out" in unknown.text


def test_an_export_over_the_limits_is_refused_naming_them(deployment):
    client = logged_in(deployment)
    token = csrf_of(client.get("/console/activity").text)
    base = [("csrf_token", token), ("destination", "acme"), ("export_type", "select_events"), ("format", "json"),
            ("frequency", "recurring"), ("every", "6")]
    for events, message in (([f"event {i}" for i in range(10_000)], "at most 1,000 event names, not 10,000"),
                            (["x" * 600_000], "is 600,000 bytes long; an event name may be at most 512 bytes")):
        body = urllib.parse.urlencode(base + [("events", name) for name in events])
        refused = client.post("/console/exports", content=body, follow_redirects=False,
                              headers={"content-type": "application/x-www-form-urlencoded"})
        assert refused.status_code == 422 and message in refused.text


def test_an_export_s_page_cancels_retries_and_backfills_its_runs(deployment):
    engine, now = deployment["engine"], dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    request_id = exports.create_export(engine, destination="acme", export_type="all_events", format="json",
                                       frequency="recurring", every="12h", now=now - dt.timedelta(hours=13))
    plan_runs(engine, now)
    run = run_rows(engine, request_id)[0]
    client, page = logged_in(deployment), f"/console/exports/{request_id}"
    shown = client.get(page).text
    assert "Next run at" in shown and f'data-copy-text="{request_id}"' in shown and ">Backfill<" in shown
    assert f'href="/console/exports/{request_id}"' in client.get("/console/activity").text   # ids link to it
    cancelled = post_form(client, f"/console/runs/{run['id']}/cancel", page, {"back": f"/exports/{request_id}"})
    assert cancelled.headers["location"] == page
    assert (run_rows(engine, request_id)[0]["status"], run_rows(engine, request_id)[0]["stopped_by"]) == \
           ("Stopped", ADMIN)
    assert post_form(client, f"/console/runs/{run['id']}/retry", page, {"back": "//evil.example"}).headers[
        "location"] == f"/console/runs/{run['id']}"   # only ever back to a page of this console
    assert run_rows(engine, request_id)[0]["status"] == "Pending"
    first = exports.get_export(engine, request_id)["created_at"]
    local = "%Y-%m-%dT%H:%M:%S"   # a datetime-local input's value
    off = post_form(client, f"{page}/backfill", page, {"from": (first - dt.timedelta(hours=23)).strftime(local),
                                                   "to": first.strftime(local)})
    assert off.status_code == 422 and "nearest are" in off.text
    made = post_form(client, f"{page}/backfill", page, {"from": (first - dt.timedelta(hours=24)).strftime(local),
                                                    "to": first.strftime(local)})
    assert made.status_code == 303 and "2 window(s) queued" in client.get(made.headers["location"]).text
    assert [r["backfill"] for r in run_rows(engine, request_id)][:2] == [True, True]
    viewer = logged_in(deployment, VIEWER)
    assert "/cancel" not in viewer.get(page).text
    assert post_form(viewer, f"/console/runs/{run['id']}/cancel", page, {}).status_code == 403
    assert logged_in(deployment, OUTSIDER).get(page).status_code == 404


def run_rows(engine, request_id):
    with engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(
            sa.select(runs).where(runs.c.request_id == request_id).order_by(runs.c.window_start))]
