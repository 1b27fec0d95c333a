"""Schedulers that die and databases that restart: a window still runs to Done exactly once.

Real `eventexport scheduler` processes on the wall clock (a request created an hour and a bit ago has
one window due), the real local S3 server, and for the restart the real PostgreSQL server, restarted
with `pg_ctlcluster`. What the bucket holds is read back with the independent readers and every input
record accounted for (tests/support/reliability.py).
"""

import datetime as dt
import os
import shutil
import signal
import subprocess
import threading
import time

import pytest
import sqlalchemy as sa

from control.exports import stop_export
from control.models import connect
from pipelines.export import run as export
from tests.support import reliability
from tests.support.control_deployment import POSTGRES, create, deployment, ee, store  # noqa: F401 (fixtures)
from tests.support.scheduler_runs import (BEST_DATABASE, DEADLINE_SECONDS, children, due_window, gone, run_row,
                                          wait_for)

pytestmark = pytest.mark.slow   # schedulers killed, leases lapsing, a PostgreSQL restart


def _stop(process):
    process.send_signal(signal.SIGTERM)
    return process.communicate(timeout=60)


def _request_files(live, request):
    files = reliability.bucket_files(live["server"], live["bucket"], "exports/")
    return {key: data for key, data in files.items() if key.startswith(f"{request}-")}


@BEST_DATABASE
@pytest.mark.reliability
def test_a_killed_scheduler_s_run_is_taken_over_after_the_lease_and_done_once(deployment, tmp_path):
    live, request, start, end, records = due_window(deployment, tmp_path, "killed")
    live["env"]["EVENTEXPORT_LEASE_SECONDS"] = "3"
    first = ee(live, "scheduler", "--interval", "0.5", background=True)
    running = wait_for(live, request, lambda r: (r["last_progress"] or "").startswith("progress: "))
    pipelines = children(first.pid)
    assert running["status"] == "Running" and f":{first.pid}:" in running["claimed_by"] and pipelines
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=60)
    give_up = time.monotonic() + DEADLINE_SECONDS
    while not all(map(gone, pipelines)):      # the pipeline dies with its scheduler
        assert time.monotonic() < give_up, f"pipeline {pipelines} outlived its scheduler"
        time.sleep(0.1)
    orphaned = run_row(live, request)
    assert (orphaned["status"], orphaned["attempts"]) == ("Running", 1)   # the dead scheduler's claim stays

    second = ee(live, "scheduler", "--interval", "0.5", background=True)
    done = wait_for(live, request, lambda r: r["status"] in ("Done", "Failed"))
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


def _collect(stream, lines):
    for line in stream:
        lines.append(line)


@BEST_DATABASE
def test_a_stopped_export_s_running_run_ends_at_once_and_never_runs_again(deployment, tmp_path):
    """Issue 23: stopped while Running, the pipeline is ended by its own scheduler, no manifest is written,
    and after that scheduler is SIGKILLed and its lease has lapsed no other scheduler runs the window."""
    live, request, _, _, _ = due_window(deployment, tmp_path, "stopped", rows=20000)   # a run of seconds, not one
    lease = 3
    live["env"]["EVENTEXPORT_LEASE_SECONDS"] = str(lease)
    engine = connect(live["db"])
    first = ee(live, "scheduler", "--interval", "0.5", background=True)
    said = []
    for stream in (first.stdout, first.stderr):
        threading.Thread(target=_collect, args=(stream, said), daemon=True).start()
    wait_for(live, request, lambda r: r["status"] == "Running")   # claimed: its pipeline is starting
    stop_export(engine, request, by="ann@acme.example")
    give_up = time.monotonic() + DEADLINE_SECONDS
    # the scheduler's heartbeat ends the pipeline (at once if it had not started yet), and it says so
    while not any("Stopped: cancelled while it ran" in line for line in said):
        assert time.monotonic() < give_up, f"the scheduler never ended the stopped run: {said}"
        time.sleep(0.1)
    assert first.poll() is None and not children(first.pid)   # the scheduler goes on, its pipeline gone
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=60)
    time.sleep(lease + 1)                     # the dead scheduler's lease would have lapsed by now
    again = ee(live, "run")
    assert again.returncode == 0 and "0 run(s) attempted" in again.stdout, again.stdout + again.stderr
    with sa.create_engine(live["db"]).connect() as connection:
        stopped = dict(connection.execute(sa.text("SELECT status, attempts, stopped_by, stopped_at, error FROM runs "
                                                  "WHERE request_id = :r"), {"r": request}).one()._mapping)
    assert (stopped["status"], stopped["attempts"], stopped["stopped_by"]) == ("Stopped", 1, "ann@acme.example")
    assert stopped["stopped_at"] is not None and stopped["error"] is None
    assert not [key for key in _request_files(live, request) if key.endswith("-manifest.json")]


def _restart_reason():
    if not POSTGRES:
        return "EVENTEXPORT_TEST_POSTGRES_URL is not set: no PostgreSQL server to restart (`make test` sets it)"
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
@pytest.mark.serial   # the PostgreSQL server it restarts is every other test's too
def test_a_postgresql_restart_does_not_stop_the_scheduler(deployment, tmp_path):
    live, request, start, end, records = due_window(deployment, tmp_path, "restart")
    scheduler = ee(live, "scheduler", "--interval", "0.5", background=True)
    wait_for(live, request, lambda r: r["status"] == "Running")
    _restart_postgres()
    done = wait_for(live, request, lambda r: r["status"] in ("Done", "Failed"))
    assert (done["status"], done["attempts"]) == ("Done", 1), done
    # the same scheduler, its pooled connections broken by the restart, goes on to the next request
    later = create(live, "--type", "all_events", "--format", "json", "--frequency", "once",
                   "--from", start.isoformat(), "--to", end.isoformat(), now=end + dt.timedelta(minutes=30))
    again = wait_for(live, later, lambda r: r["status"] in ("Done", "Failed"))
    assert scheduler.poll() is None, _stop(scheduler)
    out, _ = _stop(scheduler)
    assert (again["status"], again["attempts"]) == ("Done", 1), again
    assert out.count(f"run {request} ") == 1 and out.count(f"run {later} ") == 1
    ids = [r["event_id"] for r in records]
    for name, made in (("window run across a PostgreSQL restart", request), ("the next request after it", later)):
        files = _request_files(live, made)
        assert len([key for key in files if key.endswith("-manifest.json")]) == 1
        reliability.account("kills", name, ids, reliability.exported_ids(files))
