"""`python -m benchmarks.scheduler`: many accounts' small runs and one account's long run through one scheduler.

Issue 22 asks that one account's long run never hold up another account's first run, and that running
several runs at once pay off: at least 1.6x the runs per minute of one at a time on a 2-core machine.

The scene, built afresh for each concurrency: a SQLite deployment, the local S3 server (moto, IAM
enforced) and one small generated store shared by every account. The account `long` has one export
whose window is the oldest of all, so it is the first due; its bucket is slow (a proxy holds each of its
PutObjects for a while, up to `--long-seconds` in all), which makes its run last several minutes while
using almost no CPU. Then `--accounts` accounts each queue `--runs` one-time exports of an hour of the
store. Everything is due at once, and `run_due` (control/scheduler.py) drains it with real pipeline
children. Reported per concurrency: runs per minute, the drain time, the longest wait of any account's
first run (from the start to its claim), and how many accounts' first runs started only after the long
run had ended (the target is none at the default). Nothing here asserts anything about speed.

    python -m benchmarks.scheduler [--accounts 50] [--runs 2] [--long-seconds 240]
        [--concurrency 1,default] [--out benchmarks/results/scheduler.json]
"""

import argparse
import datetime as dt
import json
import os
import tempfile
import threading
import time
from pathlib import Path

from control import accounts, destinations, exports
from control.models import connect, runs
from control.scheduler import run_due
from control.secrets import Vault
from control.settings import load_settings
from devtools.generate import generate
from devtools.local_s3 import LocalS3Server, provision_least_privilege
from tests.support.s3_faults import FaultProxy
from transforms.sinks.endpoint_guard import ALLOW_PRIVATE_ENV

__all__ = ["main"]

STORE_END = dt.date(2026, 11, 27)
AS_OF = dt.datetime(2026, 11, 28, tzinfo=dt.timezone.utc)   # the generated store's mark is complete before it
DAY = dt.datetime(2026, 11, 27)
STORE_EVENTS = 200                                           # a small run: a few objects of a few rows
HOLD_LIMIT = 50   # seconds one PutObject is held at most: botocore gives up on an answer after 60 s and retries


class _SlowBucket:
    """Holds the long account's PutObjects, each up to HOLD_LIMIT s, until `seconds` are spent."""

    def __init__(self, seconds):
        self.left, self.armed, self._lock = seconds, False, threading.Lock()

    def __call__(self, operation, _number):
        with self._lock:
            hold = min(HOLD_LIMIT, self.left) if self.armed and operation == "PutObject" else 0
            self.left -= hold
        time.sleep(hold)


def _account(engine, vault, name, store, bucket, key, endpoint_url):
    accounts.add_account(engine, account_id=name, event_store=str(store), database_id=name.replace("-", ""),
                         data_region="EU")
    destinations.add_destination(engine, vault, name, name="dest", bucket=bucket, data_region="EU",
                                 access_key_id=key.access_key_id, secret_access_key=key.secret_access_key,
                                 prefix=name, endpoint_url=endpoint_url, path_style=True)


def _export(engine, account, start, hours=1):
    return exports.create_export(engine, account, destination="dest", export_type="all_events", format="json",
                                 frequency="once", window_from=start, window_to=start + dt.timedelta(hours=hours),
                                 now=AS_OF)


def _scene(folder, store, server, args, concurrency):
    """The deployment with every run due; returns (engine, settings, vault, the slow bucket)."""
    environ = {"EVENTEXPORT_DB": f"sqlite:///{folder}/eventexport.db", "EVENTEXPORT_KEY_FILE": f"{folder}/key",
               "EVENTEXPORT_EVENT_STORE": str(store), "EVENTEXPORT_MANIFESTS": f"{folder}/manifests"}
    if concurrency != "default":
        environ["EVENTEXPORT_MAX_CONCURRENT_RUNS"] = str(concurrency)
    settings = load_settings(environ)
    engine, vault = connect(settings.db), Vault(settings)
    bucket = f"sched-{os.getpid()}-{concurrency}"
    key = provision_least_privilege(server, bucket, region="eu-west-1")
    slow = _SlowBucket(args.long_seconds)
    proxy = FaultProxy(server.endpoint_url, on_request=slow)
    _account(engine, vault, "long", store, bucket, key, proxy.endpoint_url)
    _export(engine, "long", DAY - dt.timedelta(hours=24), hours=48)       # the oldest window: first due
    for n in range(args.accounts):
        _account(engine, vault, f"acct-{n:03d}", store, bucket, key, server.endpoint_url)
        for hour in range(args.runs):
            _export(engine, f"acct-{n:03d}", DAY + dt.timedelta(hours=hour % 24))
    slow.armed = True
    return engine, settings, vault, proxy


