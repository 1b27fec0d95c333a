"""The control plane end to end: the `eventexport` CLI on SQLite and PostgreSQL, with the local S3 server.

PostgreSQL runs whenever EVENTEXPORT_TEST_POSTGRES_URL is set (`make test` sets it); each test gets
its own database there, as it gets its own SQLite file (tests/support/control_deployment.py). The long
scheduler tests whose subject is not the database run once, on PostgreSQL when there is one
(`BEST_DATABASE`); the quick ones and the race between two schedulers run on both.
"""

import datetime as dt
import json
import subprocess
import sys

import pytest
import sqlalchemy as sa

from tests.support.control_deployment import (BEST_DATABASE, T0, add_destination, create, deployment, ee,  # noqa: F401
                                              log, store)


def test_config_shows_effective_settings_with_secrets_redacted(deployment, tmp_path):
    config = tmp_path / "deploy.toml"
    config.write_text('database_id = "from-toml"\nrunner_options = ["--direct_num_workers=1"]\n')
    env = dict(deployment["env"], EVENTEXPORT_CONFIG=str(config), EVENTEXPORT_MASTER_KEY="s3cr3t-master")
    env.pop("EVENTEXPORT_DATABASE_ID")
    done = subprocess.run([sys.executable, "-m", "control.cli", "config"], env=env, capture_output=True, text=True)
    shown = json.loads(done.stdout)
    assert shown["database_id"] == "from-toml" and shown["runner_options"] == "--direct_num_workers=1"
    assert shown["master_key"] == "***" and "s3cr3t-master" not in done.stdout


@pytest.mark.slow
@BEST_DATABASE
def test_destination_is_saved_only_after_the_connection_test(deployment):
    done = ee(deployment, "destination", "add", "--name", "bad", "--bucket", deployment["bucket"], "--data-region",
              "EU", "--access-key-id", deployment["key"].access_key_id, "--endpoint-url",
              deployment["server"].endpoint_url, "--path-style", "--secret-access-key-stdin", stdin="wrong\n")
    assert done.returncode == 3 and "secret access key does not match" in done.stderr
    add_destination(deployment)
    listed = ee(deployment, "destination", "list").stdout
    assert "acme" in listed and "bad" not in listed
    shown = ee(deployment, "destination", "show", "acme").stdout
    assert deployment["key"].access_key_id not in shown and "sealed" not in shown
    assert ee(deployment, "destination", "test", "acme").returncode == 0
    assert ee(deployment, "destination", "remove", "acme").returncode == 0
    assert "acme" not in ee(deployment, "destination", "list").stdout


def test_secret_is_not_in_the_database_in_plain_text(deployment):
    add_destination(deployment)
    key = deployment["key"]
    if deployment["db"].startswith("sqlite"):
        raw = open(deployment["db"][len("sqlite:///"):], "rb").read()
    else:
        with sa.create_engine(deployment["db"]).connect() as connection:
            raw = json.dumps([list(map(str, r)) for r in connection.execute(sa.text("SELECT * FROM destinations"))]).encode()
    assert b"acme" in raw
    assert key.secret_access_key.encode() not in raw and key.access_key_id.encode() not in raw


@pytest.mark.slow
@BEST_DATABASE
@pytest.mark.parametrize("args, message", [
    (["--type", "all_events", "--format", "json", "--frequency", "once", "--from", "2026-09-01T00:00:00Z",
      "--to", "2026-09-02T00:00:00Z"], "The start 2026-09-01 (UTC) is more than 60 days ago; the earliest allowed is "
                                        "2026-09-21 (UTC), so start on 2026-09-21 or later"),
    (["--type", "all_events", "--format", "json", "--frequency", "once", "--from", "2026-11-19T00:00:00Z",
      "--to", "2026-11-21T00:00:00Z"], "The end 2026-11-21 (UTC) is in the future"),
    (["--type", "all_events", "--format", "json", "--frequency", "recurring", "--every", "3h"],
     "The interval '3h' is not allowed"),
    (["--type", "all_events", "--format", "json", "--frequency", "recurring", "--every", "25h"], "every 4 to 24 hours"),
    (["--type", "select_events", "--format", "json", "--frequency", "recurring", "--every", "6h"],
     "needs at least one event name"),
    (["--type", "all_events", "--format", "yaml", "--frequency", "recurring", "--every", "6h"],
     "The format 'yaml' is not one of"),
    (["--type", "all_events", "--format", "json", "--frequency", "sometimes"],
     "The frequency 'sometimes' is not one of"),
])
def test_export_rules_refuse_with_a_clear_message(deployment, args, message):
    add_destination(deployment)
    done = ee(deployment, "export", "create", "--destination", "acme", *args, "--now", T0.isoformat())
    assert done.returncode == 2
    assert message in done.stderr and done.stderr.count("\n") == 1


