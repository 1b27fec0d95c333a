"""What a person may do to runs: cancel one, retry one now, backfill past windows of a recurring export,
and the stop that an export's Stop applies to all of its runs.

A cancel marks the run Stopped in the database at once, with who and when. A Running run's claim is then
no longer held, so its scheduler's heartbeat ends the pipeline within seconds (control/claims.py) and no
manifest is written; a scheduler that died meanwhile has nothing to take over, since only Pending, Failed
and lapsed Running runs of active exports are claimed (control/scheduler.py). A retry makes a Failed or
Stopped run Pending again and due now, keeping its run timestamp and capture ceiling, so it writes the
same keys and bytes it would have. Every refusal names the run's state and what to do instead.
"""

import datetime as dt

import sqlalchemy as sa

from control.accounts import DEFAULT_ACCOUNT
from control.errors import ConflictError
from control.exports import ONE_TIME_HORIZON, get_export
from control.models import runs, utc
from control.runs import CLI_USER, get_run, stop_runs
from control.scheduler import insert_run
from transforms.errors import ConfigError

__all__ = ["cancel_run", "retry_run", "backfill", "RETRYABLE"]

RETRYABLE = ("Failed", "Stopped")


def _now(now=None):
    return utc(now or dt.datetime.now(dt.timezone.utc)).replace(microsecond=0)


def cancel_run(engine, run_id, account=DEFAULT_ACCOUNT, by=CLI_USER, now=None):
    """Cancel the account's run `run_id` (Pending, Running, or Failed awaiting its retry): it ends Stopped and
    is not run again unless retried. Returns the run as stored."""
    run = get_run(engine, run_id, account)
    with engine.begin() as connection:
        if not stop_runs(connection, runs.c.id == run["id"], by, _now(now)):
            raise ConflictError(f"Run {run_id} is {run['status']}, so there is nothing to cancel; only a Pending, "
                                "Running or Failed run can be cancelled")
    return get_run(engine, run_id, account)


def retry_run(engine, run_id, account=DEFAULT_ACCOUNT, now=None):
    """Make the account's Failed or Stopped run `run_id` due now, with its run timestamp and capture ceiling
    (the same keys and bytes). Returns the run as stored."""
    run = get_run(engine, run_id, account)
    request = get_export(engine, run["request_id"], account)
    if request["status"] == "stopped":
        raise ConflictError(f"Export {request['id']} is stopped, and a stopped export's runs never run again; "
                            "create a new export for this range instead")
    with engine.begin() as connection:
        retried = connection.execute(runs.update().where(
            (runs.c.id == run["id"]) & runs.c.status.in_(RETRYABLE)).values(
            status="Pending", next_attempt_at=None, stopped_by=None, stopped_at=None, finished_at=None,
            claimed_by=None, lease_until=None, last_progress=f"retry asked at {_now(now):%Y-%m-%d %H:%M} UTC"))
        if retried.rowcount != 1:
            raise ConflictError(f"Run {run_id} is {run['status']}; only a Failed or Stopped run can be retried"
                                + (" (cancel it first)" if run["status"] in ("Pending", "Running") else ""))
    return get_run(engine, run_id, account)


def _grid(request, instant, label):
    """`instant` if it is on the export's window grid, else ConfigError naming the grid points either side."""
    every = dt.timedelta(hours=request["every_hours"])
    offset = (instant - request["created_at"]) % every
    if offset:
        before = instant - offset
        raise ConfigError(f"The {label} {instant:%Y-%m-%d %H:%M:%S} UTC is not where a window of this export "
                          f"starts or ends; its windows are {request['every_hours']} hours long from "
                          f"{request['created_at']:%Y-%m-%d %H:%M:%S} UTC, so the nearest are "
                          f"{before:%Y-%m-%d %H:%M:%S} and {before + every:%Y-%m-%d %H:%M:%S} UTC",
                          field="from" if label == "start" else "to")
    return instant


def backfill(engine, request_id, account=DEFAULT_ACCOUNT, *, start, end, replace=False, now=None):
    """Create runs of the recurring export `request_id` for its windows in [start, end) (within the last
    60 days, on its window grid), under the same request id and with its settings. A window that has a
    run already is run again (same keys) only with `replace`. Returns the runs made due, oldest first."""
    request = get_export(engine, request_id, account)
    now = _now(now)
    if request["frequency"] != "recurring":
        raise ConflictError(f"Export {request_id} is one-time: it has one window, so there is nothing to backfill; "
                            "retry its run, or create a new one-time export for another range")
    if request["status"] != "active":
        raise ConflictError(f"Export {request_id} is {request['status']}: " + (
            "resume it first, then backfill" if request["status"] == "paused" else
            "a stopped export's runs never run again; create a new export instead"))
    start, end = _grid(request, utc(start), "start"), _grid(request, utc(end), "end")
    if start >= end:
        raise ConfigError(f"The end {end:%Y-%m-%d %H:%M} UTC is not after the start {start:%Y-%m-%d %H:%M} UTC",
                          field="to")
    if start < now - ONE_TIME_HORIZON:
        raise ConfigError(f"The start {start:%Y-%m-%d %H:%M} UTC is more than {ONE_TIME_HORIZON.days} days ago, "
                          "beyond what the event store keeps; start later", field="from")
    if end > now:
        raise ConfigError(f"The end {end:%Y-%m-%d %H:%M} UTC is still to come; a backfill covers windows that "
                          "have ended", field="to")
    every = dt.timedelta(hours=request["every_hours"])
    windows = [start + k * every for k in range((end - start) // every)]
    with engine.begin() as connection:
        known = {row.window_start: row for row in connection.execute(sa.select(runs.c.window_start, runs.c.status)
                                                                     .where(runs.c.request_id == request_id))}
        busy = [w for w in windows if w in known and known[w].status in ("Pending", "Running")]
        done = [w for w in windows if w in known and w not in busy]
        if busy:
            raise ConflictError(f"The window from {busy[0]:%Y-%m-%d %H:%M} UTC is {known[busy[0]].status} already; "
                                "wait for it to end, or cancel it, then backfill")
        if done and not replace:
            raise ConflictError(f"{len(done)} of these windows ran already (the first from {done[0]:%Y-%m-%d %H:%M} "
                                "UTC); ask to replace them to export them again under the same keys",
                                field="replace")
        for window in windows:
            if window in known:
                connection.execute(runs.update().where(
                    (runs.c.request_id == request_id) & (runs.c.window_start == window)).values(
                    status="Pending", backfill=True, next_attempt_at=None, stopped_by=None, stopped_at=None,
                    finished_at=None, claimed_by=None, lease_until=None, error=None, last_progress=None))
            else:
                insert_run(connection, request, window, window + every, "capture", now, backfill=True)
    with engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(sa.select(runs).where(
            (runs.c.request_id == request_id) & runs.c.window_start.in_(windows)).order_by(runs.c.window_start))]
