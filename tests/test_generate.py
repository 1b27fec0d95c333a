"""Tests for devtools.generate: the synthetic store must be deterministic and honour the contract."""
import datetime as dt
import json
from collections import defaultdict

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from devtools.generate import HOSTILE_NAMES, generate, main
from devtools.store_variety import HOSTILE_KEYS, PAYLOAD_CHARS
from tests.support.stores import read_store_file
from transforms.sources.watermark import read_watermark

END = dt.date(2024, 3, 10)
DAY_MS = 86_400_000
EVENT_TYPES = {"event_id": str, "event_name": str, "event_time": int, "captured_at": int,
               "profile": dict, "device_info": dict, "event_props": dict}
PROFILE_TYPES = {"identity": str, "object_id": str, "updated_at": int, "properties": dict}


def read_records(path):
    """Read one part file into dicts, decoding the JSON string columns of parquet/avro."""
    rows = read_store_file(path)
    if path.suffix not in (".parquet", ".avro"):
        return rows
    for row in rows:
        for key in ("profile", "device_info", "event_props", "properties"):
            if key in row:
                assert isinstance(row[key], str)
                row[key] = json.loads(row[key])
    return rows


def read_store(root, store):
    """Map each part file of a store to its records."""
    return {p: read_records(p) for p in sorted((root / store).glob("*/part-*"))}


def utc_date(ms):
    return (dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=ms)).date().isoformat()


