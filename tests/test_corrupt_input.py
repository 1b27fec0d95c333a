"""A broken store: bad records are set aside with a reason and counted; corrupt files fail the run naming
the file and the fault; nothing is skipped silently. Every case is accounted in the reliability table."""

import datetime as dt
import gzip
import os
import shutil
from pathlib import Path

import pytest

from tests.support import reliability
from tests.support.exports import export, export_ok, load_manifest
from tests.support.stores import ms, write_store

START, END = "2024-03-05T00:00:00Z", "2024-03-06T00:00:00Z"
FOLDER = "captured_date=2024-03-05"


def _at(minute):
    return ms("2024-03-05T10:00:00Z") + minute * 60_000


def _bad_records(tag):
    """One of each kind of bad record a store file of any format can hold."""
    return [reliability.event(f"{tag}-no-time", _at(1), event_time=None),
            reliability.event(f"{tag}-props-text", _at(2), event_props="{not json rid:%s-props-text" % tag),
            reliability.event(f"{tag}-props-array", _at(3), event_props='["rid:%s-props-array"]' % tag),
            reliability.event(f"{tag}-no-name", _at(4), event_name=None)]


@pytest.mark.reliability
@pytest.mark.parametrize("store_fmt", ["parquet", "avro", "jsonl"])
def test_bad_records_are_rejected_with_a_reason_never_lost(tmp_path, store_fmt):
    good = [reliability.event(f"{store_fmt}-good-{i}", _at(10 + i)) for i in range(200)]
    bad = _bad_records(store_fmt)
    source = write_store(tmp_path / "store", {FOLDER: [good[:100] + bad, good[100:]]}, store_fmt)
    dest = export_ok(source, tmp_path / "out", "json", START, END, "--max_reject_fraction", "0.05")
    files = reliability.folder_files(dest)
    reliability.account("bad records", f"{len(bad)} bad in {len(good) + len(bad)} ({store_fmt})",
                        [r["event_id"] for r in good + bad], reliability.exported_ids(files),
                        reliability.rejected_ids(files))
    assert all(r["reason"] and r["source"].endswith(".parquet" if store_fmt == "parquet" else "")
               for r in reliability.rejected(files))


@pytest.mark.reliability
def test_each_bad_record_is_rejected_by_exactly_one_window_of_a_series(tmp_path):
    """Recurring capture-time windows read a folder several times; a bad record that has no usable time
    (not JSON, no capture time) is reported by the window holding its folder's start, one with a
    capture time by the window holding that, so the series rejects each exactly once."""
    day = ms("2024-03-05T00:00:00Z")
    good = [reliability.event(f"series-{i}", day + i * 200_000, captured_at=day + i * 200_000) for i in range(400)]
    bad = [reliability.event("series-no-capture", day + 60_000, captured_at=...),
           reliability.event("series-text-time", day + 50_000_000, event_time="yesterday"),
           reliability.event("series-props", day + 40_000_000, event_props="[1]"),
           '{"event_id": "rid:series-cut-line", "event_name": "Cut',
           '["rid:series-array-line"]']
    hour = ms("2024-03-06T07:00:00Z")
    late = [reliability.event(f"series-hour-{i}", hour + i, captured_at=hour + i) for i in range(20)]
    late += [reliability.event("series-hour-no-capture", day + 1, captured_at=...), "rid:series-hour-garbage"]
    root = write_store(tmp_path / "store", {FOLDER: [good[:200] + bad, good[200:]],
                                            "captured_date=2024-03-06/captured_hour=07": [late]}, "jsonl")
    exported, rejected = [], []
    for start in range(0, 48, 12):
        window = [dt.datetime.fromtimestamp(day / 1000 + h * 3600, dt.timezone.utc).isoformat()
                  for h in (start, start + 12)]
        dest = export_ok(root, tmp_path / f"out-{start}", "json", *window, "--time_basis", "capture",
                         "--max_reject_fraction", "0.2", "--series_start", "2024-03-05T00:00:00Z")
        files = reliability.folder_files(dest)
        exported += reliability.exported_ids(files)
        rejected += reliability.rejected_ids(files)
    sent = [r["event_id"] for r in good + bad[:3] + late[:-1]] + ["rid:series-cut-line", "rid:series-array-line",
                                                                   "rid:series-hour-garbage"]
    reliability.account("bad records", "7 bad, in files read by 4 contiguous windows", sent, exported, rejected)


