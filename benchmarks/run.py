"""`python -m benchmarks.run`: time eventexport against its peers on one generated event store.

    python -m benchmarks.run [--events 1000000] [--store-profile natural|distinct|hostile]
        [--formats json,csv,xml,parquet,avro] [--out benchmarks/results/PROFILE-EVENTS.json] [--skip-s3]
        [--s3-formats json] [--s3store-formats json,parquet] [--workdir DIR]
        [--contenders ours,ours_2w,ours_2t,ours_s3,s3store,dask,duckdb,stock_beam]
        [--keep-outputs] [--days 3] [--seed 1] [--repeat 1]
    make bench EVENTS=5000000 PROFILE=distinct REPEAT=3

What it does, in one run:
1. Generates one Parquet event store of N events (devtools.generate, seed 1, `--days` days ending
   2026-11-20) under WORKDIR/store-PROFILE, or reuses the one a previous run left there with the same
   settings. `--store-profile natural` is the generator's own store (map texts repeat as a user's
   profile does); `distinct` adds `--distinct all --long-values` (devtools.store_variety: nearly every
   map text distinct, long escape-heavy values), where repetition does not help an exporter; `hostile`
   adds `--distinct all --hostile-values` (keys and values full of what each format must
   escape, a 3 KB value in a twelfth of the events), values that fight every format's escaping.
2. Picks the event-time window [first event's UTC day, day after the last event) from the store itself,
   so every generated event is inside it (checked: the run stops if not).
3. For each format, runs every contender as its own child process, one after the other, and measures
   it with benchmarks.measure (wall time, CPU time, peak RSS; see there for how RSS is taken):
   - ours:       python -m pipelines.export ... --format F (in-process FnApiRunner, one worker)
   - ours_2w:    the same plus --direct_num_workers=2 --direct_running_mode=multi_processing
   - ours_2t:    the same plus --direct_num_workers=2 --direct_running_mode=multi_threading (two workers
                 as threads of one process: no second start-up; the hot paths are Arrow, ISA-L and
                 parquet C++ code that releases the GIL, the Python between them does not)
   - ours_s3:    the same as ours into a local IAM-enforcing S3 (moto, devtools.local_s3) with the
                 least-privilege key (--s3-formats, default json only; --skip-s3 drops it)
   - s3store:    the same as ours reading the same store from that S3 server: landed once in a platform
                 bucket, read with the platform's key through Beam's --s3_endpoint_url, written to a local
                 folder as ours is, so only where the store lives differs (--s3store-formats, default json and
                 parquet; --skip-s3 drops it). The server shares the machine's cores with the export.
   - dask:       the same as ours through Beam's DaskRunner on a local cluster, a scheduler and two
                 single-threaded workers (benchmarks.dask_contender; it also reports the workers' CPU)
   - duckdb:     benchmarks.peers duckdb, one thread. DuckDB has no XML writer, so under xml it writes
                 JSON: the brief is "XML at least DuckDB's JSON rate". No Avro writer: avro has no peer.
   - stock_beam: benchmarks.peers beam (json only)
   With --repeat N the whole plan runs N times, round after round (so a slow spell of the machine
   hits every contender alike), and each contender reports its median-wall run (`wall_s_runs` lists all).
4. Reads every output back (benchmarks.count) to count rows and bytes, then deletes it (--keep-outputs
   keeps WORKDIR/out/<format>/<contender>/). Nothing here asserts anything about speed.
5. Prints a table and writes the same numbers, the machine and the versions as JSON to --out, and a
   chart (benchmarks.chart: events/s and peak RSS per format and contender) beside it as .png.

Definitions (also written into the JSON under "definitions"):
- wall_s: wall time of the whole child process, interpreter start and imports included (what a user
  running the command waits for). `baseline.import_beam_s` is the cost of starting Python and importing
  Beam and our pipeline alone, for reading small runs, where it dominates.
- events/s: events in the window / wall_s (the same numerator for every contender; `complete` says
  whether the rows read back from the contender's files equal it).
- raw bytes: the size of the window's events as uncompressed JSON Lines in our export's shape
  (`{"profile": P, "ts": 20261118000738, "deviceInfo": D, "eventProps": E}\n`, deviceInfo left out when
  empty, P/D/E the store's JSON text), computed from the store, without the per-file first line holding
  the event name. The same number for every format and contender, so raw MB/s compares across them.
  (The run checks it against our own JSON output and reports `raw_bytes_checked`.) MB = 10^6 bytes.
- output bytes: the data files as stored (gzip / Parquet / Avro), without our manifest.
- compression ratio: raw bytes / output bytes. gzip_ratio (text formats): the files' own decompressed
  size / their stored size.
- peak RSS: MiB (2^20 bytes), sampled from /proc every 0.05 s (benchmarks/measure.py says why not the
  kernel's ru_maxrss). peak_rss_mib is the largest single process of the command, tree_peak_rss_mib the
  sum over the command's live process tree (what 2 workers + the runner hold at once).
- others (other_cpu_cores): CPU the rest of the machine used while the contender ran, in cores
  (machine busy time from /proc/stat minus the contender's and the sampler's, / wall_s). Near 0 on a
  quiet machine; the table warns above 0.25, since such a timing is inflated by contention.
- ratios: events/s of the first named contender / events/s of the second (> 1: the first is faster);
  `ours/ours_json`: a format's own rate against our JSON's in the same run.
- code_fingerprint: hash of pipelines/ and transforms/ taken before every contender and at the end; the
  table warns when they differ (someone edited the exporter mid-run), as it does for busy CPUs.
"""

