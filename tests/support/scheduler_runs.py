"""Recurring windows due now, for the tests that run real `eventexport scheduler` processes on the wall clock
(tests/test_scheduler_failover.py, test_shutdown.py, test_metrics.py): a store and a request whose first
window ended an hour ago, the run's row read back, and the scheduler's child processes.
"""

import datetime as dt
import glob
import time

import sqlalchemy as sa

from tests.support import reliability
from tests.support.control_deployment import BEST_DATABASE, add_destination, create
from tests.support.stores import layout_by_time, write_store
from transforms.sources.watermark import write_watermark

__all__ = ["BEST_DATABASE", "EVERY", "DEADLINE_SECONDS", "due_window", "run_row", "wait_for", "children", "gone"]

EVERY = dt.timedelta(hours=4)
DEADLINE_SECONDS = 300   # only a hung test waits this long; nothing here measures time


def _ms(moment):
    return int(moment.timestamp() * 1000)


def due_window(deployment, tmp_path, name, rows=600):
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


def run_row(live, request):
    with sa.create_engine(live["db"]).connect() as connection:
        rows = [dict(r._mapping) for r in connection.execute(sa.text(
            "SELECT status, attempts, claimed_by, last_progress, run_timestamp, window_start, window_end "
            "FROM runs WHERE request_id = :request"), {"request": request})]
    return rows[0] if rows else None


def wait_for(live, request, test):
    """Poll the run's row until `test(row)` holds (a row that never gets there fails at the deadline)."""
    give_up = time.monotonic() + DEADLINE_SECONDS
    while True:
        row = run_row(live, request)
        if row and test(row):
            return row
        assert time.monotonic() < give_up, f"the run never got there; last seen {row}"
        time.sleep(0.1)


def children(pid):
    paths = glob.glob(f"/proc/{pid}/task/*/children")
    return [int(child) for path in paths for child in open(path).read().split()]


def gone(pid):
    """True once `pid` has exited (a zombie waiting for init to reap it counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True