def test_a_store_of_mostly_bad_records_fails_the_run_naming_the_count_and_a_reason(tmp_path):
    good = [reliability.event(f"good-{i}", _at(10 + i)) for i in range(96)]
    bad = _bad_records("ceiling")
    source = write_store(tmp_path / "store", {FOLDER: [good + bad]}, "jsonl")
    status, text = export(source, tmp_path / "out", "json", START, END)
    assert status == 2, text
    assert "4 of 100 records (4.0%) were rejected, more than --max_reject_fraction 0.01" in text
    assert "part-00000.jsonl.gz: event_name is missing" in text and "\n" not in text.strip()
    assert not any(name.endswith("-manifest.json") for name in os.listdir(tmp_path / "out"))
    status, text = export(source, tmp_path / "out", "json", START, END, "--max_reject_fraction", "0.04")
    assert status == 0, text
    assert load_manifest(tmp_path / "out")["rejects"]["rows"] == 4
    assert load_manifest(tmp_path / "out")["rejects"]["sample"]["reason"] == "event_name is missing"


@pytest.mark.parametrize("value", ["-0.1", "1.5", "lots"])
def test_max_reject_fraction_must_be_a_share(tmp_path, value):
    status, text = export(tmp_path, tmp_path / "out", "json", START, END, "--max_reject_fraction", value)
    assert status == 2 and "--max_reject_fraction" in text, text


# ---------------------------------------------------------------------------------------------- corrupt files

def _store_with(tmp_path, fmt, damage):
    """A store of one good Parquet file and one `fmt` file of 50 records, that file then damaged by
    `damage(path)` (which returns the damaged file's new path if it moved it); returns (root, path of the
    damaged file, a function that puts the file back whole, all ids)."""
    good = [reliability.event(f"good-{i}", _at(i)) for i in range(100)]
    other = [reliability.event(f"{fmt}-{i}", _at(i), event_props={reliability.ID_PROP: f"rid:{fmt}-{i}",
                                                                   "pad": "x" * (i * 40)}) for i in range(50)]
    root = write_store(tmp_path / "store", {FOLDER: [good]}, "parquet")
    write_store(tmp_path / "whole", {FOLDER: [other]}, fmt)     # part-00000, gzip JSON Lines for jsonl
    whole = next((tmp_path / "whole" / FOLDER).iterdir())
    path = Path(root) / FOLDER / whole.name.replace("part-00000", "part-00009")

    shutil.copyfile(whole, path)
    moved = damage(path)
    damaged = moved if isinstance(moved, Path) else path

    def repair():
        damaged.unlink()
        shutil.copyfile(whole, path)

    return root, damaged, repair, [r["event_id"] for r in good + other]


def _cut(share):
    def damage(path):
        data = path.read_bytes()
        path.write_bytes(data[:int(len(data) * share)])
    return damage


def _overwrite_middle(path):
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 20] = b"\xff" * 20
    path.write_bytes(bytes(data))


CORRUPT = {  # case: (store file format, damage, what the message must say)
    "garbage .jsonl.gz": ("jsonl", lambda path: path.write_bytes(b"these bytes were never gzip " * 20),
                          "Not a gzipped file"),
    "truncated .jsonl.gz": ("jsonl", _cut(0.5), "damaged or not jsonl"),
    "Avro with a broken block": ("avro", _overwrite_middle, "damaged or not avro"),
    "truncated Parquet": ("parquet", _cut(0.6), "damaged or not parquet"),
    "zero-byte file": ("avro", lambda path: path.write_bytes(b""), "is empty (0 bytes)"),
    "an unknown file type (.json.gz)": ("jsonl", lambda path: path.rename(
        path.with_suffix(".json.gz")), "is not a .parquet, .avro, .jsonl or .jsonl.gz file"),
}


