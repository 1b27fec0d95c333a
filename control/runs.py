"""Runs of an account's export requests: list and show them, the objects their manifests name, and a
Verify that checks a Done run's objects against its manifest by listing the bucket alone.

The manifest is read from our own copy (settings.manifests), never from the customer's bucket: the
customer's key may only list and put.
"""

import json
import os

import sqlalchemy as sa

from control.accounts import DEFAULT_ACCOUNT, get_account
from control.activity import MAX_PAGE, STATUSES
from control.destinations import get_destination, s3_settings
from control.errors import ConflictError, NotFoundError
from control.models import fetch_one, requests, runs, utc
from transforms.errors import ConfigError
from transforms.sinks.naming import manifest_key
from transforms.sinks.preflight import list_objects
from transforms.sinks.verification import CHECKS, expected_objects, verify_objects

__all__ = ["list_runs", "count_runs", "get_run", "run_manifest", "run_objects", "verify_run", "public_run",
           "stop_runs", "CANCELLABLE", "CLI_USER"]

CANCELLABLE = ("Pending", "Running", "Failed")   # Failed: waiting for its automatic retry
CLI_USER = "eventexport CLI"   # who stopped a run when an operator did it on the command line

_SHOWN = ("id", "request_id", "window_start", "window_end", "time_basis", "run_timestamp", "status", "attempts",
          "next_attempt_at", "started_at", "finished_at", "objects", "rows", "rejected", "bytes", "error",
          "last_progress", "backfill", "stopped_by", "stopped_at")


def _iso(moment):
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def reconciliation(row):
    """A Done run's reconciliation (docs/contracts.md): read = exported + rejected + later (+ superseded
    profile versions, the rest); None before the run is Done or for runs done before it was recorded."""
    if row["status"] != "Done" or row["read_rows"] is None:
        return None
    counts = {"read": row["read_rows"], "exported": row["rows"], "rejected": row["rejected"],
              "rejected_by_reason": row["rejects_by_reason"] or {}, "later": row["later_rows"]}
    counts["superseded"] = counts["read"] - counts["exported"] - counts["rejected"] - counts["later"]
    return counts


def public_run(row):
    """A run as it may be shown: times as ISO-8601 UTC, the scheduler's claim details left out."""
    shown = {k: (_iso(row[k]) if k.endswith(("_at", "_start", "_end")) else row[k]) for k in _SHOWN}
    return dict(shown, reconciliation=reconciliation(row))


def _filtered(query, account, request_id, status, since, until):
    """`request_id` is a prefix; [since, until) keeps runs whose window overlaps it."""
    if status is not None and status not in STATUSES:
        raise ConfigError(f"status {status!r} is not one of {', '.join(STATUSES)}", field="status")
    query = query.where(runs.c.account_id == account)
    if request_id:
        query = query.where(runs.c.request_id.startswith(request_id, autoescape=True))
    if status:
        query = query.where(runs.c.status == status)
    if since is not None:
        query = query.where(runs.c.window_end > utc(since))
    if until is not None:
        query = query.where(runs.c.window_start < utc(until))
    return query


def count_runs(engine, account=DEFAULT_ACCOUNT, request_id=None, status=None, since=None, until=None):
    """How many runs `list_runs` would give with these filters and no paging."""
    with engine.connect() as connection:
        return connection.execute(_filtered(sa.select(sa.func.count()).select_from(runs), account, request_id,
                                            status, since, until)).scalar()


def list_runs(engine, account=DEFAULT_ACCOUNT, request_id=None, status=None, since=None, until=None, limit=100,
              offset=0):
    """The account's runs, newest window first, filtered by request-id prefix, status and window time."""
    if not 1 <= limit <= MAX_PAGE:
        raise ConfigError(f"limit {limit} is not 1 to {MAX_PAGE}", field="limit")
    if offset < 0:
        raise ConfigError(f"offset {offset} is negative", field="offset")
    query = _filtered(sa.select(runs), account, request_id, status, since, until)
    query = query.order_by(runs.c.window_start.desc(), runs.c.id.desc()).limit(limit).offset(offset)
    with engine.connect() as connection:
        return [public_run(r._mapping) for r in connection.execute(query)]


def stop_runs(connection, where, by, now):
    """Mark the runs matching `where` that may still run Stopped, by `by` at `now`; return how many. A
    Running one's pipeline is ended by its scheduler's heartbeat (control/claims.py)."""
    return connection.execute(runs.update().where(where & runs.c.status.in_(CANCELLABLE)).values(
        status="Stopped", stopped_by=by, stopped_at=now, finished_at=now, next_attempt_at=None,
        lease_until=None)).rowcount


def get_run(engine, run_id, account=DEFAULT_ACCOUNT):
    """The account's run `run_id` (stored row); NotFoundError if the account has none by that id."""
    return fetch_one(engine, runs.c.id, run_id, f"no run {run_id!r}; see the activity log",
                     runs.c.account_id == account)


def _manifest_bytes(settings, run):
    if run["status"] != "Done":
        raise ConflictError(f"run {run['id']} is {run['status']}: its manifest is written when it is Done")
    path = os.path.join(settings.manifests, manifest_key("", run["request_id"], run["run_timestamp"]))
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise NotFoundError(f"run {run['id']} is Done but our copy of its manifest is missing from "
                            f"{settings.manifests}; check the deployment's manifests setting") from None


def run_manifest(engine, settings, run_id, account=DEFAULT_ACCOUNT):
    """A Done run's manifest (our copy), as a dict: objects, rejects, totals, window."""
    return json.loads(_manifest_bytes(settings, get_run(engine, run_id, account)))


def run_objects(engine, settings, run_id, account=DEFAULT_ACCOUNT):
    """The objects a Done run wrote, from its manifest: key, event name, date, index, rows, bytes, sha256."""
    return run_manifest(engine, settings, run_id, account)["objects"]


def verify_run(engine, settings, vault, run_id, account=DEFAULT_ACCOUNT):
    """List the bucket with the destination's key and compare with the run's manifest; return {"findings":
    [dicts with problem, key, detail] (none: every object is there as recorded), "checks": [{key, check}]
    (the check each object found as recorded got, verification.CHECKS' text), "counts": {check: objects}}."""
    run = get_run(engine, run_id, account)
    data = _manifest_bytes(settings, run)
    manifest = json.loads(data)
    with engine.connect() as connection:
        destination_name = connection.execute(sa.select(requests.c.destination).where(
            requests.c.id == run["request_id"])).scalar()
    destination = get_destination(engine, destination_name, account)
    run_prefix = f"{destination['prefix']}{run['request_id']}-{run['run_timestamp']}-"
    credentials = s3_settings(destination, vault, get_account(engine, account), run["request_id"])
    listed = list_objects(credentials, destination["bucket"], run_prefix)
    verification = verify_objects(expected_objects(manifest, data, destination["prefix"]), listed)
    return {"findings": [{"problem": f.problem, "key": f.key, "detail": f.detail} for f in verification.findings],
            "checks": [{"key": key, "check": CHECKS[check]} for key, check in verification.checked.items()],
            "counts": {CHECKS[check]: n for check, n in verification.counts().items()}}
