"""Prometheus metrics, read as Prometheus reads them (prometheus_client's own text parser): the API's
/metrics from the database's state, and a real `eventexport scheduler`'s metrics port scraped while its
run goes and after it is Done, with its JSON log read line by line."""

import datetime as dt
import json
import re
import signal
import urllib.error
import urllib.request

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from server.app import create_app
from control.models import requests, runs
from control.settings import load_settings
from tests.support.control_deployment import deployment, ee, store  # noqa: F401 (fixtures)
from tests.support.scheduler_runs import BEST_DATABASE, DEADLINE_SECONDS, due_window, wait_for

# every label our metrics may take: a bounded set of values each (no request or run ids)
LABELS = {"account", "status", "outcome", "kind", "result", "le"}   # le: a histogram bucket's bound
NOW = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)


def _samples(text):
    """{(name, sorted labels): value} of every sample of ours in a scrape."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("eventexport_"):
                assert set(sample.labels) <= LABELS, sample
                found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


def _value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def _request(engine, number, frequency, created, **columns):
    with engine.begin() as connection:
        connection.execute(requests.insert().values(
            id=f"{number:032x}", account_id="default", destination="acme", export_type="all_events", events=[],
            format="json", frequency=frequency, status="active", created_at=created, **columns))
    return f"{number:032x}"


def test_the_api_shows_runs_by_status_and_the_oldest_due_window(tmp_path):
    settings = load_settings({"EVENTEXPORT_HOME": str(tmp_path), "EVENTEXPORT_DATABASE_ID": "eu1"})
    client = TestClient(create_app(settings))
    engine = client.app.state.context.engine
    with engine.begin() as connection:   # a destination row is all the requests need of it
        connection.execute(sa.text(
            "INSERT INTO destinations (account_id, name, bucket, prefix, data_region, path_style, sse, "
            "access_key_id_sealed, secret_sealed, created_at) VALUES ('default', 'acme', 'b', '', 'EU', false, "
            "'none', 'x', 'x', :now)"), {"now": NOW})
    assert _value(_samples(client.get("/metrics").text), "eventexport_oldest_due_window_age_seconds",
                  account="default") == 0
    # a recurring request whose first window ended 2 h ago, planned by no scheduler yet
    _request(engine, 1, "recurring", NOW - dt.timedelta(hours=6), every_hours=4)
    # a one-time request whose run failed; its window ended 5 h ago
    failed = _request(engine, 2, "once", NOW - dt.timedelta(days=1), window_from=NOW - dt.timedelta(hours=9),
                      window_to=NOW - dt.timedelta(hours=5))
    with engine.begin() as connection:
        connection.execute(runs.insert().values(
            request_id=failed, account_id="default", window_start=NOW - dt.timedelta(hours=9),
            window_end=NOW - dt.timedelta(hours=5), time_basis="event", run_timestamp="20261120000000",
            status="Failed", attempts=1))
    answer = client.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    samples = _samples(answer.text)
    assert _value(samples, "eventexport_runs", account="default", status="Failed") == 1
    assert _value(samples, "eventexport_runs", account="default", status="Done") == 0
    assert 5 * 3600 <= _value(samples, "eventexport_oldest_due_window_age_seconds", account="default") < 6 * 3600
    assert "\nprocess_resident_memory_bytes " in answer.text   # the process's own metrics too
    assert client.get("/healthz").json() == {"status": "up"}
    assert client.get("/readyz").json()["schema"].startswith("current")


def _scrape(port, path="/metrics"):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as answer:   # nosec B310  # local
        return answer.read().decode()


@BEST_DATABASE
@pytest.mark.slow
def test_the_scheduler_s_port_is_scraped_during_and_after_a_run_and_its_json_log_parses(deployment, tmp_path):
    live, request, *_ = due_window(deployment, tmp_path, "scraped")
    live["env"].update(EVENTEXPORT_LEASE_SECONDS="1.5", EVENTEXPORT_LOG_FORMAT="json")   # a heartbeat each 0.5 s
    scheduler = ee(live, "scheduler", "--interval", "0.5", "--metrics-port", "0", background=True)
    try:
        first = []
        while not first or not first[-1].startswith("metrics, /healthz and /readyz at "):
            first.append(json.loads(scheduler.stdout.readline())["message"])
        port = int(re.search(r":(\d+)/$", first[-1]).group(1))

        wait_for(live, request, lambda r: (r["last_progress"] or "").startswith("progress: "))
        during = _samples(_scrape(port))
        assert _value(during, "eventexport_runs", account="default", status="Running") == 1
        assert _value(during, "eventexport_oldest_due_window_age_seconds", account="default") >= 3600
        assert wait_for(live, request, lambda r: r["status"] in ("Done", "Failed"))["status"] == "Done"
        with sa.create_engine(live["db"]).connect() as connection:
            done = connection.execute(sa.select(runs).where(runs.c.request_id == request)).one()._mapping
        after = _samples(_scrape(port))
        assert json.loads(_scrape(port, "/readyz"))["schema"].startswith("current")
        scheduler.send_signal(signal.SIGTERM)
        out, err = scheduler.communicate(timeout=DEADLINE_SECONDS)
        assert scheduler.returncode == 0, err
    finally:
        if scheduler.poll() is None:
            scheduler.kill()

    assert _value(after, "eventexport_runs", account="default", status="Done") == 1
    assert _value(after, "eventexport_oldest_due_window_age_seconds", account="default") == 0
    assert _value(after, "eventexport_runs_finished_total", account="default", outcome="Done") == 1
    assert _value(after, "eventexport_run_duration_seconds_count", account="default", outcome="Done") == 1
    for name in ("rows", "bytes", "objects"):
        assert _value(after, f"eventexport_exported_{name}_total", account="default") == done[name] > 0
    assert _value(after, "eventexport_rejected_rows_total", account="default") == 0
    assert _value(after, "eventexport_scheduler_heartbeats_total") >= 1
    assert _value(after, "eventexport_scheduler_passes_total", result="ok") >= 1

    lines = [json.loads(line) for line in out.splitlines()]   # every line is one JSON object
    assert [line["message"] for line in lines][-1] == "scheduler stopped"
    assert all({"time", "level", "logger", "message", "account", "request_id", "run_id"} <= set(line)
               for line in lines), lines
    outcome = [line for line in lines if line["run_id"] is not None]
    assert len(outcome) == 1 and outcome[0]["message"].startswith(f"run {request} ")
    assert (outcome[0]["account"], outcome[0]["request_id"], outcome[0]["level"]) == ("default", request, "INFO")


def test_the_scheduler_s_port_answers_404_elsewhere_and_503_when_not_ready(tmp_path):
    from control.models import connect
    from control.ops import health
    engine = connect(f"sqlite:///{tmp_path}/control.db")
    server = health.serve_in_thread(engine, 0)
    try:
        with pytest.raises(urllib.error.HTTPError, match="404"):
            _scrape(server.server_port, "/")
        assert json.loads(_scrape(server.server_port, "/healthz")) == {"status": "up"}
        with engine.begin() as connection:
            connection.exec_driver_sql("DELETE FROM alembic_version")
        with pytest.raises(urllib.error.HTTPError) as refused:
            _scrape(server.server_port, "/readyz")
        assert refused.value.code == 503 and "eventexport db upgrade" in json.loads(refused.value.read())["schema"]
    finally:
        server.shutdown()


def test_a_done_run_counts_its_totals_and_only_known_retry_kinds(tmp_path):
    from control.models import connect
    from control.ops import metrics
    found = metrics.registry(connect(f"sqlite:///{tmp_path}/control.db"))
    run = {"id": 1, "account_id": "counted"}
    metrics.run_claimed(run, took_over=True)
    metrics.run_ended(run, "Done", {"objects": 2, "rows": 30, "bytes": 400, "rejected": 1,
                                    "s3_retries": {"throttled": 3, "a-request-id": 5}})
    samples = _samples(metrics.exposition(found).decode())
    assert _value(samples, "eventexport_s3_retries_total", account="counted", kind="throttled") == 3
    assert not [key for key in samples if dict(key[1]).get("kind") == "a-request-id"]
    assert _value(samples, "eventexport_lease_takeovers_total", account="counted") == 1
    assert _value(samples, "eventexport_exported_rows_total", account="counted") == 30
    assert _value(samples, "eventexport_rejected_rows_total", account="counted") == 1
