"""Which run judges a record, and the time faults that reject one (transforms/sources/placement.py), through
the readers on small store files of every format: impossible event times, times that are not whole
milliseconds, misfiled records, and the one run of a series that rejects what cannot be placed in time."""

import datetime as dt
import uuid

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.support.stores import ms, write_store
from transforms.records import EVENTS, PROFILES
from transforms.sources.placement import EPOCH_END_MS, latest_ms
from transforms.sources.readers import read_split

DAY = "2026-11-20"
FOLDER = f"captured_date={DAY}"
NOON = ms(f"{DAY}T12:00:00Z")
YEAR_10000 = EPOCH_END_MS


def _event(tag, event_time, captured_at=NOON):
    return {"event_id": tag, "event_name": "E", "event_time": event_time, "captured_at": captured_at,
            "profile": {"identity": tag}, "device_info": {}, "event_props": {"tag": tag}}


IMPOSSIBLE = [_event("micros", 1_795_176_000_000_000), _event("year-10000", YEAR_10000), _event("before-1970", -1),
              _event("last-ms", YEAR_10000 - 1), _event("epoch", 0), _event("ordinary", NOON - 5000)]


def _read(path, shape=EVENTS, basis="event", start=None, end=2 ** 62, **options):
    rejects = []
    tables = list(read_split(str(path), shape, shape.window_column(basis), start, end, rejects, **options))
    kept = [row for table in tables for row in table.to_pylist()]
    return kept, rejects


def _ids(rows, column="event_id"):
    return sorted(row[column] for row in rows)


def _reject_ids(rejects):
    return sorted(tag for r in rejects for tag in ("micros", "year-10000", "before-1970", "fraction", "misfiled")
                  if f'"{tag}"' in r["record"])


@pytest.mark.parametrize("store_fmt", ["parquet", "avro", "jsonl"])
@pytest.mark.parametrize("basis", ["event", "capture"])
def test_impossible_event_times_are_rejected_naming_the_value(tmp_path, store_fmt, basis):
    root = write_store(tmp_path, {FOLDER: [IMPOSSIBLE]}, store_fmt)
    (path,) = (tmp_path / FOLDER).iterdir()
    kept, rejects = _read(path, basis=basis, start=0 if basis == "event" else ms(f"{DAY}T00:00:00Z"))
    assert _ids(kept) == ["epoch", "last-ms", "ordinary"], root
    assert _reject_ids(rejects) == ["before-1970", "micros", "year-10000"]
    reasons = {r["reason"].split(" ")[1]: r for r in rejects}
    assert "event_time 1795176000000000 (no date) is not between 1970-01-01T00:00:00Z and 10000-01-01" in \
        reasons["1795176000000000"]["reason"]
    assert "event_time 253402300800000 (" in reasons["253402300800000"]["reason"]
    assert "event_time -1 (1969-12-31T23:59:59.999Z)" in reasons["-1"]["reason"]
    assert {r["source"] for r in rejects} == {f"{FOLDER}/{path.name}"}


def test_profiles_with_an_impossible_update_time_are_rejected(tmp_path):
    versions = [{"identity": tag, "object_id": "o", "updated_at": at, "properties": {"v": 1}}
                for tag, at in (("good", NOON), ("micros", NOON * 1000))]
    write_store(tmp_path, {f"updated_date={DAY}": [versions]}, "avro", kind="profiles")
    (path,) = (tmp_path / f"updated_date={DAY}").iterdir()
    kept, rejects = _read(path, PROFILES, end=NOON + 1)
    assert _ids(kept, "identity") == ["good"]
    (reject,) = rejects
    assert reject["reason"].startswith(f"updated_at {NOON * 1000} (")


def test_a_time_zone_ahead_of_utc_moves_the_limit_so_every_date_has_8_digits(tmp_path):
    assert latest_ms("UTC") == YEAR_10000 and latest_ms("America/New_York") == YEAR_10000
    assert latest_ms("Pacific/Kiritimati") == YEAR_10000 - 14 * 3_600_000
    late = YEAR_10000 - 3_600_000                                    # 9999-12-31T23:00Z: 10000-01-01 in Kiritimati
    write_store(tmp_path, {FOLDER: [[_event("late", late)]]}, "jsonl")
    (path,) = (tmp_path / FOLDER).iterdir()
    assert _ids(_read(path)[0]) == ["late"]
    kept, (reject,) = _read(path, latest=latest_ms("Pacific/Kiritimati"))
    assert kept == [] and "(10000-01-01 in the export's time zone)" in reject["reason"]