@pytest.mark.reliability
@pytest.mark.parametrize("case", CORRUPT)
def test_a_corrupt_file_fails_the_run_naming_it_and_the_repaired_store_exports_whole(tmp_path, case):
    fmt, damage, fault = CORRUPT[case]
    root, path, repair, ids = _store_with(tmp_path, fmt, damage)
    status, text = export(root, tmp_path / "out", "json", START, END)
    assert status == 2, text
    assert f"store file {str(path)!r}" in text and fault in text and "\n" not in text.strip(), text
    assert reliability.folder_files(tmp_path / "out") == {}, "a failed read writes nothing"
    repair()
    export_ok(root, tmp_path / "out", "json", START, END)
    files = reliability.folder_files(tmp_path / "out")
    reliability.account("corrupt files", f"{case}: failed naming it; repaired, rerun", ids,
                        reliability.exported_ids(files), reliability.rejected_ids(files))


def test_markers_and_hidden_files_are_not_data(tmp_path):
    """Names starting with '_' or '.' (Spark's _SUCCESS, Hadoop's .crc) and files outside the partitions
    are not store files; everything else in a partition is (the unknown type above fails the run)."""
    root, path, _, ids = _store_with(tmp_path, "avro", lambda path: None)
    for name in ("_SUCCESS", f".{path.name}.crc", "_tmp.json"):
        (path.parent / name).write_bytes(b"not data")
    (Path(root) / "README.txt").write_text("about this store")
    files = reliability.folder_files(export_ok(root, tmp_path / "out", "json", START, END))
    assert sorted(reliability.exported_ids(files)) == sorted(ids)


@pytest.mark.reliability
def test_a_file_that_vanishes_after_listing_fails_the_run_and_the_rerun_finds_it_moved(tmp_path, monkeypatch):
    from pipelines import export as export_module
    root, path, _, ids = _store_with(tmp_path, "parquet", lambda path: None)
    moved = path.with_name("part-00002.parquet")
    listed = export_module.list_store

    def list_then_compact(*args):
        splits = listed(*args)
        path.rename(moved)   # a compaction job rewrites the file under another name just after the listing
        return splits

    monkeypatch.setattr(export_module, "list_store", list_then_compact)
    status, text = export(root, tmp_path / "out", "json", START, END)
    assert status == 2 and f"store file {str(path)!r} disappeared after the store was listed" in text, text
    monkeypatch.setattr(export_module, "list_store", listed)
    export_ok(root, tmp_path / "out", "json", START, END)
    files = reliability.folder_files(tmp_path / "out")
    reliability.account("corrupt files", "file gone between listing and reading: failed; rerun", ids,
                        reliability.exported_ids(files), reliability.rejected_ids(files))


@pytest.mark.reliability
def test_invalid_utf8_in_json_lines_is_rejected_with_its_bytes_shown(tmp_path):
    good = [reliability.event(f"utf8-good-{i}", _at(i)) for i in range(150)]
    root = write_store(tmp_path / "store", {FOLDER: [good]}, "jsonl")
    path = Path(root) / FOLDER / "part-00000.jsonl.gz"
    line = (b'{"event_id": "rid:utf8-bad", "event_name": "Caf\\u00e9 \xe9 bad", "event_time": %d, '
            b'"captured_at": %d, "profile": {}, "event_props": {}}\n' % (_at(3), _at(3)))
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()) + line, mtime=0))
    export_ok(root, tmp_path / "out", "json", START, END)
    files = reliability.folder_files(tmp_path / "out")
    (reject,) = reliability.rejected(files)
    assert reject["reason"] == f"line 151 is not valid UTF-8: byte {line.index(0xE9)} is 0xe9"
    assert "\\xe9 bad" in reject["record"]
    reliability.account("corrupt files", "invalid UTF-8 in a JSON Lines file: the line rejected",
                        [r["event_id"] for r in good] + ["rid:utf8-bad"], reliability.exported_ids(files),
                        reliability.rejected_ids(files))
