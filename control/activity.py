"""The activity log: every export request of an account and each of its runs, until Done.

One entry per run; a request that has no run yet (its first window has not ended) shows as one
Pending entry, so a new export is visible from the moment it is created. A run shows the pipeline's
latest progress line (rows read and written so far), which a long run renews while it goes; a
Pending run whose data is not in the store yet shows "waiting for data up to T" and why instead.
Filters and paging happen in the database, so a page costs the same with ten runs or ten thousand.
"""

import sqlalchemy as sa

from control.accounts import DEFAULT_ACCOUNT
from control.models import requests, runs, utc
from transforms.errors import ConfigError

__all__ = ["activity", "count_activity", "any_unfinished", "STATUSES", "COLUMNS", "MAX_PAGE"]

STATUSES = ("Pending", "Running", "Done", "Failed", "Stopped")
COLUMNS = ("request_id", "run_id", "type", "frequency", "format", "window_start", "window_end", "status", "backfill",
           "objects", "rows", "rejected", "later", "read", "bytes", "started", "finished", "attempts", "error",
           "progress")
MAX_PAGE = 500   # one page of the log; a screen never shows more


def _iso(moment):
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


_STATE = sa.func.coalesce(runs.c.status, sa.case((requests.c.status == "stopped", "Stopped"), else_="Pending"))
_START = sa.func.coalesce(runs.c.window_start, requests.c.window_from, requests.c.created_at)
_END = sa.func.coalesce(runs.c.window_end, requests.c.window_to, requests.c.created_at)


def _filtered(query, account, request_id, status, since, until):
    """`request_id` is a prefix; [since, until) keeps entries whose window overlaps it (a request with no
    run yet and no window is placed at its creation)."""
    if status is not None and status not in STATUSES:
        raise ConfigError(f"status {status!r} is not one of {', '.join(STATUSES)}", field="status")
    query = (query.select_from(requests.outerjoin(runs, runs.c.request_id == requests.c.id))
             .where(requests.c.account_id == account))
    if request_id:
        query = query.where(requests.c.id.startswith(request_id, autoescape=True))
    if status:
        query = query.where(_STATE == status)
    if since is not None:
        query = query.where(sa.or_(_END > utc(since), _START >= utc(since)))
    if until is not None:
        query = query.where(_START < utc(until))
    return query


def any_unfinished(engine, account=DEFAULT_ACCOUNT):
    """Whether the account's log has a Pending or Running entry: a run in either state, or an active
    request still waiting for its first run. Two index lookups, however long the log."""
    with engine.connect() as connection:
        if connection.execute(sa.select(runs.c.id).where(
                (runs.c.account_id == account) & runs.c.status.in_(("Pending", "Running"))).limit(1)).first():
            return True
        return connection.execute(sa.select(requests.c.id).where(
            (requests.c.account_id == account) & (requests.c.status == "active")
            & ~sa.exists().where(runs.c.request_id == requests.c.id)).limit(1)).first() is not None


def count_activity(engine, account=DEFAULT_ACCOUNT, request_id=None, status=None, since=None, until=None):
    """How many log entries `activity` would give with these filters and no paging."""
    query = _filtered(sa.select(sa.func.count()), account, request_id, status, since, until)
    with engine.connect() as connection:
        return connection.execute(query).scalar()


def activity(engine, account=DEFAULT_ACCOUNT, request_id=None, status=None, since=None, until=None, limit=None,
             offset=0, newest_first=False):
    """The account's log entries (dicts, COLUMNS and more) filtered by request-id prefix, status and time."""
    if limit is not None and not 1 <= limit <= MAX_PAGE:
        raise ConfigError(f"limit {limit} is not 1 to {MAX_PAGE}", field="limit")
    if offset < 0:
        raise ConfigError(f"offset {offset} is negative", field="offset")
    order = (requests.c.created_at, requests.c.id, runs.c.window_start)
    query = _filtered(sa.select(requests, _STATE.label("state"), runs.c.id.label("run_id"), runs.c.window_start,
                                runs.c.window_end, runs.c.objects, runs.c.rows, runs.c.rejected, runs.c.bytes,
                                runs.c.read_rows, runs.c.later_rows,
                                runs.c.started_at, runs.c.finished_at, runs.c.attempts, runs.c.error,
                                runs.c.last_progress, runs.c.backfill),
                      account, request_id, status, since, until)
    query = query.order_by(*(c.desc() if newest_first else c for c in order)).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    entries = []
    with engine.connect() as connection:
        for row in connection.execute(query):
            row = row._mapping
            every = f" every {row['every_hours']}h" if row["every_hours"] else ""
            entries.append({
                "request_id": row["id"], "run_id": row["run_id"], "type": row["export_type"],
                "frequency": row["frequency"] + every, "format": row["format"], "destination": row["destination"],
                "events": row["events"], "window_start": _iso(row["window_start"] or row["window_from"]),
                "window_end": _iso(row["window_end"] or row["window_to"]), "status": row["state"],
                "objects": row["objects"], "rows": row["rows"], "rejected": row["rejected"], "bytes": row["bytes"],
                "read": row["read_rows"], "later": row["later_rows"],
                "started": _iso(row["started_at"]), "finished": _iso(row["finished_at"]),
                "attempts": row["attempts"] or 0, "error": row["error"], "progress": row["last_progress"],
                "backfill": bool(row["backfill"]),
            })
    return entries
