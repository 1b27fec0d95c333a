"""Records crafted as a hostile sender of events would (issue 21), through the whole exporter: two names
whose keys used to collide arrive whole in distinct objects; impossible event times and misfiled records
are rejected with a reason, each by exactly one run of a series; every object's date part has 8 digits
and every `ts` 14; no reject names the platform's store. Each case is a row of the reliability table."""

import gzip
import hashlib
import json
import re

import pytest

from control.launcher import pipeline_command
from control.settings import load_settings
from tests.support import reliability
from tests.support.expected import DATABASE_ID, REQUEST_ID, RUN_TS
from tests.support.exports import export_ok, load_manifest
from tests.support.stores import ms, write_store
from transforms.sinks.naming import MAX_BASENAME_BYTES

DAY = "2026-11-20"
FOLDER = f"captured_date={DAY}"
START, END = f"{DAY}T00:00:00Z", "2026-11-21T00:00:00Z"
ANY_SHARE = ("--max_reject_fraction", "0.5")


def _at(hour, minute=0):
    return ms(f"{DAY}T{hour:02d}:{minute:02d}:00Z")


def _rows(files):
    """(object name, its JSON rows) of every data object in `files`."""
    for name, data in sorted(files.items()):
        if name.endswith(".json.gz") and "-rejects-" not in name:
            yield name, [json.loads(line) for line in gzip.decompress(data).decode().splitlines()[1:]]


def _check_names_and_stamps(files):
    """Every object's date part is 8 digits and every row's ts 14."""
    pattern = re.compile(rf"{re.escape(REQUEST_ID)}-{RUN_TS}-[^-]+-(\d+)-\d{{4}}-{DATABASE_ID}\.json\.gz")
    for name, rows in _rows(files):
        assert len(pattern.fullmatch(name).group(1)) == 8, name
        assert all(len(str(row["ts"])) == 14 for row in rows), name


def _check_rejects_name_no_store(files, store, manifest):
    rejects = reliability.rejected(files)
    assert rejects and all(str(store) not in json.dumps(r) and r["source"].startswith("captured_date=")
                           for r in rejects)
    assert manifest["rejects"]["sample"]["source"].startswith("captured_date=")
    return rejects


@pytest.mark.reliability
def test_names_whose_keys_used_to_collide_arrive_whole_in_distinct_objects(tmp_path):
    room = MAX_BASENAME_BYTES - len(f"{REQUEST_ID}-{RUN_TS}-") - len(f"-20261120-0000-{DATABASE_ID}.json.gz")
    long_name = "A" * 300
    digest = hashlib.sha256(long_name.encode()).hexdigest()
    names = [long_name, "A" * (room - 13) + "~" + digest[:12],      # the name that took its key before
             "A" * (room - 67) + "%7E" + digest, "A" * (room - 67) + "~" + digest]   # its key part now, and decoded
    records = [reliability.event(f"name-{n}-{i}", _at(10, i), name=name) for n, name in enumerate(names)
               for i in range(20)]
    store = write_store(tmp_path / "store", {FOLDER: [records]}, "parquet")
    files = reliability.folder_files(export_ok(store, tmp_path / "out", "json", START, END))
    manifest = json.loads(files[f"{REQUEST_ID}-{RUN_TS}-manifest.json"])
    assert {name: totals["rows"] for name, totals in manifest["event_totals"].items()} == {n: 20 for n in names}
    assert len({o["key"] for o in manifest["objects"]}) == len(names)
    for name, rows in _rows(files):
        head = json.loads(gzip.decompress(files[name]).decode().splitlines()[0])
        assert {r["eventProps"][reliability.ID_PROP].split("-")[1] for r in rows} == {str(names.index(head))}
    reliability.account("crafted records", "4 names crafted to share one key part (issue 21's two among them)",
                        [r["event_id"] for r in records], reliability.exported_ids(files))


def _store(root):
    """Ordinary records and crafted ones in one folder, in each store format; returns (root, ordinary, bad)."""
    bad_times = {"micros": 1_795_176_000_000_000, "year-10000": 253_402_300_800_000, "before-1970": -86_400_000,
                 "fraction": _at(9) + 0.5}
    ordinary, bad = {}, {}
    for fmt in ("parquet", "avro", "jsonl"):
        ordinary[fmt] = [reliability.event(f"{fmt}-ok-{i}", _at(1 + i)) for i in range(20)]
        bad[fmt] = [reliability.event(f"{fmt}-{tag}", value, captured_at=_at(8)) for tag, value in bad_times.items()
                    if tag != "fraction" or fmt == "jsonl"]
        bad[fmt] += [reliability.event(f"{fmt}-misfiled-year", _at(9), captured_at=_at(9) - 365 * 86_400_000),
                     reliability.event(f"{fmt}-misfiled-day", _at(9), captured_at=ms("2026-11-21T03:00:00Z"))]
        write_store(root, {FOLDER: [ordinary[fmt] + bad[fmt]]}, fmt)
    return str(root), [r for rows in ordinary.values() for r in rows], [r for rows in bad.values() for r in rows]