def _figures(engine, began, concurrency, places):
    with engine.connect() as connection:
        rows = [dict(r._mapping) for r in connection.execute(runs.select())]
    for row in rows:
        row["start"], row["end"] = ((row[k] - began).total_seconds() for k in ("started_at", "finished_at"))
    first = {}
    for row in rows:
        first[row["account_id"]] = min(first.get(row["account_id"], row["start"]), row["start"])
    long_run = next(row for row in rows if row["account_id"] == "long")
    drain = max(row["end"] for row in rows)
    return {"concurrency": concurrency, "places": places, "runs": len(rows),
            "done": sum(row["status"] == "Done" for row in rows),
            "drain_s": round(drain, 1), "runs_per_minute": round(len(rows) / drain * 60, 1),
            "long_run_s": round(long_run["end"] - long_run["start"], 1),
            "longest_first_wait_s": round(max(first.values()), 1),
            # accounts whose first run started only once the long run had ended
            "first_runs_after_the_long_run": sum(1 for account, start in first.items()
                                                 if account != "long" and start >= long_run["end"]),
            # an account's second or later run started while another account's first had not (not round-robin)
            "later_runs_before_a_first": sum(1 for row in rows
                                             if first[row["account_id"]] < row["start"] < max(first.values()))}


def _measure(store, server, args, concurrency):
    with tempfile.TemporaryDirectory(prefix="bench-scheduler-") as folder:
        engine, settings, vault, proxy = _scene(folder, store, server, args, concurrency)
        with proxy:
            began = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
            run_due(engine, settings, vault, AS_OF, log=lambda _line: None)
        figures = _figures(engine, began, concurrency, settings.max_concurrent_runs)
        engine.dispose()
        return figures


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scheduler", description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--runs", type=int, default=2, help="small runs each account queues (the issue's full "
                        "scene is 20: about ten times as long)")
    parser.add_argument("--long-seconds", type=float, default=240, help="how long the long account's bucket "
                        "holds its uploads in all")
    parser.add_argument("--concurrency", default="1,default", help="comma-separated: numbers or `default`")
    parser.add_argument("--out", help="write the figures here as JSON")
    args = parser.parse_args(argv)
    os.environ[ALLOW_PRIVATE_ENV] = "true"   # the local S3 server and its proxy are on 127.0.0.1
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-scheduler-store-") as folder:
        generate(folder, STORE_EVENTS, 1, "parquet", seed=3, end=STORE_END)
        with LocalS3Server(record_headers=False) as server:
            for concurrency in args.concurrency.split(","):
                results.append(_measure(Path(folder) / "events", server, args, concurrency))
                print(json.dumps(results[-1]), flush=True)
    base = results[0]["runs_per_minute"]
    print(f"\n{'concurrency':>11} {'places':>6} {'runs':>5} {'drain s':>8} {'runs/min':>8} {'x':>5} "
          f"{'long run s':>10} {'longest first wait s':>20} {'firsts after long':>17} {'later before a first':>20}")
    for r in results:
        print(f"{r['concurrency']:>11} {r['places']:>6} {r['runs']:>5} {r['drain_s']:>8} {r['runs_per_minute']:>8} "
              f"{r['runs_per_minute'] / base:>5.2f} {r['long_run_s']:>10} {r['longest_first_wait_s']:>20} "
              f"{r['first_runs_after_the_long_run']:>17} {r['later_runs_before_a_first']:>20}")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump({"accounts": args.accounts, "runs_per_account": args.runs, "long_seconds": args.long_seconds,
                       "cores": len(os.sched_getaffinity(0)), "results": results}, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