import argparse
import datetime as dt
import gzip
import json
import os
import re
import shutil
import sys
import tempfile
import uuid

from benchmarks.chart import draw
from benchmarks.count import count_outputs, data_files
from benchmarks.dask_contender import DASK
from benchmarks.measure import run_measured
from benchmarks.provenance import code_fingerprint, git_state, machine_info
from benchmarks.report import DEFINITIONS, MB, ratios, representative, table
from benchmarks.stores import END_DATE, STORE_PROFILES, describe_store, prepare_store

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FORMATS = ("json", "csv", "xml", "parquet", "avro")
TWO_WORKERS = {mode: ["--direct_num_workers=2", f"--direct_running_mode=multi_{kind}"]
               for mode, kind in (("ours_2w", "processing"), ("ours_2t", "threading"))}
CONTENDERS = ("ours", "ours_2w", "ours_2t", "ours_s3", "s3store", "dask", "duckdb", "stock_beam")
DUCKDB_FORMAT = {"json": "json", "csv": "csv", "parquet": "parquet", "xml": "json"}
RUN_TIMESTAMP = "20261121000000"
SECRET_ENV = "EVENTEXPORT_DESTINATION_SECRET_ACCESS_KEY"


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--store-profile", choices=sorted(STORE_PROFILES), default="natural",
                        help="distinct: nearly every map text distinct, long escape-heavy values; "
                             "hostile: distinct, with hostile keys and values and 3 KB values")
    parser.add_argument("--formats", default="json,csv,xml,parquet,avro")
    parser.add_argument("--out", help="results JSON (a .png chart is written beside it); "
                                      "default benchmarks/results/PROFILE-EVENTS.json")
    parser.add_argument("--skip-s3", action="store_true", help="no ours_s3 or s3store contender (no moto server)")
    parser.add_argument("--s3-formats", default="json", help="formats also exported to the local S3")
    parser.add_argument("--s3store-formats", default="json,parquet", help="formats also exported from the store "
                                                                         "on the local S3")
    parser.add_argument("--workdir", help="store and outputs here (the store is reused by later runs); "
                                          "default: a temporary folder, removed at the end")
    parser.add_argument("--contenders", default=",".join(CONTENDERS), help="a subset of " + ",".join(CONTENDERS))
    parser.add_argument("--keep-outputs", action="store_true", help="keep WORKDIR/out/<format>/<contender>")
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per contender")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of the whole plan; each contender "
                                                              "reports its median-wall run")
    args = parser.parse_args(argv)
    args.formats = _csv_list(parser, args.formats, FORMATS, "--formats")
    args.s3_formats = _csv_list(parser, args.s3_formats, FORMATS, "--s3-formats")
    args.s3store_formats = _csv_list(parser, args.s3store_formats, FORMATS, "--s3store-formats")
    args.contenders = _csv_list(parser, args.contenders, CONTENDERS, "--contenders")
    if args.events < 1:
        parser.error("--events must be positive")
    if args.repeat < 1:
        parser.error("--repeat must be positive")
    args.out = args.out or os.path.join(ROOT, "benchmarks", "results", f"{args.store_profile}-{args.events}.json")
    return args


