"""Metrics read from the control database at each scrape, so every API server and scheduler shows the same
picture, whoever ran what: runs by account and status, and per account the age of the oldest window that
is due and not exported (the lag a customer sees; it grows while schedulers are down, since it also counts
windows no scheduler has planned yet). Labels are account ids and run statuses: a bounded set."""

import datetime as dt

import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from control.activity import STATUSES
from control.models import accounts, requests, runs, utc

__all__ = ["StateCollector"]

_UNFINISHED = ("Pending", "Running", "Failed")


def _next_window_end(request, last_end):
    """When the first window of `request` that has no run yet ends (None: every window has its run)."""
    if request.frequency == "once":
        return request.window_to if last_end is None else None
    return (last_end or request.created_at) + dt.timedelta(hours=request.every_hours)


def oldest_due(connection, now):
    """{account: the end of its oldest window that is due and not exported}."""
    oldest = dict(connection.execute(
        sa.select(runs.c.account_id, sa.func.min(runs.c.window_end))
        .where(runs.c.status.in_(_UNFINISHED)).group_by(runs.c.account_id)).all())
    last_end = sa.select(runs.c.request_id, sa.func.max(runs.c.window_end).label("last_end")).group_by(
        runs.c.request_id).subquery()
    active = connection.execute(
        sa.select(requests.c.account_id, requests.c.frequency, requests.c.window_to, requests.c.every_hours,
                  requests.c.created_at, last_end.c.last_end)
        .outerjoin(last_end, last_end.c.request_id == requests.c.id).where(requests.c.status == "active"))
    for request in active:
        end = _next_window_end(request, request.last_end)
        if end is not None and end <= now:
            oldest[request.account_id] = min(end, oldest.get(request.account_id, end))
    return oldest


class StateCollector(Collector):
    """Collects `eventexport_runs` and `eventexport_oldest_due_window_age_seconds` from `engine`."""

    def __init__(self, engine):
        self._engine = engine

    def collect(self):
        now = utc(dt.datetime.now(dt.timezone.utc))
        with self._engine.connect() as connection:
            names = connection.execute(sa.select(accounts.c.id)).scalars().all()
            counts = {(a, s): n for a, s, n in connection.execute(
                sa.select(runs.c.account_id, runs.c.status, sa.func.count()).group_by(runs.c.account_id,
                                                                                     runs.c.status))}
            oldest = oldest_due(connection, now)
        by_status = GaugeMetricFamily("eventexport_runs", "Runs in the control database, by account and status",
                                      labels=["account", "status"])
        lag = GaugeMetricFamily("eventexport_oldest_due_window_age_seconds",
                                "Seconds since the oldest window that is due and not exported ended (0: none)",
                                labels=["account"])
        for account in names:
            for status in STATUSES:
                by_status.add_metric([account, status], counts.get((account, status), 0))
            lag.add_metric([account], max(0.0, (now - oldest[account]).total_seconds()) if account in oldest else 0)
        yield by_status
        yield lag