@pytest.fixture(scope="module", params=["parquet", "avro", "jsonl"])
def store(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(request.param)
    result = generate(out, 3000, 4, request.param, seed=7, end=END, hostile=True)
    return request.param, out, result


def test_determinism_byte_identical(tmp_path):
    for fmt in ("parquet", "avro", "jsonl"):
        a, b, c = (generate(tmp_path / f"{fmt}{n}", 800, 3, fmt, seed=s, end=END, hostile=True)
                   for n, s in ((1, 3), (2, 3), (3, 4)))
        assert a == b and a["files"]
        for rel in a["files"]:
            assert (tmp_path / f"{fmt}1" / rel).read_bytes() == (tmp_path / f"{fmt}2" / rel).read_bytes()
        assert any((tmp_path / f"{fmt}1" / rel).read_bytes() != (tmp_path / f"{fmt}3" / rel).read_bytes()
                   for rel in set(a["files"]) & set(c["files"]))


def test_layout_and_fields(store):
    fmt, out, result = store
    events = read_store(out, "events")
    ext = {"parquet": ".parquet", "avro": ".avro", "jsonl": ".jsonl.gz"}[fmt]
    assert sorted(p.relative_to(out).as_posix() for p in events) == sorted(
        f for f in result["files"] if f.startswith("events/"))
    folders = sorted(p.parent.name for p in events)
    assert folders[0] == "captured_date=2024-03-07" and folders[-1] == "captured_date=2024-03-10"
    ids = []
    for path, rows in events.items():
        assert path.name.startswith("part-00000") and path.name.endswith(ext)
        for row in rows:
            assert {k: type(v) for k, v in row.items()} == EVENT_TYPES
            assert path.parent.name == f"captured_date={utc_date(row['captured_at'])}"
            assert {"identity", "objectId", "email", "name", "platform"} <= row["profile"].keys()
            assert all(not isinstance(v, (dict, list)) for v in row["event_props"].values())
            ids.append(row["event_id"])
    assert len(ids) == len(set(ids)) == result["events"] == 3000 + len(HOSTILE_NAMES)


def test_schemas(store):
    fmt, out, _ = store
    first = next((out / "events").glob("*/part-00000*"))
    if fmt == "parquet":
        schema = pq.read_schema(first)
        assert [(f.name, f.type) for f in schema] == [
            (name, pa.int64() if t is int else pa.string()) for name, t in EVENT_TYPES.items()]
    elif fmt == "avro":
        with open(first, "rb") as fo:
            reader = fastavro.reader(fo)
            assert reader.codec == "deflate"
            assert [(f["name"], f["type"]) for f in reader.writer_schema["fields"]] == [
                (name, "long" if t is int else "string") for name, t in EVENT_TYPES.items()]
    else:
        assert first.read_bytes()[4:8] == b"\0\0\0\0"  # gzip mtime=0


def test_realistic_timing_and_mix(store):
    _, out, _ = store
    rows = [r for rs in read_store(out, "events").values() for r in rs]
    lags = [r["captured_at"] - r["event_time"] for r in rows]
    assert any(DAY_MS <= lag <= 3 * DAY_MS for lag in lags)  # offline SDK queues
    assert any(-600_000 <= lag < 0 for lag in lags)  # device clock skew
    assert all(-600_000 <= lag <= 3 * DAY_MS for lag in lags)
    names = [r["event_name"] for r in rows]
    assert max(set(names), key=names.count) == "App Launched"
    assert any(r["device_info"] == {} for r in rows)
    charged = next(r for r in rows if r["event_name"] == "Charged")
    assert {"Amount", "Currency", "Payment mode", "Items count", "Charged ID"} <= charged["event_props"].keys()


def test_hostile_events(store):
    _, out, _ = store
    rows = [r for rs in read_store(out, "events").values() for r in rs]
    hostile = {r["event_name"]: r["event_props"] for r in rows if r["event_name"] in HOSTILE_NAMES}
    assert set(hostile) == set(HOSTILE_NAMES)
    assert {"🎉 Party", "Items, Bought", "User's \"Quote\" Event"} <= set(hostile)
    assert any(len(n) == 200 for n in hostile)
    values = [v for props in hostile.values() for v in props.values() if isinstance(v, str)]
    for needle in ("\n", "\r", ",", '"', "<", "&", ">", "\t", "\x01", "\x1f", "日本語"):
        assert any(needle in v for v in values), repr(needle)
    assert any(len(v.encode("utf-8")) >= 3000 for v in values)
    assert any(" " in k and "." in k for props in hostile.values() for k in props)


def test_profile_store_versions(store):
    _, out, result = store
    versions = defaultdict(list)
    for path, rows in read_store(out, "profiles").items():
        for row in rows:
            assert {k: type(v) for k, v in row.items()} == PROFILE_TYPES
            assert path.parent.name == f"updated_date={utc_date(row['updated_at'])}"
            assert {"Name", "Email", "Customer Type", "Tz"} <= row["properties"].keys()
            versions[row["identity"]].append(row)
    assert len(versions) == result["profiles"] == 150  # default events // 20
    multi = [v for v in versions.values() if len(v) > 1]
    assert len(multi) == 45
    assert all(len({utc_date(r["updated_at"]) for r in v}) == len(v) for v in multi)
    assert any(a["properties"] != b["properties"] for a, b, *_ in multi)
    events = [r for rs in read_store(out, "events").values() for r in rs]
    assert {r["profile"]["identity"] for r in events} <= set(versions)


def test_cli_and_refuses_existing_dir(tmp_path, capsys):
    main(["--out", str(tmp_path), "--events", "50", "--days", "2", "--format", "jsonl", "--end", "2024-01-02"])
    assert json.loads(capsys.readouterr().out)["events"] == 50
    assert (tmp_path / "events" / "captured_date=2024-01-02").is_dir()
    assert not (tmp_path / "events" / "captured_date=2024-01-03").exists()
    with pytest.raises(FileExistsError):
        generate(tmp_path, 50, 2, "jsonl", end=END)


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_distinct_store_with_long_values(tmp_path, fmt):
    """--distinct all --long-values: nearly every map text distinct, long escape-heavy titles, the same
    events otherwise, and the same bytes from the same seed."""
    plain = generate(tmp_path / "plain", 1500, 3, fmt, seed=5, end=END, hostile=True)
    varied = generate(tmp_path / "varied", 1500, 3, fmt, seed=5, end=END, hostile=True, distinct="all",
                      long_values=True)
    again = generate(tmp_path / "again", 1500, 3, fmt, seed=5, end=END, hostile=True, distinct="all",
                     long_values=True)
    assert plain == varied == again
    for rel in varied["files"]:
        assert (tmp_path / "varied" / rel).read_bytes() == (tmp_path / "again" / rel).read_bytes()
    before = [r for rs in read_store(tmp_path / "plain", "events").values() for r in rs]
    rows = [r for rs in read_store(tmp_path / "varied", "events").values() for r in rs]
    assert [r["event_id"] for r in rows] == [r["event_id"] for r in before]
    for column in ("profile", "device_info", "event_props"):
        texts = {json.dumps(r[column], sort_keys=True) for r in rows}
        assert len(texts) > 0.9 * len(rows), column
    for old, new in zip(before, rows):
        assert new["profile"] == {**old["profile"], "session_id": new["profile"]["session_id"]}
        assert set(new["event_props"]) - set(old["event_props"]) <= {"lat", "lon", "page_title"}
        assert -90 <= new["event_props"]["lat"] <= 90 and -180 <= new["event_props"]["lon"] <= 180
        assert (new["event_name"] in HOSTILE_NAMES) == ("page_title" not in new["event_props"])
    titles = [r["event_props"]["page_title"] for r in rows if "page_title" in r["event_props"]]
    assert sum(len(t.encode()) for t in titles) / len(titles) > 300
    for needle in ('"', "\\", "\n", "\t", "<", "&", "\u2028", "🚀"):
        assert any(needle in t for t in titles), repr(needle)


def test_hostile_values_store(tmp_path):
    """--distinct all --hostile-values: hostile keys in every ordinary event, a 3 KB payload in about a
    twelfth, values holding what each format must escape, non-ASCII as \\u escapes, the same bytes
    from the same seed."""
    kwargs = dict(seed=5, end=END, distinct="all", hostile_values=True)
    varied, again = (generate(tmp_path / name, 2400, 3, "parquet", **kwargs) for name in ("a", "b"))
    assert varied == again and all((tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
                                   for rel in varied["files"])
    rows = [r for rs in read_store(tmp_path / "a", "events").values() for r in rs]
    props = [r["event_props"] for r in rows]
    hostile = [{k: v for k, v in p.items() if k in HOSTILE_KEYS} for p in props]
    assert all(hostile)
    assert 1 / 16 < sum("payload" in p for p in props) / len(props) < 1 / 9
    assert {len(p["payload"]) for p in props if "payload" in p} == {PAYLOAD_CHARS}
    assert any(v is None for h in hostile for v in h.values())
    values = "".join(v for h in hostile for v in h.values() if v) + "".join(p.get("payload", "") for p in props)
    for needle in ("<", "&", "]]>", '"', ",", "\t", "\n", "\r", "\x01", "🎉", "=SUM(", "007"):
        assert needle in values, repr(needle)
    assert 0.2 < sum("display name" in r["profile"] for r in rows) / len(rows) < 0.3
    for column in ("profile", "device_info", "event_props"):
        assert len({json.dumps(r[column], sort_keys=True) for r in rows}) > 0.9 * len(rows), column
    stored = pq.read_table(tmp_path / "a" / varied["files"][0])["event_props"].to_pylist()
    assert any("\\ud83c\\udf89" in text for text in stored)   # an emoji as a surrogate pair


def test_store_is_marked_complete_up_to_the_day_after_its_end(store):
    _, out, _ = store
    end_ms = ((END - dt.date(1970, 1, 1)).days + 1) * DAY_MS
    for name, column in (("events", "captured_at"), ("profiles", "updated_at")):
        assert read_watermark(str(out / name)) == end_ms
        times = [r[column] for rs in read_store(out, name).values() for r in rs]
        assert max(times) < end_ms <= max(times) + DAY_MS   # every row is before the mark, the last day is in
