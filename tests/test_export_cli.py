"""`python -m pipelines.export` as users run it: exit codes, the summary, one-line errors without tracebacks.

All the subprocesses start at once (a module fixture), so the interpreter start-ups overlap."""

import json
import os
import re
import subprocess
import sys

import pytest

from tests.support.expected import DATABASE_ID, REQUEST_ID, RUN_TS
from tests.support.exports import REPO, verify_export
from tests.support.stores import HAND_END, HAND_RECORDS, HAND_START, in_window
from transforms.runtime.logs import SUMMARY_ENV

# Beam prints this at import time when Google's apitools is not installed; it is not ours.
BEAM_IMPORT_NOISE = re.compile(r"WARNING:root:apitools not found.*")

BAD = {
    "unknown format": (["--format", "yaml"], "--format 'yaml'"),
    "select without events": (["--export_type", "select_events"], "--events"),
    "bad start": (["--start", "yesterday"], "--start 'yesterday'"),
    "start after end": (["--start", "2024-03-09T00:00:00Z"], "--start"),
    "missing source": (["--source", "{tmp}/no-such-store"], "no-such-store"),
}
# The same checks in-process (`run` returns what main prints), to keep the subprocess count small.
BAD_IN_PROCESS = {
    "start equals end": (["--start", HAND_END], "--start"),
    "zero max bytes": (["--max_file_bytes", "0"], "--max_file_bytes"),
    "bad request id": (["--request_id", "a/b"], "--request_id"),
    "bad database id": (["--database_id", "db-1"], "--database_id"),
    "bad time basis": (["--time_basis", "arrival"], "--time_basis"),
    "bad timezone": (["--timezone", "Mars/Olympus"], "--timezone"),
    "bad run timestamp": (["--run_timestamp", "2024-03-11"], "--run_timestamp"),
    "bad codec": (["--parquet_codec", "lz4"], "--parquet_codec"),
    "events without select": (["--events", "App Launched"], "--events"),
    "no end": (["--end", None], "--end"),
    "source is a file": (["--source", "{file}"], "--source"),
    "destination is a file": (["--destination", "{file}"], "--destination"),
}


def _argv(source, dest, overrides=(), python=True):
    values = {"--source": source, "--destination": dest, "--start": HAND_START, "--end": HAND_END,
              "--request_id": REQUEST_ID, "--run_timestamp": RUN_TS, "--database_id": DATABASE_ID}
    extra = []
    overrides = list(overrides)
    for flag, value in zip(overrides[::2], overrides[1::2]):
        if flag in values:
            values[flag] = value
        else:
            extra += [flag, value]
    argv = [x for flag, value in values.items() if value is not None for x in (flag, value)] + extra
    return [sys.executable, "-m", "pipelines.export"] + argv if python else argv


@pytest.fixture(scope="module")
def cli_runs(hand_stores, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    source = hand_stores["parquet"]
    cases = {"ok": _argv(source, str(tmp / "ok"), ["--format", "csv"])}
    for name, (overrides, _) in BAD.items():
        cases[name] = _argv(source, str(tmp / name.replace(" ", "-")),
                            [o.replace("{tmp}", str(tmp)) for o in overrides])
    # each also asked for its facts, as the scheduler asks (transforms/runtime/logs.py)
    procs = {name: subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    env=dict(os.environ, **{SUMMARY_ENV: str(tmp / f"{name}.facts.json")}))
             for name, argv in cases.items()}
    results = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        results[name] = (proc.returncode, out, err)
    return tmp, results


def _own_lines(stderr):
    return [line for line in stderr.splitlines() if not BEAM_IMPORT_NOISE.fullmatch(line)]


@pytest.mark.slow
def test_cli_success_summary(cli_runs):
    tmp, results = cli_runs
    status, out, err = results["ok"]
    assert status == 0, err
    assert "Traceback" not in err and _own_lines(err) == []
    manifest = verify_export(tmp / "ok", "csv", in_window(HAND_RECORDS, HAND_START, HAND_END))
    totals = manifest["totals"]
    lines = out.splitlines()
    assert lines[0] == (f"exported {totals['objects']} objects, {totals['rows']:,} rows, {totals['bytes']:,} bytes "
                        f"to {tmp / 'ok'}/ (request {REQUEST_ID}, run {RUN_TS})")
    per_event = {}
    for line in lines[1:]:
        found = re.fullmatch(r"  (.+): (\d+) objects, ([\d,]+) rows, ([\d,]+) bytes", line)
        assert found, line
        per_event[found[1]] = [int(found[i].replace(",", "")) for i in (2, 3, 4)]
    assert sorted(per_event.values()) == sorted([e["objects"], e["rows"], e["bytes"]]
                                                for e in manifest["event_totals"].values())
    assert len(per_event) == len(manifest["event_totals"])
    facts = json.loads((tmp / "ok.facts.json").read_text())
    assert facts == dict(totals, rejected=manifest["rejects"]["rows"], s3_retries={}, request_id=REQUEST_ID,
                         run_timestamp=RUN_TS)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(BAD))
def test_cli_bad_options_exit_2(cli_runs, case):
    tmp, results = cli_runs
    status, out, err = results[case]
    assert status == 2, (out, err)
    assert "Traceback" not in err
    (line,) = _own_lines(err)
    assert line.startswith("eventexport: error: ")
    assert BAD[case][1] in line
    assert out == ""
    assert not (tmp / case.replace(" ", "-")).exists()   # nothing written
    assert not (tmp / f"{case}.facts.json").exists()


def test_misspelled_option_is_an_error(hand_stores, tmp_path):
    from pipelines.export import run
    status, text = run(_argv(hand_stores["parquet"], str(tmp_path / "out"), ["--formatt", "xml"], python=False))
    assert status == 2, text
    assert not (tmp_path / "out").exists()



@pytest.mark.parametrize("case", sorted(BAD_IN_PROCESS))
def test_bad_options_in_process(hand_stores, tmp_path, case):
    from pipelines.export import run
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    overrides, fragment = BAD_IN_PROCESS[case]
    overrides = [o if o is None else o.replace("{file}", str(a_file)) for o in overrides]
    status, text = run(_argv(hand_stores["parquet"], str(tmp_path / "out"), overrides, python=False))
    assert status == 2, text
    assert text.startswith("eventexport: error: ") and "\n" not in text and fragment in text
    assert not (tmp_path / "out").exists()
