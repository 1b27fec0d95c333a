"""The REST API end to end: destinations against the local S3 server, export rules, runs made by the real
scheduler and pipeline, the activity log's filters and pages, a run's objects and its verification.
Every account, token and bucket is real (tests/support/api_deployment.py); nothing is mocked."""

import datetime as dt

import pytest

from control.scheduler import run_due
from tests.support.api_deployment import bearer, deployment, destination_body, stores  # noqa: F401 (fixtures)
from tests.support.control_deployment import BEST_DATABASE
from tests.support.stores import read_generated_events

API = "/api/v1"
UTC = dt.timezone.utc


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _post(d, tenant, path, body=None, token=None):
    return d.client.post(API + path, json=body, headers=bearer(token or tenant.admin))


def _get(d, tenant, path, token=None, **params):
    return d.client.get(API + path, params=params, headers=bearer(token or tenant.viewer))


def _error(response, status, code, field=None):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    if field:
        assert error["field"] == field, error
    return error["message"]


def test_destination_is_saved_only_after_the_connection_test_and_its_secret_never_returns(deployment):
    d, acme = deployment, deployment.tenants["default"]
    wrong = destination_body(d, acme, secret_access_key="not-the-secret")
    assert "secret access key does not match" in _error(_post(d, acme, "/destinations", wrong), 422,
                                                         "destination_refused")
    assert _get(d, acme, "/destinations").json() == []
    mark = d.server.mark()
    added = _post(d, acme, "/destinations", destination_body(d, acme))
    assert added.status_code == 201, added.text
    seen = [r for r in d.server.requests_since(mark) if r.path.lstrip("/").split("/")[0] == acme.bucket]
    assert {("list" if r.method == "GET" and "list-type=2" in r.query else r.method) for r in seen} == {"list", "PUT"}
    assert all(r.status == 200 for r in seen)   # the key may list and put, and is asked nothing else
    assert added.json()["bucket"] == acme.bucket and added.json()["prefix"] == "exports/"
    assert _error(_post(d, acme, "/destinations", destination_body(d, acme)), 409, "conflict", "name")
    listed, shown = _get(d, acme, "/destinations"), _get(d, acme, "/destinations/acme")
    assert [row["name"] for row in listed.json()] == ["acme"] and shown.json()["data_region"] == "EU"
    tested = _post(d, acme, "/destinations/acme/test")
    assert tested.status_code == 200 and tested.json()["bucket_region"] == "eu-west-1"
    for response in (added, listed, shown, tested):
        assert acme.key.secret_access_key not in response.text and acme.key.access_key_id not in response.text
        assert "sealed" not in response.text
    assert d.client.delete(f"{API}/destinations/acme", headers=bearer(acme.admin)).status_code == 204
    _error(_get(d, acme, "/destinations/acme"), 404, "not_found")


def test_an_account_with_a_data_region_takes_destinations_only_there(deployment):
    d, globex = deployment, deployment.tenants["globex"]
    body = destination_body(d, globex, data_region="US")
    assert "keeps its data in data region EU, so its destinations do too" in _error(
        _post(d, globex, "/destinations", body), 422, "invalid", "data_region")
    body.pop("data_region")   # the account's region is the default
    assert _post(d, globex, "/destinations", body).json()["data_region"] == "EU"


def test_connection_test_without_saving(deployment):
    d, acme = deployment, deployment.tenants["default"]
    passed = _post(d, acme, "/connection-tests", destination_body(d, acme))
    assert passed.status_code == 200 and passed.json()["ok"] is True
    assert acme.key.secret_access_key not in passed.text
    assert _get(d, acme, "/destinations").json() == []
    _error(_post(d, acme, "/connection-tests", destination_body(d, acme, bucket="Not_A_Bucket")), 422, "invalid",
           "bucket")
    missing = destination_body(d, acme, bucket=acme.bucket + "-gone")
    assert "list bucket" in _error(_post(d, acme, "/connection-tests", missing), 422, "destination_refused")
    for change, field in (({"endpoint_url": "ftp://x"}, "endpoint_url"), ({"bucket": acme.bucket + "/sub"}, "bucket"),
                          ({"prefix": "../up"}, "prefix"), ({"sse": "DES"}, "sse"), ({"sse_kms_key_id": "k"},
                                                                                     "sse_kms_key_id"),
                          ({"region": "moon"}, "region"), ({"name": " padded "}, "name")):
        _error(_post(d, acme, "/connection-tests", destination_body(d, acme, **change)), 422, "invalid", field)


