"""`python -m benchmarks.console_pages`: how long the console takes to render its pages with 10,000 runs
in the log (issue 10 asks for under 200 ms).

Builds a SQLite deployment with one account, a destination row, 100 export requests and `--runs` runs
spread over them, then renders each page `--repeat` times in-process (FastAPI's TestClient: the whole
request, routing, database and template, without a network hop) and prints the median and the worst.
Nothing here asserts anything about speed.

    python -m benchmarks.console_pages [--runs 10000] [--repeat 20]
"""

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from control.models import destinations, requests, runs
from tests.support.console_deployment import ADMIN, console_deployment, log_in, recent_store

__all__ = ["main"]

REQUESTS = 100


def _fill(engine, count):
    start = dt.datetime(2026, 1, 1)
    with engine.begin() as connection:
        connection.execute(destinations.insert().values(
            account_id="default", name="acme", bucket="acme-exports", prefix="", data_region="EU",
            path_style=False, sse="none", access_key_id_sealed="x", secret_sealed="x", created_at=start))
        connection.execute(requests.insert(), [
            {"id": f"req{i:05d}", "account_id": "default", "destination": "acme", "export_type": "all_events",
             "events": [], "format": "json", "frequency": "recurring", "every_hours": 4, "status": "active",
             "created_at": start + dt.timedelta(minutes=i)} for i in range(REQUESTS)])
        connection.execute(runs.insert(), [
            {"request_id": f"req{i % REQUESTS:05d}", "account_id": "default",
             "window_start": start + dt.timedelta(hours=4 * (i // REQUESTS)),
             "window_end": start + dt.timedelta(hours=4 * (i // REQUESTS) + 4), "time_basis": "capture",
             "run_timestamp": "20260101040000", "status": "Running" if i == count - 1 else "Done", "attempts": 1,
             "objects": 3, "rows": 1000 + i, "bytes": 50_000 + i} for i in range(count)])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.console_pages", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        store = recent_store(Path(tmp) / "store")
        _settings, engine, _vault, app = console_deployment(Path(tmp), store)
        _fill(engine, args.runs)
        client = TestClient(app)
        log_in(client, ADMIN)
        pages = {"activity, first page": "/console/activity",
                 "activity, last page": f"/console/activity?page={args.runs // 50}",
                 "activity, search by request id": "/console/activity?q=req0004",
                 "activity, live refresh": "/console/activity?fragment=log",
                 "a run": "/console/runs/5000", "settings > partners > exports": "/console/settings/exports"}
        print(f"{args.runs:,} runs, {REQUESTS} export requests, SQLite; milliseconds over {args.repeat} renders")
        print(f"{'page':34} {'median':>8} {'worst':>8}")
        for name, path in pages.items():
            assert client.get(path).status_code == 200, path
            times = []
            for _ in range(args.repeat):
                began = time.perf_counter()
                client.get(path)
                times.append((time.perf_counter() - began) * 1000)
            print(f"{name:34} {statistics.median(times):8.1f} {max(times):8.1f}")


if __name__ == "__main__":
    main()
