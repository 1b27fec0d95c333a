"""Progress: workers' counts reach the launcher, which reports them while the export runs."""

import datetime as dt
import json
import os
import subprocess
import sys

import pytest

from devtools.generate import generate
from transforms.runtime.progress import ProgressCounter, ProgressReporter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_reporter_sums_the_workers_counts(tmp_path):
    first, second = ProgressCounter(str(tmp_path)), ProgressCounter(str(tmp_path))
    first.add(rows_read=10, rows_written=4, objects=1, bytes=100)
    second.add(rows_read=5)
    first.flush()
    second.flush()
    assert ProgressReporter(str(tmp_path)).totals() == {"rows_read": 15, "rows_written": 4, "objects": 1,
                                                         "bytes": 100}


@pytest.mark.slow
def test_a_running_export_logs_progress_when_not_on_a_terminal(tmp_path):
    generate(str(tmp_path / "store"), 30000, 2, "parquet", seed=2, end=dt.date(2026, 11, 20))
    env = dict(os.environ, PYTHONPATH=ROOT, EVENTEXPORT_PROGRESS_SECONDS="0.2")
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.export", "--source", str(tmp_path / "store" / "events"),
         "--destination", str(tmp_path / "out"), "--format", "xml", "--start", "2026-11-10T00:00:00Z",
         "--end", "2026-11-23T00:00:00Z", "--run_timestamp", "20261121000000"],
        env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("progress: ")]
    assert lines, done.stderr
    read = [int(line.split()[1].replace(",", "")) for line in lines]
    assert read == sorted(read) and 0 < read[-1] <= 30000
    manifest = json.load(open(tmp_path / "out" / "export-20261121000000-manifest.json"))
    assert manifest["totals"]["rows"] == 30000
