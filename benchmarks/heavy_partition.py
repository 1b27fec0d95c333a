"""`python -m benchmarks.heavy_partition`: does one heavy (event, date) partition pin the run to one worker?

    python -m benchmarks.heavy_partition [--events 1000000] [--distinct] [--max-file-bytes 4194304] [--format json]
        [--contenders ours,ours_2w,dask] [--repeat 1] [--workdir $TMPDIR/eventexport-heavy]

Builds (once, reused) a one-day Parquet store where one event dominates: devtools.generate's store with
every "Product Viewed", "Search" and "Notification Viewed" renamed "App Launched", so about 70% of the
rows are one (event, date) partition (`--distinct`: devtools.store_variety's `--distinct all
--long-values`, nearly every map text distinct, so encoding is most of the work). Then exports it, each run its own measured child process
(benchmarks.measure), with the in-process runner and one worker (ours), two workers
(`--direct_num_workers=2 --direct_running_mode=multi_processing`, ours_2w), and a local Dask cluster of
two single-threaded workers (dask); prints wall times and each contender's ratio to ours. For dask it
also prints what a busy machine does not blur: each worker's compute seconds (from the task stream) and
the longest task, which is the heavy partition's writing when one worker writes it. The default
--max_file_bytes is small so that the partition makes dozens of files (at 100 MB it would make one).
Nothing here asserts anything about speed; run it on a quiet machine, or under `nice` for a ratio only.
"""

import argparse
import datetime as dt
import glob
import json
import os
import shutil
import statistics
import sys
import tempfile

import contextlib

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from benchmarks.dask_contender import DASK
from benchmarks.measure import run_measured
from devtools.generate import generate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOMINANT = "App Launched"
RENAMED = ("Product Viewed", "Search", "Notification Viewed")
DAY, START, END = "2026-11-20", "2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z"


def make_store(workdir, events, distinct):
    """The store folder (made once per event count and profile): one day, one event dominating."""
    root = os.path.join(workdir, f"store-{events}" + ("-distinct" if distinct else ""))
    done = os.path.join(root, "done.json")
    if os.path.exists(done):
        return os.path.join(root, "events")
    shutil.rmtree(root, ignore_errors=True)
    generate(root, events, 1, "parquet", seed=3, end=dt.date.fromisoformat(DAY),
             distinct="all" if distinct else "natural", long_values=distinct)
    for path in glob.glob(os.path.join(root, "events", "*", "*.parquet")):
        table = pq.read_table(path)
        names = table["event_name"]
        renamed = pc.if_else(pc.is_in(names, pa.array(RENAMED)), DOMINANT, names)
        pq.write_table(table.set_column(table.schema.get_field_index("event_name"), "event_name", renamed), path)
    with open(done, "w", encoding="ascii") as handle:
        json.dump({"events": events}, handle)
    return os.path.join(root, "events")


def command(source, destination, fmt, limit, extra):
    return [sys.executable, "-m", "pipelines.export", "--source", source, "--destination", destination,
            "--format", fmt, "--start", START, "--end", END, "--request_id", "heavy", "--run_timestamp",
            "20261121000000", "--database_id", "bench", "--max_file_bytes", str(limit), *extra]


def run_one(contender, source, workdir, fmt, limit):
    out = os.path.join(workdir, "out", contender)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    extra = {"ours": [], "ours_2w": ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]}.get(contender)
    if extra is None:
        extra = DASK.options()
    env = dict(os.environ, PYTHONPATH=ROOT)
    with contextlib.ExitStack() as stack:
        tasks = None
        if contender == "dask":
            from distributed import get_task_stream
            tasks = stack.enter_context(get_task_stream(stack.enter_context(DASK.cluster.client())))
        result = run_measured(command(source, out, fmt, limit, extra), env=env, cwd=ROOT,
                              stdout_path=out + ".out", stderr_path=out + ".err")
    if tasks is not None:
        busy, longest = {}, 0.0
        for task in tasks.data:
            seconds = sum(s["stop"] - s["start"] for s in task["startstops"] if s["action"] == "compute")
            busy[task["worker"]] = busy.get(task["worker"], 0.0) + seconds
            longest = max(longest, seconds)
        result["tasks"] = f"workers compute {sorted(round(v, 1) for v in busy.values())} s, longest task {longest:.1f} s"
    if result["exit_code"] != 0:
        with open(out + ".err", encoding="utf-8", errors="replace") as err:
            raise SystemExit(f"{contender} failed: {err.read()[-2000:]}")
    files = glob.glob(os.path.join(out, "*"))
    result["objects"] = len(files) - 1
    if contender == "dask":
        result["workers_cpu_s"] = DASK.workers_cpu_s()
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--distinct", action="store_true")
    parser.add_argument("--max-file-bytes", type=int, default=4 << 20)
    parser.add_argument("--format", default="json")
    parser.add_argument("--contenders", default="ours,ours_2w,dask")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "eventexport-heavy"))
    args = parser.parse_args(argv)
    source = make_store(args.workdir, args.events, args.distinct)
    contenders = args.contenders.split(",")
    walls = {name: [] for name in contenders}
    try:
        for _ in range(args.repeat):
            for name in contenders:
                result = run_one(name, source, args.workdir, args.format, args.max_file_bytes)
                walls[name].append(result["wall_s"])
                print(f"{name:8} wall {result['wall_s']:7.1f} s  cpu {result['user_cpu_s'] + result['sys_cpu_s']:6.1f} s"
                      f"  objects {result['objects']}  others {result['other_cpu_cores'] or 0:.2f} cores"
                      + (f"  workers cpu {result['workers_cpu_s']:.1f} s; {result['tasks']}" if "tasks" in result else ""),
                      flush=True)
    finally:
        DASK.stop()
    base = statistics.median(walls[contenders[0]])
    for name in contenders:
        median = statistics.median(walls[name])
        print(f"{name:8} median wall {median:7.1f} s, {base / median:.2f}x {contenders[0]}")


if __name__ == "__main__":
    main()
