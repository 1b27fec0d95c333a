"""Schedulers that die and databases that restart: a window still runs to Done exactly once.

Real `eventexport scheduler` processes on the wall clock (a request created an hour and a bit ago has
one window due), the real local S3 server, and for the restart the real PostgreSQL server, restarted
with `pg_ctlcluster`. What the bucket holds is read back with the independent readers and every input
record accounted for (tests/support/reliability.py).
"""

import datetime as dt
import glob
import os
import shutil
import signal
import subprocess
import time

import pytest
import sqlalchemy as sa

from pipelines.export import run as export
from tests.support import reliability
from tests.support.control_deployment import (POSTGRES, add_destination, create, deployment, ee,  # noqa: F401
                                              store)
from tests.support.stores import layout_by_time, write_store
from transforms.sources.watermark import write_watermark

pytestmark = pytest.mark.slow   # schedulers killed, leases lapsing, a PostgreSQL restart

BEST_DATABASE = pytest.mark.parametrize("deployment", ["postgresql" if POSTGRES else "sqlite"], indirect=True)
EVERY = dt.timedelta(hours=4)
DEADLINE_SECONDS = 300   # only a hung test waits this long; nothing here measures time


def _ms(moment):
    return int(moment.timestamp() * 1000)


def _due_window(deployment, tmp_path, name, rows=600):
    """A store holding `rows` records captured in the window that ended an hour ago, marked complete,
    and a recurring request whose first window that is. Returns (deployment with that store, request,
    window start, window end, the records)."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    start, end = now - EVERY - dt.timedelta(hours=1), now - dt.timedelta(hours=1)
    step = (_ms(end) - _ms(start) - 120_000) // rows
    records = [reliability.event(f"{name}-{n}", _ms(start) + 60_000 + n * step) for n in range(rows)]
    root = tmp_path / name / "events"
    write_store(root, layout_by_time(records), "parquet")
    write_watermark(str(root), _ms(now))
    live = dict(deployment, env=dict(deployment["env"], EVENTEXPORT_EVENT_STORE=str(root),
                                     EVENTEXPORT_PROGRESS_SECONDS="0.1", PYTHONUNBUFFERED="1"))
    add_destination(live)
    request = create(live, "--type", "all_events", "--format", "json", "--frequency", "recurring",
                     "--every", "4h", now=start)
    return live, request, start, end, records


def _run_row(live, request):
    with sa.create_engine(live["db"]).connect() as connection:
        rows = [dict(r._mapping) for r in connection.execute(sa.text(
            "SELECT status, attempts, claimed_by, last_progress, run_timestamp, window_start, window_end "
            "FROM runs WHERE request_id = :request"), {"request": request})]
    return rows[0] if rows else None


def _wait_for(live, request, test):
    """Poll the run's row until `test(row)` holds (a row that never gets there fails at the deadline)."""
    give_up = time.monotonic() + DEADLINE_SECONDS
    while True:
        row = _run_row(live, request)
        if row and test(row):
            return row
        assert time.monotonic() < give_up, f"the run never got there; last seen {row}"
        time.sleep(0.1)


def _children(pid):
    paths = glob.glob(f"/proc/{pid}/task/*/children")
    return [int(child) for path in paths for child in open(path).read().split()]


