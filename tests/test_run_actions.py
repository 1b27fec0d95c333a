"""control/run_actions.py and the stop rules of control/exports.py and control/claims.py: a stopped export's
runs are never claimed or retried again, a cancel ends a Running run's pipeline through its heartbeat, a retry
keeps the run's keys, a backfill stays on the export's window grid.

On SQLite with the control plane's own functions (the real scheduler, killed mid-run, is in
tests/test_scheduler_failover.py); the destination row is stored directly, since nothing here reaches S3.
"""

import datetime as dt
import subprocess
import time

import pytest
import sqlalchemy as sa

from control import accounts, cli, exports, run_actions
from control.claims import Heartbeat, finish
from control.errors import ConflictError, NotFoundError
from control.models import connect, destinations, runs
from control.scheduler import Turns, claim_next, plan_runs
from control.secrets import Vault
from control.settings import load_settings
from transforms.errors import ConfigError

CREATED = dt.datetime(2026, 11, 20, 0, 0, 0)
NOW = CREATED + dt.timedelta(hours=24)                   # six 4-hour windows have ended
DEADLINE_SECONDS = 60   # only a hung test waits this long; nothing here measures time


@pytest.fixture
def plane(tmp_path):
    """(engine, settings, a recurring 4-hourly export with six runs planned) in account `acme`."""
    db = f"sqlite:///{tmp_path}/control.db"
    settings = load_settings({"EVENTEXPORT_DB": db, "EVENTEXPORT_HOME": str(tmp_path / "home"),
                              "EVENTEXPORT_EVENT_STORE": str(tmp_path / "store"), "EVENTEXPORT_DATABASE_ID": "eu1"})
    engine, vault = connect(db), Vault(settings)
    for account in ("acme", "other"):
        accounts.add_account(engine, account_id=account, event_store=str(tmp_path / "store"), database_id=account,
                             data_region="EU")
        with engine.begin() as connection:
            connection.execute(destinations.insert().values(
                account_id=account, name="bucket", bucket="acme-exports", prefix="", data_region="EU",
                path_style=False, sse="none", access_key_id_sealed=vault.seal("AKIAOLD"),
                secret_sealed=vault.seal("old secret"), created_at=CREATED))
    request = exports.create_export(engine, "acme", destination="bucket", export_type="all_events", format="json",
                                    frequency="recurring", every="4h", now=CREATED)
    plan_runs(engine, NOW)
    return engine, settings, request


def _runs(engine, request):
    with engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(
            sa.select(runs).where(runs.c.request_id == request).order_by(runs.c.window_start))]


def _set(engine, run_id, **values):
    with engine.begin() as connection:
        connection.execute(runs.update().where(runs.c.id == run_id).values(**values))


def test_a_stopped_export_s_runs_all_end_stopped_and_none_is_claimed_again(plane):
    engine, settings, request = plane
    first, second, third = _runs(engine, request)[:3]
    lapsed = NOW - dt.timedelta(hours=1)
    _set(engine, first["id"], status="Running", claimed_by="dead-scheduler", lease_until=lapsed, attempts=1)
    _set(engine, second["id"], status="Failed", next_attempt_at=lapsed, attempts=1)
    exports.stop_export(engine, request, "acme", by="ann@acme.example", now=NOW)
    after = _runs(engine, request)
    assert {r["status"] for r in after} == {"Stopped"}
    assert {(r["stopped_by"], r["stopped_at"]) for r in after} == {("ann@acme.example", NOW)}
    assert claim_next(engine, settings, "second-scheduler", NOW + dt.timedelta(days=1), Turns()) is None
    with pytest.raises(ConflictError, match="stopped export's runs never run again"):
        run_actions.retry_run(engine, first["id"], "acme")
    # the dead scheduler's claim is gone: recording its outcome changes nothing
    assert not finish(engine, dict(first, attempts=1), "dead-scheduler", NOW, error="boom")
    assert _runs(engine, request)[0]["status"] == "Stopped"


def test_a_run_that_fails_after_its_export_was_stopped_is_not_retried(plane):
    engine, _, request = plane
    run = _runs(engine, request)[0]
    _set(engine, run["id"], status="Running", claimed_by="A", lease_until=NOW + dt.timedelta(hours=1), attempts=1)
    with engine.begin() as connection:   # the stop landed between the pipeline's end and its recording
        connection.execute(sa.text("UPDATE export_requests SET status = 'stopped' WHERE id = :id"), {"id": request})
    assert finish(engine, dict(run, attempts=1), "A", NOW, error="the pipeline failed")
    recorded = _runs(engine, request)[0]
    assert (recorded["status"], recorded["next_attempt_at"]) == ("Stopped", None)


