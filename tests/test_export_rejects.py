"""Bad store records are not exported but set aside: counted in the manifest and written, with their source
file and reason, to `<request id>-<run ts>-rejects-0000.jsonl.gz`; the good rows still export."""

import gzip
import hashlib
import json

import pytest

from tests.support.expected import REQUEST_ID, RUN_TS, rejects_regex
from tests.support.exports import export, export_ok, load_manifest, verify_export
from tests.support.stores import ms, write_store

START, END = "2024-03-05T00:00:00Z", "2024-03-06T00:00:00Z"
FOLDER = "captured_date=2024-03-05"
ANY_SHARE = ("--max_reject_fraction", "1")   # these stores are mostly bad on purpose


def _good(tag, minute):
    t = ms(f"2024-03-05T10:{minute:02d}:00Z")
    return {"event_id": tag, "event_name": "Good", "event_time": t, "captured_at": t + 1000,
            "profile": {"identity": tag}, "device_info": {}, "event_props": {"n": minute}}


GOOD = [_good(f"g{i}", i) for i in range(9)]


def _bad(tag, minute, **fields):
    """A good record with `fields` replaced; a field set to ... is left out of the record."""
    record = _good(tag, minute)
    record.update(fields)
    return {k: v for k, v in record.items() if v is not ...}


@pytest.fixture(scope="module")
def bad_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad-store")
    jsonl = [GOOD[0], "this is not json {", "[1, 2, 3]", _bad("no-time", 20, event_time=None), GOOD[1],
             _bad("absent-time", 20, event_time=...),
             _bad("bad-props", 21, event_props="{not json"), _bad("str-time", 22, event_time="yesterday"), GOOD[2]]
    parquet = [GOOD[3], _bad("pq-props", 23, event_props="not json at all"), GOOD[4],
               _bad("pq-array", 24, event_props="[1, 2]"), _bad("pq-noname", 25, event_name=None), GOOD[5]]
    avro = [GOOD[6], _bad("avro-props", 26, profile='{"identity": "x",}'), GOOD[7], GOOD[8]]
    write_store(root, {FOLDER: [jsonl]}, "jsonl")
    write_store(root, {FOLDER: [[], parquet]}, "parquet")     # part-00001.parquet
    write_store(root, {FOLDER: [[], [], avro]}, "avro")      # part-00002.avro
    (root / FOLDER / "part-00000.parquet").unlink()
    (root / FOLDER / "part-00000.avro").unlink()
    (root / FOLDER / "part-00001.avro").unlink()
    return str(root)


EXPECTED_REASONS = [  # (file, reason fragment, record fragment)
    ("part-00000.jsonl.gz", "is not JSON", "this is not json {"),
    ("part-00000.jsonl.gz", "is not a JSON object", "[1, 2, 3]"),
    ("part-00000.jsonl.gz", "event_time is missing", "no-time"),
    ("part-00000.jsonl.gz", "event_time is missing", "absent-time"),
    ("part-00000.jsonl.gz", "event_props is not valid JSON", "bad-props"),
    ("part-00000.jsonl.gz", "wrong type", "str-time"),
    ("part-00001.parquet", "event_props is not valid JSON", "pq-props"),
    ("part-00001.parquet", "event_props is not a JSON object", "pq-array"),
    ("part-00001.parquet", "event_name is missing", "pq-noname"),
    ("part-00002.avro", "profile is not valid JSON", "avro-props"),
]


@pytest.fixture(scope="module")
def bad_exports(bad_store, tmp_path_factory):
    runs = {}
    for fmt in ("json", "parquet"):
        dest = tmp_path_factory.mktemp(f"bad-{fmt}")
        runs[fmt] = (dest, export(bad_store, dest, fmt, START, END, *ANY_SHARE))
    return runs