def _gone(pid):
    """True once `pid` has exited (a zombie waiting for init to reap it counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _stop(process):
    process.send_signal(signal.SIGTERM)
    return process.communicate(timeout=60)


def _request_files(live, request):
    files = reliability.bucket_files(live["server"], live["bucket"], "exports/")
    return {key: data for key, data in files.items() if key.startswith(f"{request}-")}


@BEST_DATABASE
@pytest.mark.reliability
def test_a_killed_scheduler_s_run_is_taken_over_after_the_lease_and_done_once(deployment, tmp_path):
    live, request, start, end, records = _due_window(deployment, tmp_path, "killed")
    live["env"]["EVENTEXPORT_LEASE_SECONDS"] = "3"
    first = ee(live, "scheduler", "--interval", "0.5", background=True)
    running = _wait_for(live, request, lambda r: (r["last_progress"] or "").startswith("progress: "))
    pipelines = _children(first.pid)
    assert running["status"] == "Running" and f":{first.pid}:" in running["claimed_by"] and pipelines
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=60)
    give_up = time.monotonic() + DEADLINE_SECONDS
    while not all(map(_gone, pipelines)):      # the pipeline dies with its scheduler
        assert time.monotonic() < give_up, f"pipeline {pipelines} outlived its scheduler"
        time.sleep(0.1)
    orphaned = _run_row(live, request)
    assert (orphaned["status"], orphaned["attempts"]) == ("Running", 1)   # the dead scheduler's claim stays

    second = ee(live, "scheduler", "--interval", "0.5", background=True)
    done = _wait_for(live, request, lambda r: r["status"] in ("Done", "Failed"))
    out, _ = _stop(second)
    assert (done["status"], done["attempts"]) == ("Done", 2), done
    assert f":{second.pid}:" in done["claimed_by"] and out.count(f"run {request} ") == 1

    files = _request_files(live, request)
    manifests = [key for key in files if key.endswith("-manifest.json")]
    assert manifests == [f"{request}-{done['run_timestamp']}-manifest.json"]
    reference = tmp_path / "uninterrupted"
    status, text = export(["--source", live["env"]["EVENTEXPORT_EVENT_STORE"], "--destination", str(reference),
                           "--format", "json", "--time_basis", "capture", "--start", start.isoformat(),
                           "--end", end.isoformat(), "--request_id", request, "--database_id", "eu1",
                           "--run_timestamp", done["run_timestamp"]])
    assert status == 0, text
    expected = reliability.folder_files(reference)
    assert sorted(files) == sorted(expected)
    assert {k: v for k, v in files.items() if k not in manifests} == \
           {k: v for k, v in expected.items() if k not in manifests}      # byte-identical objects
    reliability.account("kills", "scheduler SIGKILLed mid-run, another takes over after a 3 s lease",
                        [r["event_id"] for r in records], reliability.exported_ids(files))


def _restart_reason():
    if not POSTGRES:
        return "EVENTEXPORT_TEST_POSTGRES_URL is not set: no PostgreSQL server to restart (.ci/run sets it)"
    if not shutil.which("pg_ctlcluster"):
        return "pg_ctlcluster is not installed: the PostgreSQL server cannot be restarted from here"
    if sa.engine.make_url(POSTGRES).host not in ("127.0.0.1", "localhost"):
        return f"{sa.engine.make_url(POSTGRES).host} is not this machine's PostgreSQL; pg_ctlcluster cannot restart it"
    if not os.path.isdir("/etc/postgresql") or not os.listdir("/etc/postgresql"):
        return "no PostgreSQL cluster under /etc/postgresql to restart"
    return None


def _restart_postgres():
    version = sorted(os.listdir("/etc/postgresql"))[0]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"], check=True,
                   capture_output=True, timeout=DEADLINE_SECONDS)
    give_up = time.monotonic() + DEADLINE_SECONDS
    while subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"]).returncode:
        assert time.monotonic() < give_up, "PostgreSQL did not come back after its restart"
        time.sleep(0.2)


@pytest.mark.skipif(_restart_reason() is not None, reason=str(_restart_reason()))
@pytest.mark.parametrize("deployment", ["postgresql"], indirect=True)
@pytest.mark.reliability
def test_a_postgresql_restart_does_not_stop_the_scheduler(deployment, tmp_path):
    live, request, start, end, records = _due_window(deployment, tmp_path, "restart")
    scheduler = ee(live, "scheduler", "--interval", "0.5", background=True)
    _wait_for(live, request, lambda r: r["status"] == "Running")
    _restart_postgres()
    done = _wait_for(live, request, lambda r: r["status"] in ("Done", "Failed"))
    assert (done["status"], done["attempts"]) == ("Done", 1), done
    # the same scheduler, its pooled connections broken by the restart, goes on to the next request
    later = create(live, "--type", "all_events", "--format", "json", "--frequency", "once",
                   "--from", start.isoformat(), "--to", end.isoformat(), now=end + dt.timedelta(minutes=30))
    again = _wait_for(live, later, lambda r: r["status"] in ("Done", "Failed"))
    assert scheduler.poll() is None, _stop(scheduler)
    out, _ = _stop(scheduler)
    assert (again["status"], again["attempts"]) == ("Done", 1), again
    assert out.count(f"run {request} ") == 1 and out.count(f"run {later} ") == 1
    ids = [r["event_id"] for r in records]
    for name, made in (("window run across a PostgreSQL restart", request), ("the next request after it", later)):
        files = _request_files(live, made)
        assert len([key for key in files if key.endswith("-manifest.json")]) == 1
        reliability.account("kills", name, ids, reliability.exported_ids(files))
