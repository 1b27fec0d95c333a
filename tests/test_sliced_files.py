"""A file too big to encode whole, written a slice at a time, holds what the same rows written whole
hold: for CSV the same bytes (one header of the whole file's keys), for Parquet the same schema (keys,
and the type each key's values agree on over the whole file) and the same values."""

import csv
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from transforms.formats import csv_format, parquet_format, parquet_slices, values
from transforms.formats.csv_format import CsvEncoder
from transforms.formats.parquet_format import ParquetEncoder
from transforms.formats.parquet_slices import agreed_type
from transforms.formats.values import as_text
from transforms.shuffle.partition import add_time_parts, split_by_partition
from transforms.records import EVENTS
from transforms.shuffle.sorted_rows import SortedRows
from transforms.shuffle.spill import read_piece, write_pieces

SLICE = 4
# Each key's values change type from slice to slice (4 rows a slice): what the whole file agrees on
# must reach every slice, whichever slice saw which type.
PROPS = [
    {"n": 1, "b": True, "f": 1.5, "z": None, "s": "x", "big": 1},
    {"n": 2, "b": False, "f": 2.25, "z": None},
    {"n": 3, "f": 4545.0, "z": None},   # Arrow would write 4545, as_text writes 4545.0
    {"n": 4, "f": 0.1},
    {"n": 5.5, "b": 3, "f": "text", "z": 7},
    {"n": 6, "f": "more", "deep": {"a": [1, 2]}},
    {"n": 7, "b": True, "z": 8, "big": 123456789012345678901234},
    {"n": 8},
    {},
    {"s": "only here"},
]


def _rows(tmp_path, devices=False):
    """The PROPS rows; with `devices`, the first slice's rows hold device details and the later slices none."""
    records = [{"event_name": "E", "event_time": 1763600000000 + i * 1000, "event_id": f"id{i}",
                "captured_at": 1763600000000, "profile": json.dumps({"identity": f"u{i % 3}"}),
                "device_info": json.dumps({"os": "iOS", "model": f"m{i}"} if devices and i < SLICE else {}),
                "event_props": json.dumps(props)} for i, props in enumerate(PROPS)]
    table = add_time_parts(pa.Table.from_pylist(records, schema=EVENTS.store_schema), "event_time", "UTC")
    (_, piece), = split_by_partition(table, EVENTS)
    return SortedRows.of_pieces([read_piece(ref) for ref in write_pieces(str(tmp_path), [piece])], EVENTS)


def test_sliced_csv_is_the_whole_csv(tmp_path, monkeypatch):
    rows = _rows(tmp_path, devices=True)

    def written():
        out = io.BytesIO()
        CsvEncoder(EVENTS).write_file(rows, "E", out)
        return out.getvalue()

    whole = written()
    taken = []
    monkeypatch.setattr(csv_format, "SLICE_BYTES", 0)   # where the encoder reads it
    monkeypatch.setattr(values, "SLICE_ROWS", SLICE)
    monkeypatch.setattr(csv_format, "slices", lambda r: [taken.append(p.num_rows) or p for p in values.slices(r)])
    assert written() == whole
    assert taken == [SLICE, SLICE, len(PROPS) - 2 * SLICE]   # it really went in slices
    header = whole.split(b"\r\n")[0].decode()
    assert "eventProps.deep" in header and "eventProps.s" in header   # keys of the first and last slices
    table = list(csv.reader(io.StringIO(whole.decode(), newline="")))
    device = table[0].index("deviceInfo.os")
    assert [row[device] for row in table[1:]] == ["iOS"] * SLICE + [""] * (len(PROPS) - SLICE)


def _written(rows):
    out = io.BytesIO()
    ParquetEncoder(EVENTS).write_file(rows, "E", out)
    return pq.read_table(io.BytesIO(out.getvalue())), pq.ParquetFile(io.BytesIO(out.getvalue())).metadata


def test_sliced_file_holds_what_the_whole_file_holds(tmp_path, monkeypatch):
    rows = _rows(tmp_path)
    whole, whole_meta = _written(rows)
    monkeypatch.setattr(parquet_format, "WHOLE_BYTES", 0)
    monkeypatch.setattr(values, "SLICE_BYTES", 0)
    monkeypatch.setattr(values, "SLICE_ROWS", SLICE)
    monkeypatch.setattr(parquet_slices, "ROW_GROUP_BYTES", 1)   # a row group per slice
    sliced, sliced_meta = _written(rows)
    assert whole_meta.num_row_groups == 1 and sliced_meta.num_row_groups == 3   # it really went in slices
    assert sliced.schema == whole.schema
    assert sliced.to_pylist() == whole.to_pylist()
    props = {f.name: str(f.type) for f in whole.schema.field("eventProps").type}
    assert props == {"n": "double", "b": "string", "f": "string", "z": "int64", "s": "string", "big": "string",
                     "deep": "string"}
    assert "deviceInfo" not in whole.column_names   # empty in every row: left out either way
    shown = [as_text(p["f"]) for p in PROPS[:6]]   # the numbers as the text formats show them
    assert [r["eventProps"]["f"] for r in sliced.to_pylist()][:6] == shown


@pytest.mark.parametrize("types, expected", [
    ([pa.int64(), None, pa.int64()], pa.int64()), ([pa.int64(), pa.float64()], pa.float64()),
    ([pa.bool_(), pa.bool_()], pa.bool_()), ([pa.bool_(), pa.int64()], pa.string()),
    ([None, None], pa.string()), ([pa.float64(), pa.string()], pa.string()), ([], pa.string())])
def test_agreed_type(types, expected):
    assert agreed_type(types) == expected