def _csv_list(parser, text, allowed, option):
    items = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [item for item in items if item not in allowed]
    if unknown or not items:
        parser.error(f"{option}: expected a comma-separated subset of {','.join(allowed)}, got {text!r}")
    return items


# ---- contenders -------------------------------------------------------------------------------------

def child_env(extra=None):
    """The environment of every measured command: ours, with no AWS_* credentials and the repo importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != SECRET_ENV}
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra or {})
    return env


def ours_command(source, destination, fmt, window, extra=()):
    return [sys.executable, "-m", "pipelines.export", "--source", source, "--destination", destination,
            "--format", fmt, "--start", window["start"], "--end", window["end"], "--time_basis", "event",
            "--request_id", "bench", "--run_timestamp", RUN_TIMESTAMP, "--database_id", "bench", *extra]


def peer_command(peer, source, destination, fmt, window):
    return [sys.executable, "-m", "benchmarks.peers", peer, "--source", source, "--destination", destination,
            "--format", fmt, "--start-ms", str(window["start_ms"]), "--end-ms", str(window["end_ms"])]


def plan(args):
    """[(format, contender, format the contender writes)] in run order."""
    runs = []
    for fmt in args.formats:
        for contender in args.contenders:
            written = fmt
            if contender == "ours_s3" and (args.skip_s3 or fmt not in args.s3_formats):
                continue
            if contender == "s3store" and (args.skip_s3 or fmt not in args.s3store_formats):
                continue
            if contender == "duckdb":
                written = DUCKDB_FORMAT.get(fmt)
                if written is None:
                    continue
            if contender == "stock_beam" and fmt != "json":
                continue
            runs.append((fmt, contender, written))
    return runs


def _tail(path, lines=8):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return ""
    kept = [line for line in text.splitlines() if "apitools not found" not in line]
    return "\n".join(kept[-lines:])


def _rows_reported(stdout_path):
    match = re.search(r"exported \d+ objects, ([\d,]+) rows", _tail(stdout_path, 50))
    return int(match.group(1).replace(",", "")) if match else None


def _header_bytes(folder):
    """Bytes of the first line (the event name) of each of our JSON files."""
    total = 0
    for path in data_files(folder):
        with gzip.open(path, "rb") as f:
            total += len(f.readline())
    return total


class LocalS3:
    """The moto server, started on first use and shared by every ours_s3 and s3store run."""

    def __init__(self):
        self.server, self._store = None, None

    def _started(self):
        from devtools.local_s3 import LocalS3Server

        if self.server is None:
            # record_headers=False: moto's recorder would also write every request body to disk.
            self.server = LocalS3Server(record_headers=False).start()
        return self.server

    def bucket(self):
        from devtools.local_s3 import provision_least_privilege

        name = f"bench-{uuid.uuid4().hex[:12]}"
        return name, provision_least_privilege(self._started(), name)

    def store(self, events_dir):
        """(s3:// root of `events_dir` landed in a platform bucket, the platform key's environment), once."""
        from devtools.local_s3 import platform_policy, provision_least_privilege, upload_tree

        if self._store is None:
            name = f"platform-{uuid.uuid4().hex[:10]}"
            key = provision_least_privilege(self._started(), name, policy=platform_policy(name))
            upload_tree(self.server, events_dir, name, "store/events/")
            self._store = (f"s3://{name}/store/events", {
                "AWS_ACCESS_KEY_ID": key.access_key_id, "AWS_SECRET_ACCESS_KEY": key.secret_access_key,
                "AWS_DEFAULT_REGION": self.server.region})
        return self._store

    def download(self, bucket, prefix, folder):
        admin = self.server.admin_client()
        os.makedirs(folder, exist_ok=True)
        for page in admin.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                name = item["Key"][len(prefix):].replace("/", "_")
                admin.download_file(bucket, item["Key"], os.path.join(folder, name))

    def stop(self):
        if self.server is not None:
            self.server.stop()
            self.server = None


def run_one(fmt, contender, written, store_events, dataset, outdir, s3, timeout):
    """Run and measure one contender, read its output back; return its result dict."""
    window = dataset["window"]
    os.makedirs(os.path.dirname(outdir), exist_ok=True)
    shutil.rmtree(outdir, ignore_errors=True)
    env, s3_info = child_env(), None
    if contender in TWO_WORKERS or contender == "ours":
        command = ours_command(store_events, outdir, fmt, window, TWO_WORKERS.get(contender, []))
    elif contender == "dask":
        command = ours_command(store_events, outdir, fmt, window, DASK.options())
    elif contender == "s3store":
        source, platform_env = s3.store(store_events)
        command = ours_command(source, outdir, fmt, window, ["--s3_endpoint_url", s3.server.endpoint_url])
        env = child_env(platform_env)
    elif contender == "ours_s3":
        bucket, key = s3.bucket()
        prefix = f"bench/{fmt}"
        command = ours_command(store_events, f"s3://{bucket}/{prefix}", fmt, window,
                               ["--destination_endpoint_url", s3.server.endpoint_url, "--destination_path_style",
                                "--destination_access_key_id", key.access_key_id])
        env = child_env({SECRET_ENV: key.secret_access_key})
        mark = s3.server.mark()
        s3_info = (bucket, prefix, mark)
    elif contender == "duckdb":
        command = peer_command("duckdb", store_events, outdir, written, window)
    else:
        command = peer_command("beam", store_events, outdir, written, window)
    logs = outdir.rstrip("/") + ".log"
    os.makedirs(logs, exist_ok=True)
    measured = run_measured(command, env=env, cwd=ROOT, stdout_path=os.path.join(logs, "stdout"),
                            stderr_path=os.path.join(logs, "stderr"), timeout=timeout)
    shown = ["<key id>" if s3_info and part == key.access_key_id else part for part in command[1:]]
    result = {"contender": contender, "format_written": written, "command": ["python", *shown], **measured}
    if contender == "dask":
        result["workers_cpu_s"] = DASK.workers_cpu_s()
    if measured["exit_code"] != 0:
        result["error"] = _tail(os.path.join(logs, "stderr")) or _tail(os.path.join(logs, "stdout"))
        return result
    if s3_info:
        bucket, prefix, mark = s3_info
        result["s3_object_access_violations"] = len(s3.server.object_access_violations(mark, bucket))
        s3.download(bucket, prefix + "/", outdir)
    if contender.startswith("ours") or contender == "s3store":  # the DaskRunner reports no metrics, so no rows
        result["rows_reported"] = _rows_reported(os.path.join(logs, "stdout"))
    ours = ("ours", "ours_2w", "ours_2t", "ours_s3", "s3store", "dask")   # their files start with the event name
    counted = count_outputs(outdir, written, header_lines=1 if contender in ours else 0)
    events = dataset["events_in_window"]
    wall = measured["wall_s"]
    result.update({
        "events": events, "rows_counted": counted["rows"], "complete": counted["rows"] == events,
        "events_per_s": events / wall, "raw_mb_per_s": dataset["raw_bytes"] / MB / wall,
        "output_bytes": counted["output_bytes"], "output_files": counted["files"],
        "uncompressed_bytes": counted["uncompressed_bytes"],
        "compression_ratio": dataset["raw_bytes"] / counted["output_bytes"] if counted["output_bytes"] else None,
        "gzip_ratio": (counted["uncompressed_bytes"] / counted["output_bytes"]
                       if counted["uncompressed_bytes"] and counted["output_bytes"] else None),
        "events_per_cpu_s": events / (measured["user_cpu_s"] + measured["sys_cpu_s"])
        if measured["user_cpu_s"] + measured["sys_cpu_s"] > 0 else None,
    })
    if contender in ("duckdb", "stock_beam"):
        try:
            with open(os.path.join(logs, "stdout"), encoding="utf-8") as f:
                result["inner_s"] = json.loads(f.read().strip().splitlines()[-1])["inner_s"]
        except (OSError, ValueError, KeyError, IndexError):
            pass
    if contender == "ours" and written == "json":
        result["json_header_bytes"] = _header_bytes(outdir)
    return result


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    workdir = args.workdir or tempfile.mkdtemp(prefix="eventexport-bench-")
    os.makedirs(workdir, exist_ok=True)
    started_at = dt.datetime.now(dt.timezone.utc)
    s3 = LocalS3()
    failed = False
    try:
        store, generated = prepare_store(workdir, args.events, args.days, args.seed, args.store_profile)
        events_dir = os.path.join(store, "events")
        dataset = describe_store(events_dir)
        if dataset["events_in_window"] != dataset["events"] or dataset["events"] != args.events:
            raise SystemExit(f"the window holds {dataset['events_in_window']} of {dataset['events']} events "
                             f"(expected {args.events}): the harness's window is wrong")
        dataset.update(generated, raw_bytes_checked=None, days=args.days, seed=args.seed, end_date=END_DATE.isoformat(),
                       run_timestamp=RUN_TIMESTAMP, store_profile=args.store_profile)
        baseline_logs = os.path.join(workdir, "out", "baseline.log")
        os.makedirs(baseline_logs, exist_ok=True)
        base = run_measured([sys.executable, "-c", "import apache_beam, pipelines.export"], env=child_env(),
                            cwd=ROOT, stdout_path=os.path.join(baseline_logs, "stdout"),
                            stderr_path=os.path.join(baseline_logs, "stderr"))
        command = ["python", "-m", "benchmarks.run", *(sys.argv[1:] if argv is None else argv)]
        report = {"date": started_at.isoformat(timespec="seconds"), "command": command,
                  "machine": machine_info(), "dataset": dataset,
                  "baseline": {"import_beam_s": base["wall_s"], "peak_rss_mib": base["peak_rss_mib"]},
                  "definitions": DEFINITIONS, "results": {}}
        report["code_fingerprint"] = code_fingerprint()
        runs = {}
        for round_number in range(1, args.repeat + 1):
            for fmt, contender, written in plan(args):
                outdir = os.path.join(workdir, "out", fmt, contender)
                print(f"running {fmt} {contender} ({round_number}/{args.repeat}) ...", file=sys.stderr, flush=True)
                fingerprint = code_fingerprint()
                result = run_one(fmt, contender, written, events_dir, dataset, outdir, s3, args.timeout)
                result["code_fingerprint"] = fingerprint
                failed |= result["exit_code"] != 0
                runs.setdefault((fmt, contender), []).append(result)
                if result.get("json_header_bytes") is not None and result.get("uncompressed_bytes"):
                    dataset["raw_bytes_checked"] = (
                        result["uncompressed_bytes"] - result["json_header_bytes"] == dataset["raw_bytes"])
                if not args.keep_outputs:
                    shutil.rmtree(outdir, ignore_errors=True)
        for (fmt, contender), results in runs.items():
            report["results"].setdefault(fmt, {})[contender] = representative(results)
        report["ratios"] = ratios(report["results"])
        report["code_fingerprint_at_end"] = code_fingerprint()
        report["git_at_end"] = git_state()
        report["finished"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    finally:
        s3.stop()
        DASK.stop()
        if not args.workdir and not args.keep_outputs:
            shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    partial = args.out + ".tmp"
    with open(partial, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    os.replace(partial, args.out)
    chart = os.path.splitext(args.out)[0] + ".png"
    draw([report], chart)
    print(table(report))
    print(f"chart: {chart}")
    print(f"results: {args.out}" + (f"; outputs kept in {workdir}/out" if args.keep_outputs else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