def _now():
    return dt.datetime.now(UTC).replace(microsecond=0)


def _rule_cases():
    now = _now()
    once = {"export_type": "all_events", "format": "json", "frequency": "once",
            "window_from": _iso(now - dt.timedelta(days=2)), "window_to": _iso(now - dt.timedelta(days=1))}
    recurring = {"export_type": "all_events", "format": "json", "frequency": "recurring", "every": "6h"}
    return [
        (dict(once, window_from=_iso(now - dt.timedelta(days=61))), "window_from",
         "is more than 60 days ago; the earliest allowed is"),
        (dict(once, window_to=_iso(now + dt.timedelta(hours=1))), "window_to", "in the future"),
        (dict(once, window_to=once["window_from"]), "window_to", "is not after the start"),
        (dict(once, window_to=None), "window_to", "needs both a start and an end; give the end"),
        (dict(once, every="6h"), "every", "one-time export runs once, so it takes no interval"),
        (dict(recurring, every="3h"), "every", "The interval '3h' is not allowed"),
        (dict(recurring, every=25), "every", "every 4 to 24 hours"),
        (dict(recurring, window_from=once["window_from"]), "window_from", "takes no start or end"),
        (dict(recurring, export_type="select_events"), "events", "at least one"),
        (dict(recurring, events=["Charged"]), "events", "only for an export of selected events"),
        (dict(recurring, export_type="everything"), "export_type", "The export type 'everything' is not one of"),
        (dict(recurring, format="yaml"), "format", "The format 'yaml' is not one of"),
        (dict(recurring, frequency="sometimes"), "frequency", "The frequency 'sometimes' is not one of"),
        (dict(recurring, destination="elsewhere"), "destination", "There is no destination named 'elsewhere'"),
        (dict(recurring, window_from="last tuesday"), "window_from", "datetime"),
        (dict(recurring, events="Charged"), "events", "list"),
    ]


def test_every_export_rule_refuses_with_its_field_and_message(deployment):
    d, acme = deployment, deployment.tenants["default"]
    assert _post(d, acme, "/destinations", destination_body(d, acme)).status_code == 201
    for body, field, message in _rule_cases():
        response = _post(d, acme, "/exports", {"destination": "acme", **body})
        assert message in _error(response, 422, "invalid", field), (body, response.text)
    assert _get(d, acme, "/exports").json() == []


def test_export_create_list_show_stop(deployment):
    d, acme = deployment, deployment.tenants["default"]
    _post(d, acme, "/destinations", destination_body(d, acme))
    created = _post(d, acme, "/exports", {"destination": "acme", "export_type": "all_profiles", "format": "csv",
                                          "frequency": "recurring", "every": "24h"})
    assert created.status_code == 201, created.text
    request = created.json()
    assert request["status"] == "active" and request["every_hours"] == 24 and request["window_from"] is None
    once = {"destination": "acme", "export_type": "all_profiles", "format": "csv", "frequency": "once",
            "window_from": _iso(_now() - dt.timedelta(days=2)), "window_to": _iso(_now() - dt.timedelta(days=1))}
    assert request["id"] in _error(_post(d, acme, "/exports", once), 409, "conflict", "export_type")
    assert [r["id"] for r in _get(d, acme, "/exports").json()] == [request["id"]]
    assert _get(d, acme, f"/exports/{request['id']}").json() == request
    stopped = _post(d, acme, f"/exports/{request['id']}/stop")
    assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
    assert "already stopped" in _error(_post(d, acme, f"/exports/{request['id']}/stop"), 409, "conflict")
    assert _post(d, acme, "/exports", once).status_code == 201
    log = _get(d, acme, "/activity", request_id=request["id"]).json()
    assert log["total"] == 1 and log["items"][0]["status"] == "Stopped"


def _one_time_export(d, tenant):
    assert _post(d, tenant, "/destinations", destination_body(d, tenant)).status_code == 201
    window = {"window_from": _iso(_now() - dt.timedelta(days=2)), "window_to": _iso(_now())}
    created = _post(d, tenant, "/exports", {"destination": "acme", "export_type": "all_events", "format": "json",
                                            "frequency": "once", **window})
    assert created.status_code == 201, created.text
    return created.json()["id"]


