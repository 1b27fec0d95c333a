"""The benchmark harness runs end to end in small mode and its numbers are real (not its speed)."""

import csv
import gzip
import json
import os
import subprocess
import sys
import textwrap

import pytest

from benchmarks.measure import run_measured

pytestmark = pytest.mark.slow   # the benchmark harness, every contender a child process

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EVENTS = 2000
EXPECTED = {"json": {"ours", "ours_2w", "ours_2t", "dask", "duckdb", "stock_beam"},
            "csv": {"ours", "ours_2w", "ours_2t", "dask", "duckdb"}}


def _data_files(folder):
    return sorted(os.path.join(root, name) for root, _, names in os.walk(folder) for name in names
                  if not name.endswith("-manifest.json"))


def _json_rows(folder, first_line_is_name):
    rows = 0
    for path in _data_files(folder):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            lines = [line for line in f.read().split("\n") if line]
        if first_line_is_name:
            assert isinstance(json.loads(lines[0]), str), path
            lines = lines[1:]
        for line in lines:
            assert isinstance(json.loads(line)["ts"], int)
        rows += len(lines)
    return rows


def _csv_rows(folder):
    rows = 0
    for path in _data_files(folder):
        with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
            records = list(csv.reader(f))
        assert records[0][:2] == ["eventName", "ts"], path
        rows += len(records) - 1
    return rows


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench")
    out = tmp / "results" / "small.json"
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--events", str(EVENTS), "--formats", "json,csv", "--skip-s3",
         "--workdir", str(tmp / "work"), "--out", str(out), "--keep-outputs"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=420)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with open(out, encoding="utf-8") as f:
        return json.load(f), tmp / "work" / "out", done.stdout, out


def test_every_contender_has_positive_numbers(harness):
    report, _, stdout, _ = harness
    assert set(report["results"]) == set(EXPECTED)
    for fmt, contenders in EXPECTED.items():
        assert set(report["results"][fmt]) == contenders
        for name in contenders:
            result = report["results"][fmt][name]
            assert result["exit_code"] == 0, (fmt, name, result.get("error"))
            assert result["events_per_s"] > 0 and result["raw_mb_per_s"] > 0
            assert result["output_bytes"] > 0 and result["output_files"] > 0
            assert result["peak_rss_mib"] > 0 and result["tree_peak_rss_mib"] > 0
            assert result["rows_counted"] == EVENTS and result["complete"], (fmt, name)
        assert f"{fmt:<8}ours " in stdout
    assert report["results"]["json"]["ours_2w"]["max_processes"] >= 2  # the workers really ran apart
    assert report["dataset"]["events_in_window"] == EVENTS
    assert report["dataset"]["raw_bytes_checked"] is True
    assert report["machine"]["nproc"] >= 1 and report["machine"]["versions"]["apache-beam"]
    assert {"ours/duckdb", "ours/stock_beam", "ours_2w/ours", "ours_2t/ours", "dask/ours"} <= set(report["ratios"]["json"])
    assert report["results"]["json"]["dask"]["workers_cpu_s"] > 0   # the workers did the work


def test_ours_and_duckdb_export_the_same_rows_counted_independently(harness):
    _, out, _, _ = harness
    assert _json_rows(out / "json" / "ours", True) == _json_rows(out / "json" / "duckdb", False) == EVENTS
    assert _json_rows(out / "json" / "stock_beam", False) == EVENTS
    assert _csv_rows(out / "csv" / "ours") == _csv_rows(out / "csv" / "duckdb") == EVENTS


def test_distinct_store_profile_and_chart(harness, tmp_path):
    """The quick size of `make bench PROFILE=distinct`: a store of distinct map texts, every row read
    back, and a chart beside each results file."""
    out = tmp_path / "distinct.json"
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--events", "1000", "--store-profile", "distinct", "--formats", "xml",
         "--contenders", "ours,duckdb", "--workdir", str(tmp_path / "work"), "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["dataset"]["store_profile"] == "distinct" and report["dataset"]["raw_bytes_per_event"] > 900
    assert all(r["complete"] for r in report["results"]["xml"].values())
    assert "ours/duckdb_json" in report["ratios"]["xml"]
    assert (tmp_path / "work" / "store-distinct" / "bench-store.json").exists()
    for results in (out, harness[3]):
        assert results.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_the_s3store_contender_reads_the_store_from_the_local_s3_server(tmp_path):
    """The same store landed in a platform bucket: every row read back, the ratio to the local store reported."""
    out = tmp_path / "s3store.json"
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--events", "1000", "--formats", "parquet", "--contenders",
         "ours,s3store", "--s3store-formats", "parquet", "--workdir", str(tmp_path / "work"), "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    s3store = report["results"]["parquet"]["s3store"]
    assert s3store["complete"] and s3store["rows_reported"] == 1000
    assert s3store["command"][s3store["command"].index("--source") + 1].startswith("s3://platform-")
    assert report["ratios"]["parquet"]["s3store/ours"] > 0


def test_peak_rss_is_per_command_and_tree_sum_covers_children(tmp_path):
    # each child holds 120 MiB until both hold theirs, and 0.6 s more: they overlap however late one starts
    child = textwrap.dedent(f"""
        import pathlib, sys, time
        b = b'x' * (120 << 20)
        pathlib.Path({str(tmp_path)!r}, sys.argv[1]).touch()
        while len(list(pathlib.Path({str(tmp_path)!r}).glob('holds-*'))) < 2:
            time.sleep(0.01)
        time.sleep(0.6)
    """)
    parent = textwrap.dedent(f"""
        import subprocess, sys
        procs = [subprocess.Popen([sys.executable, '-c', {child!r}, f'holds-{{n}}']) for n in range(2)]
        for p in procs:
            p.wait()
    """)
    two = run_measured([sys.executable, "-c", parent], stdout_path=tmp_path / "o", stderr_path=tmp_path / "e",
                       interval=0.05)
    small = run_measured([sys.executable, "-c", "pass"], stdout_path=tmp_path / "o", stderr_path=tmp_path / "e")
    assert two["exit_code"] == small["exit_code"] == 0
    assert 120 <= two["peak_rss_mib"] < 200          # the largest single process, children waited for
    assert two["tree_peak_rss_mib"] >= 240           # both children at once
    assert (small["peak_rss_mib"] or 0) < 100       # neither the earlier command's peak nor this parent's


def test_repeated_runs_report_the_median_and_any_failure():
    from benchmarks.report import representative
    runs = [{"exit_code": 0, "wall_s": wall} for wall in (3.0, 1.0, 2.0)]
    chosen = representative(runs)
    assert chosen["wall_s"] == 2.0 and chosen["wall_s_runs"] == [3.0, 1.0, 2.0]
    assert representative(runs + [{"exit_code": 1, "wall_s": 0.5}])["exit_code"] == 1
