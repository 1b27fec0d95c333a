"""What the holder of a run's claim writes while the run goes: its lease, its progress, its outcome.

Every write names the holder (`held_by`), so a scheduler whose claim lapsed and was taken over by another
changes nothing: only the claim's holder renews it, reports on it and records how it ended.
"""

import datetime as dt
import threading
import time

from sqlalchemy.exc import SQLAlchemyError

from control.models import requests, runs, utc
from control.ops import metrics

__all__ = ["Heartbeat", "held_by", "report_progress", "finish", "hand_back", "retry_delay"]

FIRST_RETRY = dt.timedelta(minutes=5)
LAST_RETRY = dt.timedelta(hours=4)
# Recording an outcome outlives a database restart of up to this long; after that the claim lapses
# and the run is simply run again.
_RECORD_PATIENCE = dt.timedelta(minutes=2)


def retry_delay(attempts):
    """5 min, 10, 20, ... capped at 4 h: quick for blips, gentle on an outage."""
    return min(FIRST_RETRY * 2 ** max(0, attempts - 1), LAST_RETRY)


def held_by(run, owner):
    """The run's row while `owner` still holds its claim (another scheduler may have taken it over)."""
    return (runs.c.id == run["id"]) & (runs.c.claimed_by == owner) & (runs.c.status == "Running")


class Heartbeat:
    """Renews a claim's lease every third of the lease while its pipeline runs, so a long run is never
    mistaken for one whose scheduler died, and a dead scheduler's claim lapses within one lease."""

    def __init__(self, engine, run, owner, lease):
        self._engine, self._run, self._owner, self._lease = engine, run, owner, lease
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        self._thread.join()

    def _beat(self):
        while not self._stop.wait(self._lease.total_seconds() / 3):
            now = utc(dt.datetime.now(dt.timezone.utc))
            try:
                with self._engine.begin() as connection:
                    connection.execute(runs.update().where(held_by(self._run, self._owner)).values(
                        lease_until=now + self._lease))
                metrics.heartbeat()
            except SQLAlchemyError:
                pass  # a database blip: the next beat renews it; the lease has room for two misses


def report_progress(engine, run, owner, line):
    """Keep the pipeline's progress line on the run for the activity log (best effort: a database blip
    loses a line, never the run)."""
    try:
        with engine.begin() as connection:
            connection.execute(runs.update().where(held_by(run, owner)).values(last_progress=line))
    except SQLAlchemyError:
        pass


def _record(engine, run, owner, values, request_done):
    """Write the run's outcome if `owner` still holds it; True if it did. Retried through a database
    restart, since the pipeline's work is done and rerunning it would be the only other way."""
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
                return True
        except SQLAlchemyError:
            if time.monotonic() > give_up:
                raise
            time.sleep(1)


def finish(engine, run, owner, as_of, totals=None, error=None):
    """Record the run Done with its totals, or Failed with `error` and its next attempt; True if recorded."""
    now = utc(dt.datetime.now(dt.timezone.utc))
    if error is None:
        return _record(engine, run, owner, dict(
            status="Done", finished_at=now, lease_until=None, error=None, next_attempt_at=None,
            objects=totals["objects"], rows=totals["rows"], rejected=totals["rejected"],
            bytes=totals["bytes"]), request_done=True)
    return _record(engine, run, owner, dict(
        status="Failed", finished_at=now, lease_until=None, error=error[:2000],
        next_attempt_at=as_of + retry_delay(run["attempts"] + 1)), request_done=False)


def hand_back(engine, run, owner):
    """At shutdown: the run is Pending again and unclaimed, so the next pass of any scheduler runs it."""
    return _record(engine, run, owner, dict(
        status="Pending", claimed_by=None, lease_until=None, finished_at=None,
        last_progress="handed back: its scheduler stopped; the next pass runs it again"), request_done=False)