@pytest.mark.reliability
@pytest.mark.parametrize("basis", ["event", "capture"])
def test_impossible_times_and_misfiled_records_are_rejected_naming_the_value(tmp_path, basis):
    store, ordinary, bad = _store(tmp_path / "store")
    dest = export_ok(store, tmp_path / "out", "json", START, END, "--time_basis", basis, *ANY_SHARE)
    files = reliability.folder_files(dest)
    _check_names_and_stamps(files)
    rejects = _check_rejects_name_no_store(files, store, load_manifest(dest))
    reasons = {re.search(r"rid:[\w.-]+", r["record"]).group(0): r["reason"] for r in rejects}
    assert ("1795176000000000 (no date) is not between 1970-01-01T00:00:00Z and 10000-01-01"
            in reasons["rid:avro-micros"])
    assert reasons["rid:jsonl-fraction"] == f"event_time {_at(9) + 0.5!r} is not a whole number of milliseconds"
    assert f"is outside its folder {FOLDER}/" in reasons["rid:parquet-misfiled-year"]
    reliability.account("crafted records", f"impossible, fractional and misfiled times in 3 store formats ({basis} "
                        "time)", [r["event_id"] for r in ordinary + bad], reliability.exported_ids(files),
                        reliability.rejected_ids(files))


@pytest.mark.reliability
def test_a_series_starting_inside_a_folder_rejects_each_crafted_record_once(tmp_path):
    """Three 8 h capture-time windows from 06:00 (the series' start, inside the folder): the first window
    reads 2026-11-20 and rejects its misfiled records, the third those of 2026-11-21, which it reads too."""
    ordinary = [reliability.event(f"series-ok-{i}", _at(6) + i * 3_600_000) for i in range(24)]
    misfiled = [reliability.event("series-year", _at(12), captured_at=_at(12) - 365 * 86_400_000),
                reliability.event("series-next", _at(23), captured_at=ms("2026-11-21T23:00:00Z"))]
    later = [reliability.event("series-next-day", ms("2026-11-21T04:00:00Z"), captured_at=_at(2) - 86_400_000)]
    impossible = [reliability.event("series-micros", _at(15) * 1000, captured_at=_at(15))]
    layout = {FOLDER: [[r for r in ordinary if r["captured_at"] < ms(END)] + misfiled + impossible],
              "captured_date=2026-11-21": [[r for r in ordinary if r["captured_at"] >= ms(END)] + later]}
    store = write_store(tmp_path / "store", layout, "jsonl")
    exported, rejected, by_window = [], [], []
    windows = [(f"{DAY}T06:00:00Z", f"{DAY}T14:00:00Z"), (f"{DAY}T14:00:00Z", f"{DAY}T22:00:00Z"),
               (f"{DAY}T22:00:00Z", "2026-11-21T06:00:00Z")]
    for n, (start, end) in enumerate(windows):
        dest = export_ok(store, tmp_path / f"out-{n}", "json", start, end, "--time_basis", "capture",
                         "--series_start", f"{DAY}T06:00:00Z", *ANY_SHARE)
        files = reliability.folder_files(dest)
        exported += reliability.exported_ids(files)
        rejected += reliability.rejected_ids(files)
        by_window.append(sorted(reliability.rejected_ids(files)))
    assert by_window == [["rid:series-next", "rid:series-year"], ["rid:series-micros"], ["rid:series-next-day"]]
    reliability.account("crafted records", "misfiled and impossible records in files read by 3 windows of a series "
                        "starting inside a folder", [r["event_id"] for r in ordinary + misfiled + later + impossible],
                        exported, rejected)


def test_the_scheduler_gives_a_recurring_run_its_series_start():
    import datetime as dt
    settings = load_settings({"EVENTEXPORT_MANIFESTS": "/m"})
    account = {"id": "a", "event_store": "/store", "profile_store": None, "database_id": "db"}
    destination = {"bucket": "b", "prefix": "", "sse": "none", "endpoint_url": None, "region": None,
                   "data_region": "EU", "sse_kms_key_id": None, "path_style": False}
    run = {"window_start": dt.datetime(2026, 11, 20, 14, 37, 5), "window_end": dt.datetime(2026, 11, 20, 18, 37, 5),
           "time_basis": "capture", "run_timestamp": "20261120183700", "captured_before": 1}
    for frequency, series in (("recurring", ["--series_start=2026-11-20T10:37:05Z"]), ("once", [])):
        request = {"id": "r", "export_type": "all_events", "format": "json", "events": [], "frequency": frequency,
                   "created_at": dt.datetime(2026, 11, 20, 10, 37, 5, 250000)}
        argv = pipeline_command(settings, account, request, destination, run, scratch="/nowhere")
        assert [arg for arg in argv if arg.startswith("--series_start")] == series
