"""Runs and windows: plan what is due, claim it in the database, run the pipeline, record the outcome.

Windows of a recurring request are on capture time, `[created + k*every, created + (k+1)*every)`:
contiguous by construction, so there is no gap and no overlap, and after downtime every missed window
is still there to catch up, in order. Within a request, a window runs only after the one before it is
Done, so a failing window is retried (with backoff) and never skipped, and only once the store holds
its data (control/readiness.py). Two schedulers may plan and claim at once: the unique (request,
window start) makes run creation idempotent, and a claim is an UPDATE that only one of them can win.
A claim carries a lease that the scheduler renews while the run goes; a scheduler that dies stops
renewing it, and once it lapses another scheduler takes the run over. Only the claim's holder records
the outcome, and the pipeline dies with its scheduler, so a window is never run by two at once.
"""

import ctypes
import datetime as dt
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from control.accounts import get_account
from control.destinations import get_destination, s3_settings
from control.models import fetch_one, requests, runs, utc
from control.ops import metrics, shutdown
from control.readiness import StoreMarks, store_root, use_store_options
from transforms.runtime import logs
from transforms.sinks.naming import manifest_key
from transforms.sinks.s3 import KEY_ID_ENV, SECRET_ENV

__all__ = ["plan_runs", "run_due", "retry_delay"]

FIRST_RETRY = dt.timedelta(minutes=5)
LAST_RETRY = dt.timedelta(hours=4)
_STAMP = "%Y%m%d%H%M%S"
# Recording an outcome outlives a database restart of up to this long; after that the claim lapses
# and the run is simply run again.
_RECORD_PATIENCE = dt.timedelta(minutes=2)
_PR_SET_PDEATHSIG = 1   # linux/prctl.h
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None  # loaded before forking


def retry_delay(attempts):
    """5 min, 10, 20, ... capped at 4 h: quick for blips, gentle on an outage."""
    return min(FIRST_RETRY * 2 ** max(0, attempts - 1), LAST_RETRY)


def _windows(request, as_of):
    """Windows of `request` that have ended by `as_of`."""
    if request["frequency"] == "once":
        yield request["window_from"], request["window_to"], "event"
        return
    every = dt.timedelta(hours=request["every_hours"])
    start = request["created_at"]
    while start + every <= as_of:
        yield start, start + every, "capture"
        start += every


def _insert_run(connection, request, start, end, basis, as_of):
    stamp = (as_of if request["frequency"] == "once" else end).strftime(_STAMP)
    try:
        with connection.begin_nested():
            connection.execute(runs.insert().values(
                request_id=request["id"], account_id=request["account_id"], window_start=start, window_end=end,
                time_basis=basis, run_timestamp=stamp, status="Pending", attempts=0))
    except IntegrityError:
        pass  # another scheduler created this window's run first; that is the point of the constraint


def plan_runs(engine, as_of, request_id=None):
    """Create the run of every window that has ended by `as_of` and has no run yet."""
    as_of = utc(as_of)
    query = sa.select(requests).where(requests.c.status == "active")
    if request_id:
        query = query.where(requests.c.id == request_id)
    with engine.begin() as connection:
        for request in [dict(r._mapping) for r in connection.execute(query)]:
            known = {r.window_start for r in connection.execute(
                sa.select(runs.c.window_start).where(runs.c.request_id == request["id"]))}
            for start, end, basis in _windows(request, as_of):
                if start not in known:
                    _insert_run(connection, request, start, end, basis, as_of)


def _next_due(connection, as_of, now, request_id):
    """The earliest unfinished run of each active request, if it may start now."""
    earliest = (sa.select(runs.c.request_id, sa.func.min(runs.c.window_start).label("start"))
                .where(runs.c.status.in_(["Pending", "Running", "Failed"])).group_by(runs.c.request_id).subquery())
    query = (sa.select(runs).join(earliest, (runs.c.request_id == earliest.c.request_id)
                                  & (runs.c.window_start == earliest.c.start))
             .where(_claimable(as_of, now)).order_by(runs.c.window_start, runs.c.id))
    if request_id:
        query = query.where(runs.c.request_id == request_id)
    return [dict(r._mapping) for r in connection.execute(query)]


def _claimable(as_of, now):
    return ((runs.c.status == "Pending")
            | ((runs.c.status == "Failed") & (runs.c.next_attempt_at <= as_of))
            | ((runs.c.status == "Running") & (runs.c.lease_until < now)))


def _held_by(run, owner):
    """The run's row while `owner` still holds its claim (another scheduler may have taken it over)."""
    return (runs.c.id == run["id"]) & (runs.c.claimed_by == owner) & (runs.c.status == "Running")