@pytest.mark.parametrize("fmt", ["json", "parquet"])
def test_rejects_are_counted_and_written(bad_exports, fmt):
    tmp_path, (status, text) = bad_exports[fmt]
    assert status == 0, text
    assert f"rejected records: {len(EXPECTED_REASONS)}" in text
    manifest = verify_export(tmp_path, fmt, GOOD, rejects=len(EXPECTED_REASONS))
    (item,) = manifest["rejects"]["objects"]
    assert item["key"] == f"{REQUEST_ID}-{RUN_TS}-rejects-0000.jsonl.gz"
    assert rejects_regex().fullmatch(item["key"])
    data = (tmp_path / item["key"]).read_bytes()
    assert (item["rows"], item["bytes"], item["sha256"]) == (len(EXPECTED_REASONS), len(data),
                                                            hashlib.sha256(data).hexdigest())
    lines = gzip.decompress(data).decode("utf-8").splitlines()
    rejects = [json.loads(line) for line in lines]
    assert all(set(r) == {"source", "reason", "record"} for r in rejects)
    found = []
    for source, reason, record in EXPECTED_REASONS:
        match = [r for r in rejects if r["source"] == f"{FOLDER}/{source}"   # relative to the store root
                 and reason in r["reason"] and record in r["record"]]
        assert len(match) == 1, (source, reason, record, rejects)
        found += match
    assert sorted(map(json.dumps, found)) == sorted(map(json.dumps, rejects))


def test_rejects_object_is_byte_identical_across_formats(bad_exports):
    key = f"{REQUEST_ID}-{RUN_TS}-rejects-0000.jsonl.gz"
    assert (bad_exports["json"][0] / key).read_bytes() == (bad_exports["parquet"][0] / key).read_bytes()


def test_records_outside_the_window_are_not_rejected(bad_store, tmp_path):
    """A bad record is judged only when its row is in the window. One that cannot be placed in time (no
    time, a wrong-typed time, a line that is not a JSON object) belongs, in a series of windows, to the
    window holding the start of its file's folder (2024-03-05T00:00), so the series reports it once."""
    series = ("--series_start", "2024-03-05T00:00:00Z")
    dest = export_ok(bad_store, tmp_path / "later", "json", "2024-03-05T10:06:00Z", "2024-03-05T10:21:00Z",
                     *ANY_SHARE, *series)
    manifest = load_manifest(dest)
    assert manifest["rejects"]["rows"] == 0 and manifest["totals"]["rows"] == 3   # g6, g7, g8
    dest = export_ok(bad_store, tmp_path / "first", "json", "2024-03-05T00:00:00Z", "2024-03-05T10:06:00Z",
                     *ANY_SHARE, *series)
    manifest = load_manifest(dest)
    reasons = sorted(json.loads(line)["reason"].split(":")[0] for line in gzip.decompress(
        (dest / manifest["rejects"]["objects"][0]["key"]).read_bytes()).decode().splitlines())
    assert reasons == ["event_time is missing", "event_time is missing", "line 2 is not JSON",
                       "line 3 is not a JSON object", "wrong type"]
    assert manifest["totals"]["rows"] == 6   # g0 to g5


# ---------------------------------------------------------------------------------------------- bugs

def _jsonl_store(root, props):
    records = [_good("g0", 0)] + [_bad(f"b{i}", i + 1, event_props=p) for i, p in enumerate(props)]
    return write_store(root, {FOLDER: [records]}, "jsonl")


def test_jsonl_array_props_are_rejected_not_fatal(tmp_path):
    source = _jsonl_store(tmp_path / "store", [[1, 2]])
    status, text = export(source, tmp_path / "out", "json", START, END, *ANY_SHARE)
    assert status == 0, text
    assert load_manifest(tmp_path / "out")["rejects"]["rows"] == 1


def test_jsonl_array_props_are_not_turned_into_objects(tmp_path):
    source = _jsonl_store(tmp_path / "store", [["ab"], []])
    dest = export_ok(source, tmp_path / "out", "json", START, END, *ANY_SHARE)
    manifest = load_manifest(dest)
    assert manifest["rejects"]["rows"] == 2
    assert manifest["totals"]["rows"] == 1