@pytest.mark.slow
@BEST_DATABASE
def test_one_time_profile_export_waits_for_the_recurring_one_to_stop(deployment):
    add_destination(deployment)
    recurring = create(deployment, "--type", "all_profiles", "--format", "csv", "--frequency", "recurring",
                       "--every", "24h")
    once = ["--type", "all_profiles", "--format", "csv", "--frequency", "once", "--from", "2026-11-18T00:00:00Z",
            "--to", "2026-11-19T00:00:00Z"]
    done = ee(deployment, "export", "create", "--destination", "acme", *once, "--now", T0.isoformat())
    assert done.returncode == 2 and recurring in done.stderr and "stop it first" in done.stderr
    assert ee(deployment, "export", "stop", recurring).returncode == 0
    create(deployment, *once)


def _bucket_keys(deployment):
    admin = deployment["server"].admin_client()
    pages = admin.get_paginator("list_objects_v2").paginate(Bucket=deployment["bucket"], Prefix="exports/")
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


@pytest.mark.slow
@BEST_DATABASE
def test_recurring_windows_are_contiguous_across_downtime(deployment):
    add_destination(deployment)
    request = create(deployment, "--type", "select_events", "--event", "Charged", "--event", "Search",
                     "--format", "json", "--frequency", "recurring", "--every", "24h", now=T0)
    assert [e["status"] for e in log(deployment)] == ["Pending"]
    ee(deployment, "run", "--as-of", (T0 + dt.timedelta(days=2, hours=3)).isoformat())
    ee(deployment, "run", "--as-of", (T0 + dt.timedelta(days=2, hours=9)).isoformat())   # nothing new is due
    # the scheduler is down for three days, then catches up in order
    ee(deployment, "run", "--as-of", (T0 + dt.timedelta(days=6, hours=1)).isoformat())
    entries = log(deployment, "--request-id", request)
    starts = [dt.datetime.fromisoformat(e["window_start"]) for e in entries]
    ends = [dt.datetime.fromisoformat(e["window_end"]) for e in entries]
    assert starts[0] == T0 and len(entries) == 6
    assert all(end - start == dt.timedelta(hours=24) for start, end in zip(starts, ends))
    assert starts[1:] == ends[:-1]   # no gap, no overlap
    assert all(e["status"] == "Done" and e["attempts"] == 1 for e in entries)
    assert sum(e["rows"] for e in entries) > 0
    keys = _bucket_keys(deployment)
    stamps = {end.strftime("%Y%m%d%H%M%S") for end in ends}
    manifests = [k for k in keys if k.endswith("-manifest.json")]
    assert {k.split("-")[1] for k in manifests} == stamps
    assert all(k.startswith(f"exports/{request}-") and k.split("-")[1] in stamps
               for k in keys if "connection-test" not in k)


