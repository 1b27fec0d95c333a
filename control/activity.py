"""The activity log: every export request and each of its runs, until Done.

One entry per run; a request that has no run yet (its first window has not ended) shows as one
Pending entry, so a new export is visible from the moment it is created. A run shows the pipeline's
latest progress line (rows read and written so far), which a long run renews while it goes.
"""

import sqlalchemy as sa

from control.models import requests, runs

__all__ = ["activity", "STATUSES", "COLUMNS"]

STATUSES = ("Pending", "Running", "Done", "Failed", "Stopped")
COLUMNS = ("request_id", "type", "frequency", "format", "window_start", "window_end", "status", "objects", "rows",
           "bytes", "started", "finished", "attempts", "error", "progress")


def _iso(moment):
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def activity(engine, request_id=None, status=None):
    query = (sa.select(requests, runs.c.window_start, runs.c.window_end, runs.c.status.label("run_status"),
                       runs.c.objects, runs.c.rows, runs.c.bytes, runs.c.started_at, runs.c.finished_at,
                       runs.c.attempts, runs.c.error, runs.c.last_progress)
             .select_from(requests.outerjoin(runs, runs.c.request_id == requests.c.id))
             .order_by(requests.c.created_at, requests.c.id, runs.c.window_start))
    if request_id:
        query = query.where(requests.c.id == request_id)
    entries = []
    with engine.connect() as connection:
        for row in connection.execute(query):
            row = row._mapping
            state = row["run_status"] or ("Stopped" if row["status"] == "stopped" else "Pending")
            if status and state != status:
                continue
            every = f" every {row['every_hours']}h" if row["every_hours"] else ""
            entries.append({
                "request_id": row["id"], "type": row["export_type"], "frequency": row["frequency"] + every,
                "format": row["format"], "destination": row["destination"], "events": row["events"],
                "window_start": _iso(row["window_start"] or row["window_from"]),
                "window_end": _iso(row["window_end"] or row["window_to"]), "status": state,
                "objects": row["objects"], "rows": row["rows"], "bytes": row["bytes"],
                "started": _iso(row["started_at"]), "finished": _iso(row["finished_at"]),
                "attempts": row["attempts"] or 0, "error": row["error"],
                "progress": row["last_progress"],
            })
    return entries
