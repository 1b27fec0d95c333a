"""`python -m benchmarks.chart RESULTS.json [MORE.json ...] --out chart.png`: the benchmark as a picture.

One row of two panels per results file (one store profile, one size): events/s per format and
contender (bars), and each contender's peak RSS (bars, MiB, the largest single process). benchmarks.run
draws the chart of its own run next to its JSON; docs/performance.md shows the final runs' chart.
"""

import argparse
import json
import sys

__all__ = ["draw", "main"]

_CONTENDERS = ("ours", "ours_2w", "ours_2t", "ours_s3", "s3store", "duckdb", "dask", "stock_beam")


def _title(report):
    dataset = report["dataset"]
    profile = dataset.get("store_profile", "natural")
    return f"{dataset['events_in_window']:,} events, {profile} store"


def _bars(axis, report, key, label):
    results = report["results"]
    formats = list(results)
    names = [c for c in _CONTENDERS if any(c in by for by in results.values())]
    names += sorted({c for by in results.values() for c in by} - set(names))
    width = 0.8 / max(len(names), 1)
    for n, name in enumerate(names):
        xs, ys = [], []
        for i, fmt in enumerate(formats):
            result = results[fmt].get(name)
            if result and result.get("exit_code") == 0 and result.get(key):
                xs.append(i + (n - (len(names) - 1) / 2) * width)
                ys.append(result[key])
        if xs:
            axis.bar(xs, ys, width, label=name if name != "duckdb" else "duckdb (JSON under xml)")
    axis.set_xticks(range(len(formats)), formats)
    axis.set_ylabel(label)
    axis.grid(axis="y", alpha=0.3)


def draw(reports, path):
    """Write the PNG chart of `reports` (results dicts of benchmarks.run) to `path`."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(reports), 2, figsize=(13, 4.2 * len(reports)), squeeze=False)
    for row, report in zip(axes, reports):
        _bars(row[0], report, "events_per_s", "events/s (higher is better)")
        row[0].set_title(f"speed: {_title(report)}")
        _bars(row[1], report, "peak_rss_mib", "peak RSS, MiB (lower is better)")
        row[1].set_title(f"memory: {_title(report)}")
    axes[0][0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.chart", description=__doc__.split("\n")[0])
    parser.add_argument("results", nargs="+", help="results JSON files of benchmarks.run")
    parser.add_argument("--out", required=True, help="PNG to write")
    args = parser.parse_args(argv)
    reports = []
    for path in args.results:
        with open(path, encoding="utf-8") as f:
            reports.append(json.load(f))
    draw(reports, args.out)
    print(f"chart: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
