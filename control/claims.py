"""What the holder of a run's claim writes while the run goes: its lease, its progress, its outcome.

Every write names the holder (`held_by`), so a scheduler whose claim lapsed and was taken over by another
changes nothing: only the claim's holder renews it, reports on it and records how it ended. A person who
cancels a Running run (control/run_actions.py) marks it Stopped in the database; the holder's heartbeat
sees within seconds that the claim is no longer held and ends the pipeline, so it writes no manifest.
"""

import datetime as dt
import os
import signal
import threading
import time

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from control.models import requests, runs, utc
from control.ops import metrics

__all__ = ["Heartbeat", "RunStopped", "held_by", "report_progress", "finish", "hand_back", "retry_delay"]

FIRST_RETRY = dt.timedelta(minutes=5)
LAST_RETRY = dt.timedelta(hours=4)
# Recording an outcome outlives a database restart of up to this long; after that the claim lapses
# and the run is simply run again.
_RECORD_PATIENCE = dt.timedelta(minutes=2)
# How often a heartbeat looks for a cancel: a cancelled pipeline ends within about this long (one indexed
# read per Running run each time, so cheap at any number of runs).
CANCEL_POLL_SECONDS = 0.25
# A pipeline asked to end (SIGTERM to its process group) and still going after this long is killed.
_END_PATIENCE_SECONDS = 10.0


class RunStopped(RuntimeError):
    """The run was cancelled (or its export stopped) while it ran: its pipeline was ended on purpose."""


def retry_delay(attempts):
    """5 min, 10, 20, ... capped at 4 h: quick for blips, gentle on an outage."""
    return min(FIRST_RETRY * 2 ** max(0, attempts - 1), LAST_RETRY)


def held_by(run, owner):
    """The run's row while `owner` still holds its claim (another scheduler may have taken it over)."""
    return (runs.c.id == run["id"]) & (runs.c.claimed_by == owner) & (runs.c.status == "Running")


class Heartbeat:
    """Renews a claim's lease every third of the lease while its pipeline runs, so a long run is never
    mistaken for one whose scheduler died, and a dead scheduler's claim lapses within one lease. Between
    renewals it checks every CANCEL_POLL_SECONDS that the claim is still held: once it is not (the run was
    cancelled, or another scheduler took it over) it ends the pipeline `watch` was given."""

    def __init__(self, engine, run, owner, lease):
        self._engine, self._run, self._owner, self._lease = engine, run, owner, lease
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)
        self._child = None
        self.lost = None   # once the claim is gone: the run's status then ("Stopped" when cancelled)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        self._thread.join()

    def watch(self, child):
        """The pipeline's process (a session of its own) to end if the claim is lost."""
        self._child = child
        if self.lost:
            _end(child)

    def _held(self, connection):
        """None while the claim is held, else the run's status now."""
        row = connection.execute(sa.select(runs.c.status, runs.c.claimed_by).where(
            runs.c.id == self._run["id"])).first()
        if row is not None and row.status == "Running" and row.claimed_by == self._owner:
            return None
        return row.status if row is not None else "gone"

    def _beat(self):
        renew_every = self._lease.total_seconds() / 3
        renewed = time.monotonic()
        while not self._stop.wait(min(CANCEL_POLL_SECONDS, renew_every)):
            try:
                with self._engine.begin() as connection:
                    self.lost = self._held(connection)
                    if self.lost is None and time.monotonic() - renewed >= renew_every:
                        now = utc(dt.datetime.now(dt.timezone.utc))
                        connection.execute(runs.update().where(held_by(self._run, self._owner)).values(
                            lease_until=now + self._lease))
                        renewed = time.monotonic()
                        metrics.heartbeat()
            except SQLAlchemyError:
                continue  # a database blip: the next beat renews it; the lease has room for two misses
            if self.lost is not None:
                if self._child is not None:
                    _end(self._child)
                return


def _end(child):
    """End a pipeline and the workers it started (its process group): politely, then for sure."""
    for signum, patience in ((signal.SIGTERM, _END_PATIENCE_SECONDS), (signal.SIGKILL, None)):
        try:
            os.killpg(child.pid, signum)
        except ProcessLookupError:
            return   # it has ended
        if patience is None:
            return
        give_up = time.monotonic() + patience
        while child.poll() is None and time.monotonic() < give_up:
            time.sleep(0.1)
        if child.poll() is not None:
            return


def report_progress(engine, run, owner, line):
    """Keep the pipeline's progress line on the run for the activity log (best effort: a database blip
    loses a line, never the run)."""
    try:
        with engine.begin() as connection:
            connection.execute(runs.update().where(held_by(run, owner)).values(last_progress=line))
    except SQLAlchemyError:
        pass


def _record(engine, run, owner, values, request_done, on_recorded=None):
    """Write the run's outcome if `owner` still holds it; True if it did. `on_recorded(connection)` runs in
    the same transaction (what the outcome changes besides the run: the export's failure streak, the news of
    it). Retried through a database restart, since the pipeline's work is done and rerunning it would be the
    only other way."""
    give_up = time.monotonic() + _RECORD_PATIENCE.total_seconds()
    while True:
        try:
            with engine.begin() as connection:
                if connection.execute(runs.update().where(held_by(run, owner)).values(**values)).rowcount != 1:
                    return False
                if request_done:
                    connection.execute(requests.update().where(
                        (requests.c.id == run["request_id"]) & (requests.c.frequency == "once")
                        & (requests.c.status == "active")).values(status="done"))
                if on_recorded is not None:
                    on_recorded(connection)
                return True
        except SQLAlchemyError:
            if time.monotonic() > give_up:
                raise
            time.sleep(1)


def finish(engine, run, owner, as_of, totals=None, error=None, on_outcome=None):
    """Record the run Done with its totals, or Failed with `error` and its next attempt; the status recorded,
    or None if the claim was no longer held. A run whose export was stopped meanwhile ends Stopped instead of
    Failed: it is never tried again. `on_outcome(connection)` runs in the recording transaction of a Done or
    Failed outcome."""
    now = utc(dt.datetime.now(dt.timezone.utc))
    if error is None:
        return "Done" if _record(engine, run, owner, dict(
            status="Done", finished_at=now, lease_until=None, error=None, next_attempt_at=None,
            objects=totals["objects"], rows=totals["rows"], rejected=totals["rejected"],
            bytes=totals["bytes"], read_rows=totals["read"], later_rows=totals["later"],
            rejects_by_reason=totals["rejected_by_reason"]), request_done=True, on_recorded=on_outcome) else None
    with engine.connect() as connection:
        stopped = connection.execute(sa.select(requests.c.status).where(
            requests.c.id == run["request_id"])).scalar() == "stopped"
    status = "Stopped" if stopped else "Failed"
    return status if _record(engine, run, owner, dict(
        status=status, finished_at=now, lease_until=None, error=error[:2000],
        next_attempt_at=None if stopped else as_of + retry_delay(run["attempts"] + 1)), request_done=False,
        on_recorded=None if stopped else on_outcome) else None


def hand_back(engine, run, owner):
    """At shutdown: the run is Pending again and unclaimed, so the next pass of any scheduler runs it."""
    return _record(engine, run, owner, dict(
        status="Pending", claimed_by=None, lease_until=None, finished_at=None,
        last_progress="handed back: its scheduler stopped; the next pass runs it again"), request_done=False)