def _claim(engine, run, as_of, now, owner, lease, ceiling):
    """The run as claimed by `owner`, or None if another scheduler won it. The first claim fixes the capture
    ceiling; later ones (a retry, a takeover) keep it, read back, so every attempt reads the same records."""
    with engine.begin() as connection:
        won = connection.execute(runs.update().where((runs.c.id == run["id"]) & _claimable(as_of, now)).values(
            status="Running", claimed_by=owner, lease_until=now + lease, started_at=now, finished_at=None,
            last_progress=None, attempts=runs.c.attempts + 1,
            captured_before=sa.func.coalesce(runs.c.captured_before, sa.literal(ceiling, sa.BigInteger))))
        if won.rowcount != 1:
            return None
        fixed = connection.execute(sa.select(runs.c.captured_before).where(runs.c.id == run["id"])).scalar()
        return dict(run, captured_before=fixed)


def _note_waiting(engine, run, reason):
    """Say on a Pending run why it has not started (shown as its progress in the activity log)."""
    if run["last_progress"] != reason:
        with engine.begin() as connection:
            connection.execute(runs.update().where((runs.c.id == run["id"]) & (runs.c.status != "Running"))
                               .values(last_progress=reason))


class _Heartbeat:
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
                    connection.execute(runs.update().where(_held_by(self._run, self._owner)).values(
                        lease_until=now + self._lease))
                metrics.heartbeat()
            except SQLAlchemyError:
                pass  # a database blip: the next beat renews it; the lease has room for two misses


def _die_with_parent(parent):
    """In the pipeline's process before it starts: if the scheduler dies, the pipeline gets SIGKILL too
    (Linux), so a run whose claim lapses is never still being written by an orphan."""
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:   # the scheduler died before the line above took effect
        os._exit(1)


def _pipeline_command(settings, account, request, destination, run):
    """The export's command line: the account's store and database id, the deployment's runner."""
    source = store_root(account, request["export_type"])
    iso = {k: run[k].strftime("%Y-%m-%dT%H:%M:%SZ") for k in ("window_start", "window_end")}
    argv = ["--source", source, "--destination", f"s3://{destination['bucket']}/{destination['prefix']}",
            "--export_type", request["export_type"], "--format", request["format"],
            "--start", iso["window_start"], "--end", iso["window_end"], "--time_basis", run["time_basis"],
            "--request_id", request["id"], "--run_timestamp", run["run_timestamp"],
            "--captured_before", str(run["captured_before"]),
            "--database_id", account["database_id"], "--manifest_copy", os.path.abspath(settings.manifests),
            "--sse", destination["sse"], "--runner", settings.runner, *shlex.split(settings.runner_options or "")]
    for name in request["events"]:
        argv += ["--events", name]
    if request["frequency"] != "once":   # one window of a series: the series starts at its first window
        argv += ["--series_start", request["created_at"].strftime("%Y-%m-%dT%H:%M:%SZ")]
    for option, value in (("--s3_endpoint_url", destination["endpoint_url"]),
                          ("--s3_region", destination["region"]), ("--sse_kms_key_id", destination["sse_kms_key_id"])):
        if value:
            argv += [option, value]
    if destination["path_style"]:
        argv.append("--s3_path_style")
    return [sys.executable, "-m", "pipelines.export", *argv]


def _execute(engine, settings, vault, run, owner, lease):
    """Run the pipeline in a child process (its memory is its own); the key reaches it by environment."""
    request_id = run["request_id"]
    request = fetch_one(engine, requests.c.id, request_id, f"export request {request_id} has gone")
    account = get_account(engine, request["account_id"])
    destination = get_destination(engine, request["destination"], account["id"])
    s3 = s3_settings(destination, vault)
    descriptor, summary = tempfile.mkstemp(prefix="eventexport-summary-", suffix=".json")
    os.close(descriptor)
    # The child's lines are read below, so they are human whatever the deployment's log format.
    env = dict(os.environ, **{KEY_ID_ENV: str(s3.access_key_id), SECRET_ENV: str(s3.secret_access_key),
                              logs.LOG_FORMAT_ENV: "human", logs.SUMMARY_ENV: summary})
    other = []
    command = _pipeline_command(settings, account, request, destination, run)
    parent = os.getpid()
    guard = (lambda: _die_with_parent(parent)) if _LIBC else None
    # The key goes by environment, never argv (where `ps` would show it). A session of its own: a stop
    # ends the pipeline and its workers together (control/ops/shutdown.py), and Ctrl-C reaches it only so.
    child = subprocess.Popen(command, env=env, text=True, stdout=subprocess.DEVNULL,  # nosec B603  # no shell
                             stderr=subprocess.PIPE, preexec_fn=guard, start_new_session=True)
    shutdown.track(child)
    with child, _Heartbeat(engine, run, owner, lease):
        for line in child.stderr:
            if line.startswith("progress: "):
                _report_progress(engine, run, owner, line.strip())
            else:
                other.append(line.rstrip("\n"))
    facts = _pop_summary(summary)
    if child.returncode:
        errors = [line for line in other if line.startswith("eventexport: error:")]
        raise RuntimeError(errors[-1][len("eventexport: error: "):] if errors else
                           ([line for line in other if line.strip()] or [f"exit status {child.returncode}"])[-1])
    path = os.path.join(settings.manifests, manifest_key("", request_id, run["run_timestamp"]))
    with open(path, encoding="utf-8") as handle:
        manifest = json.load(handle)
    return dict(manifest["totals"], rejected=manifest["rejects"]["rows"], s3_retries=facts.get("s3_retries"))


