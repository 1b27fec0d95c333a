"""How close estimates come to real exports, per format and bench store profile, and how long they take.

    python -m benchmarks.estimates [--events 300000] [--days 3] [--profiles natural,distinct,hostile]
        [--formats json,xml,csv,parquet,avro] [--workdir /tmp/estimates-bench] [--timing-store DIR]

For each store profile (the benchmark's: benchmarks/stores.py STORE_PROFILES) a Parquet store is generated
once; for each format the estimate of a one-time export of the store's days is compared with the real
export's manifest (rows, and the bytes of its data objects) on the in-process runner. With
--timing-store, the estimate of a 60-day window of that store (devtools.generate --days 60) is timed
instead, once per format after one warm-up. Prints one JSON line per measurement; docs/performance.md
("Estimates") holds the figures.
"""

import argparse
import datetime as dt
import json
import os
import tempfile
import time

from benchmarks.stores import STORE_PROFILES

END_DATE = dt.date(2026, 11, 20)
_UTC = dt.timezone.utc


def _window(days, end=END_DATE):
    start = dt.datetime.combine(end - dt.timedelta(days=days - 1), dt.time(), _UTC)
    return start, dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), _UTC)


def _store(workdir, profile, events, days):
    from devtools.generate import generate
    root = os.path.join(workdir, f"store-{profile}-{events}-{days}")
    if not os.path.exists(root):
        generate(root, events, days, "parquet", seed=1, end=END_DATE, **STORE_PROFILES[profile])
    return os.path.join(root, "events")


def _export(store, fmt, start, end, out):
    from pipelines.export import run
    status, text = run(["--source", store, "--destination", out, "--format", fmt, "--request_id", "est",
                        "--run_timestamp", "20261121000000", "--database_id", "bench", "--start", start.isoformat(),
                        "--end", end.isoformat(), "--max_reject_fraction", "1"])
    if status:
        raise SystemExit(text)
    with open(os.path.join(out, "est-20261121000000-manifest.json"), encoding="utf-8") as handle:
        manifest = json.load(handle)
    return manifest["totals"]


def compare(workdir, profile, events, days, formats):
    from control.estimates import estimate
    store = _store(workdir, profile, events, days)
    start, end = _window(days)
    for fmt in formats:
        guess = estimate(store, export_type="all_events", format=fmt, frequency="once", window_from=start,
                         window_to=end)
        with tempfile.TemporaryDirectory(dir=workdir) as out:
            real = _export(store, fmt, start, end, out)
        print(json.dumps({"profile": profile, "events": events, "format": fmt,
                          "rows": [guess["rows"], real["rows"]], "bytes": [guess["bytes"], real["bytes"]],
                          "objects": [guess["objects"], real["objects"]],
                          "rows_error": round(guess["rows"] / real["rows"] - 1, 4),
                          "bytes_error": round(guess["bytes"] / real["bytes"] - 1, 4)}), flush=True)


def timing(store, formats, days=60):
    from control.estimates import estimate
    with open(os.path.join(store, "_watermark.json"), encoding="utf-8") as handle:
        last = dt.datetime.fromtimestamp(json.load(handle)["complete_before"] / 1000, _UTC).date()
    start, end = _window(days, last - dt.timedelta(days=1))
    settings = dict(export_type="all_events", frequency="once", window_from=start, window_to=end)
    estimate(store, format=formats[0], **settings)   # imports and the page cache, as a serving process has them
    for fmt in formats:
        began, cpu = time.perf_counter(), time.process_time()
        guess = estimate(store, format=fmt, **settings)
        print(json.dumps({"store": store, "format": fmt, "window_days": days,
                          "seconds": round(time.perf_counter() - began, 3),
                          "cpu_seconds": round(time.process_time() - cpu, 3), "rows": guess["rows"],
                          "files": guess["basis"]["files"], "sampled_rows": guess["basis"]["sampled_rows"]}),
              flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.estimates", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--profiles", default="natural,distinct,hostile")
    parser.add_argument("--formats", default="json,xml,csv,parquet,avro")
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "estimates-bench"))
    parser.add_argument("--timing-store", help="an events store of 60 days or more: time the estimate alone")
    args = parser.parse_args(argv)
    formats = args.formats.split(",")
    if args.timing_store:
        timing(args.timing_store, formats)
        return 0
    os.makedirs(args.workdir, exist_ok=True)
    for profile in args.profiles.split(","):
        compare(args.workdir, profile, args.events, args.days, formats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
