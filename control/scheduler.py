"""Runs and windows: plan what is due, claim it in the database, run the pipeline, record the outcome.

Windows of a recurring request are on capture time, `[created + k*every, created + (k+1)*every)`:
contiguous by construction, so there is no gap and no overlap, and after downtime every missed window
is still there to catch up, in order. Within a request, a window runs only after the one before it is
Done, so a failing window is retried (with backoff) and never skipped. Two schedulers may plan and
claim at once: the unique (request, window start) makes run creation idempotent, and a claim is an
UPDATE that only one of them can win.
"""

import datetime as dt
import json
import os
import shlex
import socket
import subprocess
import sys
import uuid

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from control.accounts import get_account
from control.destinations import get_destination, s3_settings
from control.models import fetch_one, requests, runs, utc
from transforms.naming import manifest_key
from transforms.s3 import KEY_ID_ENV, SECRET_ENV

__all__ = ["plan_runs", "run_due", "retry_delay", "LEASE"]

LEASE = dt.timedelta(hours=6)          # a claim older than this belongs to a scheduler that died
FIRST_RETRY = dt.timedelta(minutes=5)
LAST_RETRY = dt.timedelta(hours=4)
_STAMP = "%Y%m%d%H%M%S"


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


def _claim(engine, run, as_of, now, owner):
    with engine.begin() as connection:
        won = connection.execute(runs.update().where((runs.c.id == run["id"]) & _claimable(as_of, now)).values(
            status="Running", claimed_by=owner, lease_until=now + LEASE, started_at=now, finished_at=None,
            attempts=runs.c.attempts + 1))
        return won.rowcount == 1


def _pipeline_command(settings, account, request, destination, run):
    """The export's command line: the account's store and database id, the deployment's runner."""
    profiles = request["export_type"] == "all_profiles"
    source = account["profile_store"] if profiles else account["event_store"]
    if not source:
        store = "profile" if profiles else "event"
        raise RuntimeError(f"account {account['id']!r} has no {store} store; give it one (the default account's "
                           f"is EVENTEXPORT_{store.upper()}_STORE), pointing at the store root")
    iso = {k: run[k].strftime("%Y-%m-%dT%H:%M:%SZ") for k in ("window_start", "window_end")}
    argv = ["--source", source, "--destination", f"s3://{destination['bucket']}/{destination['prefix']}",
            "--export_type", request["export_type"], "--format", request["format"],
            "--start", iso["window_start"], "--end", iso["window_end"], "--time_basis", run["time_basis"],
            "--request_id", request["id"], "--run_timestamp", run["run_timestamp"],
            "--database_id", account["database_id"], "--manifest_copy", os.path.abspath(settings.manifests),
            "--sse", destination["sse"], "--runner", settings.runner, *shlex.split(settings.runner_options or "")]
    for name in request["events"]:
        argv += ["--events", name]
    for option, value in (("--s3_endpoint_url", destination["endpoint_url"]),
                          ("--s3_region", destination["region"]), ("--sse_kms_key_id", destination["sse_kms_key_id"])):
        if value:
            argv += [option, value]
    if destination["path_style"]:
        argv.append("--s3_path_style")
    return [sys.executable, "-m", "pipelines.export", *argv]


def _execute(engine, settings, vault, run):
    """Run the pipeline in a child process (its memory is its own); the key reaches it by environment."""
    request_id = run["request_id"]
    request = fetch_one(engine, requests.c.id, request_id, f"export request {request_id} has gone")
    account = get_account(engine, request["account_id"])
    destination = get_destination(engine, request["destination"], account["id"])
    s3 = s3_settings(destination, vault)
    env = dict(os.environ, **{KEY_ID_ENV: str(s3.access_key_id), SECRET_ENV: str(s3.secret_access_key)})
    other = []
    command = _pipeline_command(settings, account, request, destination, run)
    # The key goes by environment, never argv (where `ps` would show it).
    child = subprocess.Popen(command, env=env, text=True, stdout=subprocess.DEVNULL,  # nosec B603  # no shell
                             stderr=subprocess.PIPE)
    with child:
        for line in child.stderr:
            if line.startswith("progress: "):
                _report_progress(engine, run, line.strip())
            else:
                other.append(line.rstrip("\n"))
    if child.returncode:
        errors = [line for line in other if line.startswith("eventexport: error:")]
        raise RuntimeError(errors[-1][len("eventexport: error: "):] if errors else
                           ([line for line in other if line.strip()] or [f"exit status {child.returncode}"])[-1])
    path = os.path.join(settings.manifests, manifest_key("", request_id, run["run_timestamp"]))
    with open(path, encoding="utf-8") as handle:
        manifest = json.load(handle)
    return dict(manifest["totals"], rejected=manifest["rejects"]["rows"])


def _report_progress(engine, run, line):
    """Keep the pipeline's progress line on the run for the activity log; it renews the claim's lease too,
    so a long run is never mistaken for one whose scheduler died."""
    now = utc(dt.datetime.now(dt.timezone.utc))
    with engine.begin() as connection:
        connection.execute(runs.update().where(runs.c.id == run["id"]).values(last_progress=line,
                                                                              lease_until=now + LEASE))


def _finish(engine, run, as_of, totals=None, error=None):
    now = utc(dt.datetime.now(dt.timezone.utc))
    with engine.begin() as connection:
        if error is None:
            connection.execute(runs.update().where(runs.c.id == run["id"]).values(
                status="Done", finished_at=now, lease_until=None, error=None, next_attempt_at=None,
                objects=totals["objects"], rows=totals["rows"], rejected=totals["rejected"], bytes=totals["bytes"]))
            connection.execute(requests.update().where(
                (requests.c.id == run["request_id"]) & (requests.c.frequency == "once")
                & (requests.c.status == "active")).values(status="done"))
        else:
            attempts = connection.execute(sa.select(runs.c.attempts).where(runs.c.id == run["id"])).scalar()
            connection.execute(runs.update().where(runs.c.id == run["id"]).values(
                status="Failed", finished_at=now, lease_until=None, error=error[:2000],
                next_attempt_at=as_of + retry_delay(attempts)))


def run_due(engine, settings, vault, as_of=None, request_id=None, owner=None, log=print):
    """Plan and run everything due as of `as_of` (default now), in window order; return runs attempted."""
    as_of = utc(as_of or dt.datetime.now(dt.timezone.utc))
    owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    plan_runs(engine, as_of, request_id)
    attempted = 0
    while True:
        now = utc(dt.datetime.now(dt.timezone.utc))
        with engine.connect() as connection:
            due = _next_due(connection, as_of, now, request_id)
        claimed = next((run for run in due if _claim(engine, run, as_of, now, owner)), None)
        if claimed is None:
            return attempted
        attempted += 1
        window = f"[{claimed['window_start']:%Y-%m-%d %H:%M}, {claimed['window_end']:%Y-%m-%d %H:%M})"
        try:
            totals = _execute(engine, settings, vault, claimed)
        except Exception as error:  # every failure is recorded on the run and retried later
            _finish(engine, claimed, as_of, error=str(error) or type(error).__name__)
            log(f"run {claimed['request_id']} {window}: Failed: {error}")
        else:
            _finish(engine, claimed, as_of, totals=totals)
            log(f"run {claimed['request_id']} {window}: Done, {totals['objects']} objects, "
                f"{totals['rows']:,} rows, {totals['rejected']:,} rejected, {totals['bytes']:,} bytes")
