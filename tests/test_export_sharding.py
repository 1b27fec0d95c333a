"""--max_file_bytes: contiguous shards 0000..000N per (event, date), each within the limit, rows in
(event_time, event_id) order across and within shards, nothing lost or duplicated."""

import datetime as dt
from collections import defaultdict

import pytest

from tests.support.expected import manifest_name
from tests.support.exports import export, export_ok, verify_export
from tests.support.readers import read_object
from tests.support.stores import in_window, read_generated_events

START, END = "2024-03-07T00:00:00Z", "2024-03-11T00:00:00Z"


@pytest.fixture(scope="module")
def busy_store(tmp_path_factory):
    """One busy day (no hostile rows, so single rows are small), ~1,200 "App Launched" events."""
    from devtools.generate import generate
    out = tmp_path_factory.mktemp("busy")
    generate(out, 4000, 1, "parquet", seed=5, end=dt.date(2024, 3, 10))
    rows = read_generated_events(out / "events")
    return str(out / "events"), in_window(rows, START, END)


@pytest.mark.parametrize("fmt,limit", [("json", 4000), ("csv", 4000), pytest.param("xml", 4000, marks=pytest.mark.slow),
                                       pytest.param("avro", 4000, marks=pytest.mark.slow), ("parquet", 20000)])
def test_shards_within_limit_in_order(busy_store, tmp_path, fmt, limit):
    source, want = busy_store
    assert len(want) == 4000
    dest = export_ok(source, tmp_path, fmt, START, END, "--max_file_bytes", limit)
    manifest = verify_export(dest, fmt, want, max_file_bytes=limit)
    shards = defaultdict(list)
    for item in manifest["objects"]:
        shards[(item["event_name"], item["date"])].append(item)
    launched = max(shards.items(), key=lambda kv: sum(o["rows"] for o in kv[1]))
    assert launched[0][0] == "App Launched"
    assert len(launched[1]) >= 3
    # shards are filled: all but the last of a partition hold at least a third of the limit
    for items in shards.values():
        for item in sorted(items, key=lambda o: o["index"])[:-1]:
            assert item["bytes"] > limit / 3, item
    if fmt == "json":   # ts never goes back, within a file or from one shard to the next
        for items in shards.values():
            stamps = []
            for item in sorted(items, key=lambda o: o["index"]):
                _, rows = read_object((dest / item["key"]).read_bytes(), "json")
                stamps += [dict(row)["ts"] for row in rows]
            assert stamps == sorted(stamps)


def test_row_larger_than_limit_is_a_clear_error(busy_store, tmp_path):
    source, _ = busy_store
    status, text = export(source, tmp_path, "parquet", START, END, "--max_file_bytes", 2000)
    assert status == 2
    assert text.startswith("eventexport: error: one ") and "--max_file_bytes 2000" in text
    assert "\n" not in text and "Traceback" not in text
    assert not (tmp_path / manifest_name()).exists()   # no manifest: the run is not complete