@pytest.mark.slow
@BEST_DATABASE
def test_a_failing_run_is_retried_with_backoff_and_never_skipped(deployment, tmp_path):
    add_destination(deployment)
    request = create(deployment, "--type", "all_events", "--format", "csv", "--frequency", "recurring",
                     "--every", "12h", now=T0)
    broken = dict(deployment, env=dict(deployment["env"], EVENTEXPORT_EVENT_STORE=str(tmp_path / "missing")))
    ee(broken, "run", "--as-of", (T0 + dt.timedelta(hours=25)).isoformat())
    entries = log(deployment, "--request-id", request)
    assert [e["status"] for e in entries] == ["Failed", "Pending"]    # the second window waits for the first
    # the account is told what is wrong, never where the platform keeps its store
    assert "'the store' is not a readable folder" in entries[0]["error"] and str(tmp_path) not in entries[0]["error"]
    ee(deployment, "run", "--as-of", (T0 + dt.timedelta(hours=25, minutes=1)).isoformat())  # within backoff
    assert log(deployment, "--request-id", request)[0]["attempts"] == 1
    ee(deployment, "run", "--as-of", (T0 + dt.timedelta(hours=26)).isoformat())
    entries = log(deployment, "--request-id", request)
    assert [e["status"] for e in entries] == ["Done", "Done"]
    assert entries[0]["attempts"] == 2 and entries[0]["error"] is None
    assert log(deployment, "--status", "Failed") == []


@pytest.mark.slow
def test_two_schedulers_never_run_a_window_twice(deployment):
    add_destination(deployment)
    request = create(deployment, "--type", "all_events", "--format", "json", "--frequency", "recurring",
                     "--every", "12h", now=T0)
    as_of = (T0 + dt.timedelta(days=2, hours=1)).isoformat()
    first, second = (ee(deployment, "run", "--as-of", as_of, background=True) for _ in range(2))
    outputs = [process.communicate(timeout=600) for process in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outputs
    entries = log(deployment, "--request-id", request)
    assert len(entries) == 4 and all(e["status"] == "Done" and e["attempts"] == 1 for e in entries)
    ran = [line for out, _ in outputs for line in out.splitlines() if line.startswith("run ")]
    assert len(ran) == 4   # between them, each window exactly once


@pytest.mark.slow
@BEST_DATABASE
def test_one_time_export_runs_once_and_is_done(deployment):
    add_destination(deployment)
    request = create(deployment, "--type", "all_events", "--format", "parquet", "--frequency", "once",
                     "--from", "2026-11-18T00:00:00Z", "--to", "2026-11-19T00:00:00Z")
    reporting = dict(deployment, env=dict(deployment["env"], EVENTEXPORT_PROGRESS_SECONDS="0.05"))
    ee(reporting, "run", "--as-of", T0.isoformat())
    ee(deployment, "run", "--as-of", (T0 + dt.timedelta(days=1)).isoformat())
    entries = log(deployment, "--request-id", request)
    assert len(entries) == 1 and entries[0]["status"] == "Done" and entries[0]["rows"] > 0
    assert entries[0]["progress"].startswith("progress: ") and "rows read" in entries[0]["progress"]
    shown = json.loads(ee(deployment, "export", "show", request).stdout)
    assert shown["status"] == "done"
    text = ee(deployment, "log").stdout
    assert request in text and "Done" in text


@pytest.mark.slow
@BEST_DATABASE
def test_activity_log_carries_the_reject_count(deployment, tmp_path):
    from tests.support import reliability
    from tests.support.stores import ms, write_store
    at = ms("2026-11-18T10:00:00Z")
    records = [reliability.event(f"ok-{i}", at + i) for i in range(150)]
    records.append(reliability.event("bad", at, event_props="not json"))
    store = write_store(tmp_path / "store", {"captured_date=2026-11-18": [records]}, "jsonl")
    deployment = dict(deployment, env=dict(deployment["env"], EVENTEXPORT_EVENT_STORE=store))
    add_destination(deployment)
    request = create(deployment, "--type", "all_events", "--format", "json", "--frequency", "once",
                     "--from", "2026-11-18T00:00:00Z", "--to", "2026-11-19T00:00:00Z")
    ee(deployment, "run", "--as-of", T0.isoformat())
    (entry,) = log(deployment, "--request-id", request)
    assert (entry["status"], entry["rows"], entry["rejected"]) == ("Done", 150, 1), entry
    (manifest,) = (tmp_path / "manifests").iterdir()
    assert json.loads(manifest.read_text())["rejects"]["rows"] == 1
