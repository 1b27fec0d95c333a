"""The benchmark's results as a report: each contender's representative run, the ratios, the table.

Kept apart from `benchmarks.run`, which prepares stores and runs contenders: what a report shows changes
for other reasons than how a contender is run.
"""

MB = 1_000_000


def representative(results):
    """A contender's first failed run if any failed, else its median-wall run; with every run's wall."""
    failures = [r for r in results if r["exit_code"] != 0]
    chosen = failures[0] if failures else sorted(results, key=lambda r: r["wall_s"])[(len(results) - 1) // 2]
    return {**chosen, "wall_s_runs": [r["wall_s"] for r in results]}


def ratios(results):
    """events/s ratios per format (first / second)."""
    out = {}
    for fmt, by in results.items():
        def rate(name):
            entry = by.get(name)
            return entry.get("events_per_s") if entry else None

        pairs = {}
        peer = "ours/duckdb_json" if fmt == "xml" else "ours/duckdb"
        for label, a, b in ((peer, "ours", "duckdb"), ("ours/stock_beam", "ours", "stock_beam"),
                            ("ours_2w/ours", "ours_2w", "ours"), ("ours_2t/ours", "ours_2t", "ours"),
                            ("ours_s3/ours", "ours_s3", "ours"), ("s3store/ours", "s3store", "ours"),
                            ("ours_2w/duckdb", "ours_2w", "duckdb"), ("dask/ours", "dask", "ours")):
            if label == "ours_2w/duckdb" and fmt == "xml":
                label = "ours_2w/duckdb_json"
            if rate(a) and rate(b):
                pairs[label] = rate(a) / rate(b)
        json_rate = (results.get("json", {}).get("ours") or {}).get("events_per_s")
        if fmt != "json" and rate("ours") and json_rate:
            pairs["ours/ours_json"] = rate("ours") / json_rate
        out[fmt] = pairs
    return out


def _fmt(value, spec):
    return "-" if value is None else format(value, spec)


def table(report):
    dataset = report["dataset"]
    lines = [f"{dataset['events_in_window']:,} events in window {dataset['window']['start']} .. "
             f"{dataset['window']['end']}; raw (JSON lines) {dataset['raw_bytes'] / MB:,.1f} MB "
             f"({dataset['raw_bytes_per_event']:.0f} B/event); store {dataset['store_bytes'] / MB:,.1f} MB parquet; "
             f"python+beam import {report['baseline']['import_beam_s']:.2f} s",
             f"{'format':<8}{'contender':<12}{'writes':<8}{'wall s':>8}{'events/s':>11}{'raw MB/s':>10}"
             f"{'out MB':>9}{'ratio':>7}{'gz ratio':>9}{'RSS MiB':>9}{'tree MiB':>9}{'CPU s':>8}{'others':>7}  rows"]
    for fmt, by in report["results"].items():
        for name, r in by.items():
            if r.get("exit_code") != 0:
                last = (r.get("error") or "").strip().splitlines()[-1:] or [""]
                lines.append(f"{fmt:<8}{name:<12}{r['format_written']:<8}FAILED (exit {r.get('exit_code')}"
                             f"{', timed out' if r.get('timed_out') else ''}): {last[0]}")
                continue
            rows = "ok" if r["complete"] else f"MISMATCH {r['rows_counted']:,}"
            lines.append(
                f"{fmt:<8}{name:<12}{r['format_written']:<8}{r['wall_s']:>8.2f}{r['events_per_s']:>11,.0f}"
                f"{r['raw_mb_per_s']:>10.1f}{r['output_bytes'] / MB:>9.2f}{_fmt(r['compression_ratio'], '.2f'):>7}"
                f"{_fmt(r['gzip_ratio'], '.2f'):>9}{_fmt(r['peak_rss_mib'], '.0f'):>9}{_fmt(r['tree_peak_rss_mib'], '.0f'):>9}"
                f"{r['user_cpu_s'] + r['sys_cpu_s']:>8.1f}{_fmt(r.get('other_cpu_cores'), '.2f'):>7}  {rows}")
    busy = [f"{fmt} {name} {r['other_cpu_cores']:.2f}" for fmt, by in report["results"].items()
            for name, r in by.items() if (r.get("other_cpu_cores") or 0) > 0.25]
    if busy:
        lines.append(f"WARNING: other processes kept CPU cores busy during: {', '.join(busy)} "
                     f"(of {report['machine']['nproc']}); those timings are inflated")
    prints = {report.get("code_fingerprint"), report.get("code_fingerprint_at_end")} | {
        r.get("code_fingerprint") for by in report["results"].values() for r in by.values()}
    prints.discard(None)
    if len(prints) > 1:
        lines.append(f"WARNING: pipelines/ or transforms/ changed during the run ({len(prints)} versions, see "
                     f"code_fingerprint per result): the rows of this table measured different code")
    lines.append("ratios of events/s:")
    for fmt, pairs in report["ratios"].items():
        if pairs:
            lines.append(f"  {fmt:<8}" + "  ".join(f"{k} {v:.2f}" for k, v in pairs.items()))
    return "\n".join(lines)


DEFINITIONS = {
    "wall_s": "wall time of the whole child process, interpreter start and imports included",
    "events_per_s": "events in the window / wall_s",
    "raw_bytes": "the window's events as uncompressed JSON Lines in our export's shape "
                 "(without each file's first line); the same for every format and contender",
    "raw_mb_per_s": "raw_bytes / 10^6 / wall_s",
    "output_bytes": "data files as stored, manifest excluded",
    "compression_ratio": "raw_bytes / output_bytes",
    "gzip_ratio": "the files' own decompressed size / output_bytes (gzip text formats)",
    "peak_rss_mib": "sampled (0.05 s) peak RSS of the largest single process of the command, MiB",
    "tree_peak_rss_mib": "sampled (0.05 s) peak of the summed RSS of the command's live process tree, MiB",
    "other_cpu_cores": "CPU time the machine spent on other processes during the run / wall_s (contention)",
    "code_fingerprint": "sha256 (12 hex) of pipelines/ and transforms/ *.py just before the contender ran",
    "rows_counted": "rows read back from the output files (not the exporter's own count)",
    "ratios": "events/s of the first contender / events/s of the second",
}
