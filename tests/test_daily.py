"""control/daily.py: a recurring export's rows per day, which the export page's chart draws: Done runs
only, on the UTC day their window starts, gaps as zeros, and only the asking account's export."""

import datetime as dt

import pytest

from control import exports
from control.accounts import ensure_default_account
from control.daily import daily_counts
from control.errors import NotFoundError
from control.models import connect, destinations, runs
from control.settings import load_settings

NOW = dt.datetime(2026, 11, 20)


@pytest.fixture
def engine(tmp_path):
    url = f"sqlite:///{tmp_path}/daily.db"
    engine = connect(url)
    ensure_default_account(engine, load_settings({"EVENTEXPORT_DB": url}))
    with engine.begin() as connection:
        connection.execute(destinations.insert().values(
            account_id="default", name="acme", bucket="acme-exports", prefix="", data_region="EU",
            access_key_id_sealed="-", secret_sealed="-", created_at=NOW))
    yield engine
    engine.dispose()


def _run(connection, request_id, start, status, rows=None, rejected=None, later=None):
    connection.execute(runs.insert().values(
        request_id=request_id, account_id="default", window_start=start, window_end=start + dt.timedelta(hours=12),
        time_basis="capture", run_timestamp=start.strftime("%Y%m%d%H%M%S"), status=status, attempts=1,
        rows=rows, rejected=rejected, later_rows=later))


def test_days_sum_done_runs_and_show_gaps(engine):
    request_id = exports.create_export(engine, destination="acme", export_type="all_events", format="json",
                                       frequency="recurring", every="12h", now=NOW)
    with engine.begin() as connection:
        _run(connection, request_id, NOW, "Done", 100, 2, 1)
        _run(connection, request_id, NOW + dt.timedelta(hours=12), "Done", 50, 0, 0)
        _run(connection, request_id, NOW + dt.timedelta(days=1), "Failed")             # not counted
        _run(connection, request_id, NOW + dt.timedelta(days=2, hours=12), "Done", 7, 3, 0)
    answer = daily_counts(engine, request_id)
    assert answer == {"request_id": request_id, "frequency": "recurring", "days": [
        {"date": "2026-11-20", "runs": 2, "exported": 150, "rejected": 2, "later": 1},
        {"date": "2026-11-21", "runs": 0, "exported": 0, "rejected": 0, "later": 0},
        {"date": "2026-11-22", "runs": 1, "exported": 7, "rejected": 3, "later": 0},
    ]}
    with pytest.raises(NotFoundError):
        daily_counts(engine, request_id, account="another")