@pytest.mark.slow
@BEST_DATABASE
def test_runs_log_and_objects_of_each_account_come_from_its_own_store(deployment):
    d = deployment
    requests = {account: _one_time_export(d, tenant) for account, tenant in d.tenants.items()}
    assert run_due(d.engine, d.settings, d.vault, log=lambda _line: None) == 2
    database_ids = {"default": "acme1", "globex": "gx1"}
    for account, tenant in d.tenants.items():
        runs = _get(d, tenant, "/runs").json()
        assert runs["total"] == 1 and [r["request_id"] for r in runs["items"]] == [requests[account]]
        run = runs["items"][0]
        assert run["status"] == "Done" and run["rows"] > 0 and run["rejected"] == 0, run
        assert _get(d, tenant, f"/runs/{run['id']}").json() == run
        objects = _get(d, tenant, f"/runs/{run['id']}/objects").json()
        assert objects and sum(o["rows"] for o in objects) == run["rows"]
        assert all(o["key"].startswith(f"exports/{requests[account]}-") and
                   o["key"].endswith(f"-{database_ids[account]}.json.gz") for o in objects)
        listed = d.server.admin_client().list_objects_v2(Bucket=tenant.bucket, Prefix="exports/")["Contents"]
        sizes = {item["Key"]: item["Size"] for item in listed}
        assert all(sizes[o["key"]] == o["bytes"] for o in objects)   # the bucket holds what the manifest says
        manifest = _get(d, tenant, f"/runs/{run['id']}/manifest").json()
        assert manifest["totals"]["rows"] == run["rows"] and manifest["request_id"] == requests[account]
        verified = _post(d, tenant, f"/runs/{run['id']}/verify", token=tenant.viewer)
        assert verified.status_code == 200 and verified.json()["ok"] and verified.json()["findings"] == []
        assert {c["check"] for c in verified.json()["checks"]} == {"size and MD5"}
        assert {c["key"] for c in verified.json()["checks"]} > {o["key"] for o in objects}   # and the manifest
        log = _get(d, tenant, "/activity", request_id=requests[account][:5]).json()
        assert log["total"] == 1 and log["items"][0]["run_id"] == run["id"] and log["items"][0]["status"] == "Done"
        counts = run["reconciliation"]   # the manifest's, kept on the run
        assert counts == dict(manifest["reconciliation"], superseded=0)
        assert counts["read"] == counts["exported"] + counts["rejected"] + counts["later"] == run["rows"]
        assert (log["items"][0]["read"], log["items"][0]["later"]) == (counts["read"], 0)
        daily = _get(d, tenant, f"/exports/{requests[account]}/daily").json()
        assert sum(day["exported"] for day in daily["days"]) == run["rows"] and daily["frequency"] == "once"


@BEST_DATABASE
def test_estimates_count_each_accounts_own_store(deployment, stores):
    d = deployment
    start, end = _now() - dt.timedelta(days=2), _now()
    body = {"export_type": "all_events", "format": "parquet", "frequency": "once", "window_from": _iso(start),
            "window_to": _iso(end)}
    for account, store in (("default", "a"), ("globex", "b")):
        tenant = d.tenants[account]
        answer = _post(d, tenant, "/estimates", body, token=tenant.viewer)   # a viewer may ask
        assert answer.status_code == 200, answer.text
        records = read_generated_events(stores[store] / "events")
        window = [r for r in records if start.timestamp() * 1000 <= r["event_time"] < end.timestamp() * 1000]
        assert answer.json()["rows"] == len(window) > 0
        assert {e["event_name"] for e in answer.json()["events"]} == {r["event_name"] for r in window}
    _error(_post(d, tenant, "/estimates", dict(body, format="yaml")), 422, "invalid", "format")


