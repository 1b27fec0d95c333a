"""Store files that type their times as timestamps still read as epoch milliseconds."""

import datetime as dt

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq

from transforms.sources.readers import read_split
from transforms.records import EVENTS

MS = [1795132800123, 1795132801000]


def _read(path):
    rejects = []
    tables = list(read_split(str(path), EVENTS, "event_time", None, 2**62, rejects))
    assert rejects == []
    return pa.concat_tables(tables)


def test_parquet_timestamp_microseconds_become_epoch_ms(tmp_path):
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({
        "event_id": ["a", "b"], "event_name": ["E", "E"],
        "event_time": pa.array(MS, pa.timestamp("ms", tz="UTC")).cast(pa.timestamp("us", tz="UTC")),
        "captured_at": pa.array(MS, pa.timestamp("ms")),
        "profile": ["{}"] * 2, "device_info": ["{}"] * 2, "event_props": ['{"x":1}'] * 2}), path)
    table = _read(path)
    assert table["event_time"].to_pylist() == MS and table["captured_at"].to_pylist() == MS


def test_avro_timestamp_millis_becomes_epoch_ms(tmp_path):
    schema = {"type": "record", "name": "E", "fields": [
        {"name": "event_id", "type": "string"}, {"name": "event_name", "type": "string"},
        {"name": "event_time", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "captured_at", "type": "long"}, {"name": "profile", "type": "string"},
        {"name": "device_info", "type": "string"}, {"name": "event_props", "type": "string"}]}
    path = tmp_path / "a.avro"
    with open(path, "wb") as handle:
        fastavro.writer(handle, schema, [{
            "event_id": "c", "event_name": "E", "captured_at": MS[0], "profile": "{}", "device_info": "{}",
            "event_props": "{}", "event_time": dt.datetime.fromtimestamp(MS[0] / 1000, dt.timezone.utc)}])
    assert _read(path)["event_time"].to_pylist() == MS[:1]
