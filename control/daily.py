"""An export's daily counts: rows its Done runs exported, rejected and left to later runs, per day.

The export page draws them as a chart (console/static/export_chart.js). A run counts on the UTC day its
window starts (a recurring export's windows are 4 to 24 hours; one that crosses midnight counts on the day
it began). Days between the first and the last that had no Done run are answered with zeros, so a
chart shows a gap as a gap rather than joining its neighbours.
"""

import datetime as dt

import sqlalchemy as sa

from control.accounts import DEFAULT_ACCOUNT
from control.exports import get_export
from control.models import runs

__all__ = ["daily_counts", "MAX_DAYS"]

MAX_DAYS = 366   # the newest days an answer holds: a year of windows is plenty for a chart


def daily_counts(engine, request_id, account=DEFAULT_ACCOUNT):
    """{"request_id", "frequency", "days": [{"date", "runs", "exported", "rejected", "later"}, ...]} oldest
    day first; NotFoundError if the account has no such export."""
    request = get_export(engine, request_id, account)
    query = sa.select(runs.c.window_start, runs.c.rows, runs.c.rejected, runs.c.later_rows).where(
        runs.c.request_id == request_id, runs.c.account_id == account, runs.c.status == "Done")
    totals = {}
    with engine.connect() as connection:
        for start, exported, rejected, later in connection.execute(query):
            day = totals.setdefault(start.date(), {"runs": 0, "exported": 0, "rejected": 0, "later": 0})
            day["runs"] += 1
            day["exported"] += exported or 0
            day["rejected"] += rejected or 0
            day["later"] += later or 0
    days = []
    if totals:
        first, last = min(totals), max(totals)
        first = max(first, last - dt.timedelta(days=MAX_DAYS - 1))
        for offset in range((last - first).days + 1):
            date = first + dt.timedelta(days=offset)
            days.append(dict(date=date.isoformat(), **totals.get(date, {"runs": 0, "exported": 0, "rejected": 0,
                                                                            "later": 0})))
    return {"request_id": request_id, "frequency": request["frequency"], "days": days}