def test_cancel_then_retry_keeps_the_run_s_timestamp_and_ceiling(plane):
    engine, _, request = plane
    run = _runs(engine, request)[0]
    _set(engine, run["id"], status="Failed", captured_before=1_780_000_000_000, attempts=2, error="S3 said no",
         next_attempt_at=NOW + dt.timedelta(hours=2))
    cancelled = run_actions.cancel_run(engine, run["id"], "acme", by="ann@acme.example", now=NOW)
    assert (cancelled["status"], cancelled["stopped_by"], cancelled["next_attempt_at"]) == \
           ("Stopped", "ann@acme.example", None)
    with pytest.raises(ConflictError, match="only a Pending, Running or Failed run can be cancelled"):
        run_actions.cancel_run(engine, run["id"], "acme")
    retried = run_actions.retry_run(engine, run["id"], "acme", now=NOW)
    assert (retried["status"], retried["run_timestamp"], retried["captured_before"], retried["attempts"]) == \
           ("Pending", run["run_timestamp"], 1_780_000_000_000, 2)
    assert (retried["stopped_by"], retried["next_attempt_at"]) == (None, None)
    with pytest.raises(ConflictError, match=r"only a Failed or Stopped run can be retried \(cancel it first\)"):
        run_actions.retry_run(engine, run["id"], "acme")
    for act in (run_actions.cancel_run, run_actions.retry_run):   # another account's run does not exist for it
        with pytest.raises(NotFoundError):
            act(engine, run["id"], "other")


def test_a_cancelled_running_run_s_pipeline_is_ended_by_its_heartbeat(plane):
    engine, _, request = plane
    run = _runs(engine, request)[0]
    _set(engine, run["id"], status="Running", claimed_by="A", lease_until=NOW + dt.timedelta(hours=6), attempts=1)
    child = subprocess.Popen(["sleep", "600"], start_new_session=True)
    with Heartbeat(engine, run, "A", dt.timedelta(hours=6)) as beat:
        beat.watch(child)
        run_actions.cancel_run(engine, run["id"], "acme", by="ann@acme.example")
        assert child.wait(timeout=DEADLINE_SECONDS) != 0
    assert beat.lost == "Stopped"


def test_backfill_makes_runs_of_past_windows_on_the_grid(plane):
    engine, _, request = plane
    now = NOW + dt.timedelta(minutes=30)
    with pytest.raises(ConfigError, match="nearest are 2026-11-19 20:00:00 and 2026-11-20 00:00:00 UTC"):
        run_actions.backfill(engine, request, "acme", start=CREATED - dt.timedelta(hours=1), end=CREATED, now=now)
    with pytest.raises(ConfigError, match="more than 60 days ago"):
        run_actions.backfill(engine, request, "acme", start=CREATED - dt.timedelta(days=64), end=CREATED, now=now)
    with pytest.raises(ConfigError, match="still to come"):
        run_actions.backfill(engine, request, "acme", start=NOW, end=NOW + dt.timedelta(hours=4), now=now)
    made = run_actions.backfill(engine, request, "acme", start=CREATED - dt.timedelta(hours=8), end=CREATED, now=now)
    assert [(r["window_start"], r["run_timestamp"], r["backfill"], r["status"]) for r in made] == [
        (CREATED - dt.timedelta(hours=8), "20261119200000", True, "Pending"),
        (CREATED - dt.timedelta(hours=4), "20261120000000", True, "Pending")]
    ran = _runs(engine, request)[2]
    _set(engine, ran["id"], status="Done", captured_before=1_780_000_000_000)
    window = dict(start=ran["window_start"], end=ran["window_end"], now=now)
    with pytest.raises(ConflictError, match="1 of these windows ran already"):
        run_actions.backfill(engine, request, "acme", **window)
    again = run_actions.backfill(engine, request, "acme", replace=True, **window)
    assert [(r["id"], r["status"], r["run_timestamp"], r["captured_before"], r["backfill"]) for r in again] == [
        (ran["id"], "Pending", ran["run_timestamp"], 1_780_000_000_000, True)]
    with pytest.raises(ConflictError, match="is Pending already"):
        run_actions.backfill(engine, request, "acme", replace=True, **window)
    with pytest.raises(NotFoundError):
        run_actions.backfill(engine, request, "other", **window)
    once = exports.create_export(engine, "acme", destination="bucket", export_type="all_events", format="json",
                                 frequency="once", window_from=CREATED, window_to=NOW, now=now)
    with pytest.raises(ConflictError, match="one-time"):
        run_actions.backfill(engine, once, "acme", **window)


def test_the_cli_cancels_retries_and_backfills(plane, tmp_path, monkeypatch, capsys):
    engine, settings, request = plane
    for name, value in (("EVENTEXPORT_DB", settings.db), ("EVENTEXPORT_HOME", str(tmp_path / "home")),
                        ("EVENTEXPORT_DATABASE_ID", "eu1")):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("EVENTEXPORT_SECRET_ACCESS_KEY", raising=False)
    run = _runs(engine, request)[0]
    assert cli.main(["--account", "acme", "runs", "cancel", str(run["id"])]) == 0
    assert cli.main(["--account", "acme", "runs", "retry", str(run["id"])]) == 0
    assert cli.main(["--account", "other", "runs", "cancel", str(run["id"])]) != 0   # not that account's
    assert cli.main(["--account", "acme", "export", "backfill", request, "--from", "2026-11-19T17:00:00Z",
                     "--to", "2026-11-20T00:00:00Z"]) != 0   # off the grid (before any check of the clock)
    assert cli.main(["--account", "acme", "destination", "edit", "bucket", "--access-key-id", "AKIANEW"]) != 0
    out, err = capsys.readouterr()
    assert f"run {run['id']} of {request} is now Stopped" in out
    assert f"run {run['id']} of {request} is now Pending" in out
    assert "no run" in err and "nearest are 2026-11-19 16:00:00 and 2026-11-19 20:00:00" in err
    assert "secret is missing" in err
    assert _runs(engine, request)[0]["status"] == "Pending"