def _pop_summary(path):
    """The facts the pipeline wrote to `path` (S3 retries), {} if none: they feed metrics only, so they
    never fail a run. The file is removed."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.loads(handle.read() or "{}")
    except ValueError:
        return {}
    finally:
        os.remove(path)


def _report_progress(engine, run, owner, line):
    """Keep the pipeline's progress line on the run for the activity log (best effort: a database blip
    loses a line, never the run)."""
    try:
        with engine.begin() as connection:
            connection.execute(runs.update().where(_held_by(run, owner)).values(last_progress=line))
    except SQLAlchemyError:
        pass


def _record(engine, run, owner, values, request_done):
    """Write the run's outcome if `owner` still holds it; True if it did. Retried through a database
    restart, since the pipeline's work is done and rerunning it would be the only other way."""
    give_up = time.monotonic() + _RECORD_PATIENCE.total_seconds()
    while True:
        try:
            with engine.begin() as connection:
                if connection.execute(runs.update().where(_held_by(run, owner)).values(**values)).rowcount != 1:
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


def _finish(engine, run, owner, as_of, totals=None, error=None):
    now = utc(dt.datetime.now(dt.timezone.utc))
    if error is None:
        return _record(engine, run, owner, dict(
            status="Done", finished_at=now, lease_until=None, error=None, next_attempt_at=None,
            objects=totals["objects"], rows=totals["rows"], rejected=totals["rejected"],
            bytes=totals["bytes"]), request_done=True)
    return _record(engine, run, owner, dict(
        status="Failed", finished_at=now, lease_until=None, error=error[:2000],
        next_attempt_at=as_of + retry_delay(run["attempts"] + 1)), request_done=False)


def _hand_back(engine, run, owner):
    """At shutdown: the run is Pending again and unclaimed, so the next pass of any scheduler runs it."""
    return _record(engine, run, owner, dict(
        status="Pending", claimed_by=None, lease_until=None, finished_at=None,
        last_progress="handed back: its scheduler stopped; the next pass runs it again"), request_done=False)


def _start_next(engine, settings, as_of, request_id, owner, lease):
    """Claim the next run that is due and whose data is in; note on the others why they wait."""
    now = utc(dt.datetime.now(dt.timezone.utc))
    with engine.connect() as connection:
        due = _next_due(connection, as_of, now, request_id)
        owners = {row.id: row for row in connection.execute(
            sa.select(requests.c.id, requests.c.account_id, requests.c.export_type).where(
                requests.c.id.in_({run["request_id"] for run in due})))} if due else {}
    marks = StoreMarks(settings, as_of)
    for run in due:
        request = owners[run["request_id"]]
        account = get_account(engine, request.account_id)
        reason = marks.waiting_for(run, account, request.export_type)
        if reason:
            _note_waiting(engine, run, reason)
            continue
        claimed = _claim(engine, run, as_of, now, owner, lease, marks.ceiling(run, account, request.export_type))
        if claimed:
            return claimed
    return None


def run_due(engine, settings, vault, as_of=None, request_id=None, owner=None, log=print):
    """Plan and run everything due as of `as_of` (default now), in window order; return runs attempted."""
    as_of = utc(as_of or dt.datetime.now(dt.timezone.utc))
    owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    lease = dt.timedelta(seconds=settings.lease_seconds)
    use_store_options(settings)
    plan_runs(engine, as_of, request_id)
    attempted = 0
    while not shutdown.requested():
        claimed = _start_next(engine, settings, as_of, request_id, owner, lease)
        if claimed is None:
            return attempted
        attempted += 1
        metrics.run_claimed(claimed, took_over=claimed["status"] == "Running")
        window = f"[{claimed['window_start']:%Y-%m-%d %H:%M}, {claimed['window_end']:%Y-%m-%d %H:%M})"
        totals = None
        try:
            totals = _execute(engine, settings, vault, claimed, owner, lease)
        except Exception as error:  # every failure is recorded on the run and retried later
            if shutdown.ended_runs():   # we ended its pipeline: not the run's fault
                kept, status, outcome = _hand_back(engine, claimed, owner), "handed_back", "handed back at shutdown"
            else:
                kept = _finish(engine, claimed, owner, as_of, error=str(error) or type(error).__name__)
                status, outcome = "Failed", f"Failed: {error}"
        else:
            kept, status = _finish(engine, claimed, owner, as_of, totals=totals), "Done"
            outcome = (f"Done, {totals['objects']} objects, {totals['rows']:,} rows, "
                       f"{totals['rejected']:,} rejected, {totals['bytes']:,} bytes")
        metrics.run_ended(claimed, status if kept else "lapsed", totals if kept else None)
        with logs.bind(account=claimed["account_id"], request_id=claimed["request_id"], run_id=claimed["id"]):
            log(f"run {claimed['request_id']} {window}: {outcome}" + (
                "" if kept else " (not recorded: its claim lapsed and another scheduler took the run over)"))
    return attempted
