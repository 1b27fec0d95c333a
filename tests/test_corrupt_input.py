"""A broken store: bad records are set aside with a reason and counted; corrupt files fail the run naming
the file and the fault; nothing is skipped silently. Every case is accounted in the reliability table."""

import os

import pytest

from tests import reliability
from tests.conftest import export, export_ok, load_manifest, ms, write_store

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