def test_times_that_are_not_whole_milliseconds_are_rejected_on_every_path(tmp_path):
    good, fraction = NOON, NOON + 0.5
    # JSON Lines: a float (Arrow alone would truncate it without a word)
    write_store(tmp_path / "j", {FOLDER: [[_event("good", good), _event("fraction", fraction),
                                           _event("whole-float", float(good))]]}, "jsonl")
    kept, rejects = _read(next((tmp_path / "j" / FOLDER).iterdir()))
    assert _ids(kept) == ["good", "whole-float"] and _reject_ids(rejects) == ["fraction"]
    assert rejects[0]["reason"] == f"event_time {fraction!r} is not a whole number of milliseconds"
    # Parquet: a double column, and a capture time in microseconds
    micros = pa.array([NOON * 1000, NOON * 1000 + 1, None], pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    path = tmp_path / FOLDER / "part-0.parquet"
    path.parent.mkdir()
    pq.write_table(pa.table({"event_id": ["good", "fraction", "no-capture"], "event_name": ["E"] * 3,
                             "event_time": pa.array([good, fraction, 1.0e12]), "captured_at": micros,
                             "profile": ["{}"] * 3, "device_info": ["{}"] * 3, "event_props": ["{}"] * 3}), path)
    kept, rejects = _read(path)
    assert _ids(kept) == ["good"]
    assert [r["reason"] for r in rejects] == [f"event_time {fraction!r} is not a whole number of milliseconds",
                                              "captured_at is missing"]
    path = tmp_path / FOLDER / "part-1.parquet"
    pq.write_table(pa.table({"event_id": ["micro"], "event_name": ["E"], "event_time": [good],
                             "captured_at": micros[1:2], "profile": ["{}"], "device_info": ["{}"],
                             "event_props": ["{}"]}), path)
    kept, (reject,) = _read(path)
    assert kept == [] and reject["reason"] == f"captured_at {NOON * 1000 + 1} us is not a whole number of milliseconds"
    # Avro: a timestamp-micros logical type with a part of a millisecond
    schema = {"type": "record", "name": "E", "fields": [
        {"name": n, "type": "string"} for n in ("event_id", "event_name", "profile", "device_info", "event_props")] + [
        {"name": "event_time", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "captured_at", "type": "long"}]}
    path = tmp_path / FOLDER / "part-2.avro"
    at = dt.datetime(2026, 11, 20, 11, 0, tzinfo=dt.timezone.utc)
    with open(path, "wb") as handle:
        fastavro.writer(handle, schema, [
            {"event_id": tag, "event_name": "E", "profile": "{}", "device_info": "{}", "event_props": "{}",
             "event_time": at + dt.timedelta(microseconds=micro), "captured_at": NOON}
            for tag, micro in (("good", 3000), ("fraction", 3500))])
    kept, (reject,) = _read(path)
    assert [row["event_time"] for row in kept] == [ms("2026-11-20T11:00:00.003Z")]
    assert reject["reason"] == "event_time 1795172400003.5 is not a whole number of milliseconds"


MISFILED = [_event("ordinary", NOON - 1000), _event("misfiled", NOON - 1000, captured_at=NOON - 366 * 86_400_000),
            _event("after", NOON, captured_at=ms("2026-11-21T00:00:00Z")),
            _event("no-time", None, captured_at=NOON + 1)]
H = 3_600_000


def _windows(start, hours, count):
    first = ms(start)
    return [(first + i * hours * H, first + (i + 1) * hours * H) for i in range(count)]


@pytest.mark.parametrize("basis", ["capture", "event"])
@pytest.mark.parametrize("series_start", ["2026-11-20T00:00:00Z", "2026-11-20T10:00:00Z", "2026-11-19T20:00:00Z"])
def test_a_series_rejects_a_record_it_cannot_place_exactly_once(tmp_path, basis, series_start):
    """Contiguous 4 h windows from `series_start` (the folder's start, inside it, before it) each read the
    folder; only the one holding the folder's start, or the series' when that is later, rejects the
    misfiled records and (on event basis) the one without an event time; the ordinary one is exported by
    the window holding it, and on capture basis the timeless one is rejected by the window holding its
    capture."""
    write_store(tmp_path, {FOLDER: [MISFILED]}, "parquet")
    (path,) = (tmp_path / FOLDER).iterdir()
    exported, rejected = [], []
    for start, end in _windows(series_start, 4, 9):
        kept, rejects = _read(path, basis=basis, start=start, end=end, series_start=ms(series_start))
        exported += _ids(kept)
        rejected += [(r["reason"].split(" ")[0], start) for r in rejects]
    def holding(moment):
        return next(start for start, end in _windows(series_start, 4, 9) if start <= moment < end)

    owner = holding(max(ms(series_start), ms(f"{DAY}T00:00:00Z")))
    assert exported == ["ordinary"]
    assert sorted(rejected) == [("captured_at", owner), ("captured_at", owner),
                                ("event_time", owner if basis == "event" else holding(NOON + 1))]


def test_a_run_standing_alone_rejects_what_it_cannot_place_in_every_folder_it_reads(tmp_path):
    write_store(tmp_path, {FOLDER: [MISFILED]}, "jsonl")
    (path,) = (tmp_path / FOLDER).iterdir()
    kept, rejects = _read(path, basis="capture", start=ms(f"{DAY}T06:00:00Z"), end=ms(f"{DAY}T08:00:00Z"))
    assert kept == [] and len(rejects) == 2         # the timeless one is placed by its capture, at noon
    misfiled = next(r for r in rejects if '"misfiled"' in r["record"])
    assert misfiled["reason"] == (f"captured_at {NOON - 366 * 86_400_000} (2025-11-19T12:00:00.000Z) is outside its "
                                  f"folder {FOLDER}/, which holds 2026-11-20T00:00:00.000Z to "
                                  "2026-11-21T00:00:00.000Z: the record was filed under the wrong date")
    # an event-time run reading the folder only for late captures (it starts after the window ends)
    kept, rejects = _read(path, start=ms("2026-11-18T00:00:00Z"), end=ms("2026-11-19T00:00:00Z"))
    assert kept == [] and len(rejects) == 3


def test_an_hour_folder_holds_one_hour_and_a_misfiled_capture_is_never_later_data(tmp_path):
    folder = f"{FOLDER}/captured_hour=12"
    write_store(tmp_path, {folder: [[_event("ordinary", NOON - 1000, NOON + 5),
                                     _event("misfiled", NOON - 1000, NOON + H),
                                     _event("late", NOON - 1000, NOON + 10)]]}, "jsonl")
    (path,) = (tmp_path / folder).iterdir()
    kept, rejects = _read(path, start=NOON - H, end=NOON, captured_before=NOON + 10)
    assert _ids(kept) == ["ordinary"]   # 'late' is later data: captured at the ceiling
    (reject,) = rejects
    assert f"is outside its folder {folder}/" in reject["reason"] and reject["source"] == f"{folder}/{path.name}"


def test_rejects_of_an_s3_store_name_the_file_below_the_store_root(tmp_path, server):
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.options.pipeline_options import PipelineOptions

    write_store(tmp_path, {FOLDER: [[_event("good", NOON - 1000), "not json"]]}, "jsonl")
    (path,) = (tmp_path / FOLDER).iterdir()
    bucket = f"store-{uuid.uuid4().hex[:10]}"
    server.admin_client().create_bucket(Bucket=bucket)
    server.admin_client().put_object(Bucket=bucket, Key=f"platform/events/{FOLDER}/{path.name}", Body=path.read_bytes())
    admin = server.admin_credentials
    FileSystems.set_options(PipelineOptions([
        "--s3_endpoint_url", server.endpoint_url, "--s3_region_name", server.region,
        "--s3_access_key_id", admin.access_key_id, "--s3_secret_access_key", admin.secret_access_key]))
    try:
        kept, (reject,) = _read(f"s3://{bucket}/platform/events/{FOLDER}/{path.name}")
    finally:
        FileSystems.set_options(None)
    assert _ids(kept) == ["good"]
    assert reject["source"] == f"{FOLDER}/{path.name}" and bucket not in str(reject)


def test_a_parquet_timestamp_column_before_1970_is_rejected_in_milliseconds(tmp_path):
    path = tmp_path / FOLDER / "part-0.parquet"
    path.parent.mkdir()
    before = ms("1960-01-01T00:00:00Z")
    pq.write_table(pa.table({"event_id": ["good", "old"], "event_name": ["E"] * 2,
                             "event_time": pa.array([NOON, before], pa.timestamp("ms", tz="UTC")),
                             "captured_at": [NOON, NOON], "profile": ["{}"] * 2, "device_info": ["{}"] * 2,
                             "event_props": ["{}"] * 2}), path)
    kept, (reject,) = _read(path)
    assert _ids(kept) == ["good"]
    assert reject["reason"].startswith(f"event_time {before} (1960-01-01T00:00:00.000Z) is not between")
    assert f'"event_time":"{before} ms"' in reject["record"]