@pytest.mark.slow
def test_a_failed_run_is_retried_after_its_destination_s_key_is_rotated(deployment):
    """Issue 23: the key is revoked, the run fails; a new key that fails the connection test is not saved;
    the one that passes is, under the same export; the retried run uses it and keeps its run timestamp."""
    d, acme = deployment, deployment.tenants["default"]
    request = _one_time_export(d, acme)
    iam, user = d.server.admin_client("iam"), f"export-{acme.bucket}"
    iam.delete_access_key(UserName=user, AccessKeyId=acme.key.access_key_id)
    run_due(d.engine, d.settings, d.vault, log=lambda _line: None)
    failed = _get(d, acme, "/runs").json()["items"][0]
    assert failed["status"] == "Failed", failed
    new = iam.create_access_key(UserName=user)["AccessKey"]
    rotation = {"access_key_id": new["AccessKeyId"], "secret_access_key": new["SecretAccessKey"], "prefix": "rotated"}

    def patch(body):
        response = d.client.patch(f"{API}/destinations/acme", json=body, headers=bearer(acme.admin))
        assert new["SecretAccessKey"] not in response.text
        return response

    _error(patch({"access_key_id": new["AccessKeyId"]}), 422, "invalid", "secret_access_key")
    _error(patch({"bucket": "elsewhere"}), 422, "invalid")
    _error(patch(dict(rotation, secret_access_key="not-the-secret")), 422, "destination_refused")
    assert _get(d, acme, "/destinations/acme").json()["prefix"] == "exports/"      # refused: nothing saved
    edited = patch(rotation)
    assert edited.status_code == 200 and edited.json()["prefix"] == "rotated/", edited.text
    retried = _post(d, acme, f"/runs/{failed['id']}/retry")
    assert retried.status_code == 200 and retried.json()["status"] == "Pending", retried.text
    run_due(d.engine, d.settings, d.vault, log=lambda _line: None)
    done = _get(d, acme, f"/runs/{failed['id']}").json()
    assert (done["status"], done["attempts"], done["run_timestamp"]) == ("Done", 2, failed["run_timestamp"]), done
    objects = _get(d, acme, f"/runs/{failed['id']}/objects").json()
    assert objects and all(o["key"].startswith(f"rotated/{request}-{failed['run_timestamp']}-") for o in objects)
    refusal = d.client.delete(f"{API}/destinations/acme", headers=bearer(acme.admin))
    assert request in _error(refusal, 409, "conflict")


def test_log_filters_by_prefix_status_and_time_and_pages(deployment):
    d, acme = deployment, deployment.tenants["default"]
    once = _one_time_export(d, acme)
    recurring = [_post(d, acme, "/exports", {"destination": "acme", "export_type": "all_events", "format": "csv",
                                             "frequency": "recurring", "every": f"{hours}h"}).json()["id"]
                 for hours in (4, 6, 8)]
    _post(d, acme, f"/exports/{recurring[0]}/stop")
    everything = _get(d, acme, "/activity", limit=500).json()
    assert everything["total"] == 4 and {e["request_id"] for e in everything["items"]} == {once, *recurring}
    pages = [_get(d, acme, "/activity", limit=3, offset=offset).json() for offset in (0, 3)]
    assert [len(p["items"]) for p in pages] == [3, 1] and all(p["total"] == 4 for p in pages)
    assert [e["request_id"] for p in pages for e in p["items"]] == [e["request_id"] for e in everything["items"]]
    newest = _get(d, acme, "/activity", newest_first="true").json()["items"]
    assert [e["request_id"] for e in newest] == [e["request_id"] for e in everything["items"]][::-1]
    assert [e["request_id"] for e in _get(d, acme, "/activity", status="Stopped").json()["items"]] == recurring[:1]
    assert _get(d, acme, "/activity", status="Done").json()["total"] == 0
    assert _get(d, acme, "/activity", request_id=once).json()["total"] == 1
    assert _get(d, acme, "/activity", request_id="%").json()["total"] == 0   # a prefix, not a pattern
    early = _iso(_now() - dt.timedelta(days=3))
    assert [e["request_id"] for e in _get(d, acme, "/activity", until=early).json()["items"]] == []
    later = _get(d, acme, "/activity", since=_iso(_now() - dt.timedelta(minutes=5))).json()
    assert {e["request_id"] for e in later["items"]} == {once, *recurring}
    _error(_get(d, acme, "/activity", status="Nope"), 422, "invalid", "status")
    _error(_get(d, acme, "/activity", limit=0), 422, "invalid", "limit")
    _error(_get(d, acme, "/runs", until="9"), 422, "invalid", "until")   # a date-time, not seconds since 1970
    assert _get(d, acme, "/runs", status="Pending").json()["total"] == 0   # no window has been planned yet


@pytest.mark.parametrize("path", ["/runs/{run}/objects", "/runs/{run}/manifest"])
def test_objects_wait_for_a_done_run(deployment, path):
    from control.scheduler import plan_runs
    d, acme = deployment, deployment.tenants["default"]
    _one_time_export(d, acme)
    plan_runs(d.engine, _now())
    run = _get(d, acme, "/runs").json()["items"][0]
    assert run["status"] == "Pending"
    assert "manifest is written when it is Done" in _error(_get(d, acme, path.format(run=run["id"])), 409,
                                                           "conflict")
