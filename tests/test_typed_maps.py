"""The CSV, Parquet and XML encoders have two paths (Arrow-typed maps, or XML's native kernel, and Python);
same bytes from both."""

import datetime as dt
import glob
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from lxml import etree

from devtools.generate import generate
from transforms.formats import csv_format, encoder_for, parquet_format, values, xml_format
from transforms.formats.typed_maps import typed_columns
from transforms.shuffle.partition import add_time_parts, split_by_partition
from transforms.records import EVENTS, PROFILES, TS
from transforms.sources.validation import validate
from tests.support.xml_reference import python_fragments, python_records


@pytest.fixture(scope="module")
def partitions(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    generate(str(root), 4000, 2, "parquet", seed=11, end=dt.date(2026, 11, 20), hostile=True)
    table = pa.concat_tables([pq.read_table(p) for p in sorted(glob.glob(f"{root}/events/*/*.parquet"))])
    table = add_time_parts(validate("store", table, EVENTS, []), "event_time", "UTC")
    return list(split_by_partition(table, EVENTS))


def _python_path(module, patched):
    """Send every map the encoder types (XML: renders natively) down its Python path instead."""
    if module is xml_format:
        patched.setattr(module, "map_fragments", python_fragments)
        patched.setattr(module, "write_records", python_records)
    else:
        patched.setattr(module, "typed_columns", lambda column: None)


@pytest.mark.parametrize("fmt, module", [("csv", csv_format), ("parquet", parquet_format), ("xml", xml_format)])
def test_both_paths_give_the_same_bytes(partitions, fmt, module, monkeypatch):
    encoder = encoder_for(fmt, EVENTS)
    typed = []
    for (name, _), rows in partitions:
        fast = io.BytesIO()
        encoder.write_file(rows, name, fast)
        with monkeypatch.context() as patched:
            _python_path(module, patched)
            slow = io.BytesIO()
            encoder.write_file(rows, name, slow)
        assert fast.getvalue() == slow.getvalue(), name
        typed.append(typed_columns(rows["event_props"]) is not None)
    assert any(typed)   # the fast path really ran


@pytest.mark.parametrize("texts", [
    ['{"a": 1}', '{"a": "x"}'],                 # mixed types: string in the Python rule
    ['{"a": 10000000000000000000}'],            # beyond int64: exact text in the Python rule
    ['{"a": {"b": 1}}'],                        # nested: JSON text in the Python rule
])
def test_what_arrow_cannot_type_goes_the_python_way(texts):
    assert typed_columns(pa.array(texts)) is None


def test_strings_that_look_like_times_stay_strings():
    columns = typed_columns(pa.array(['{"d": "2021-01-01", "n": 1}', '{"d": "2021-01-02 10:00:00"}']))
    assert columns["d"].to_pylist() == ["2021-01-01", "2021-01-02 10:00:00"]
    assert columns["n"].type == pa.int64()


TRICKY_NUMBERS = ["4545", "4545.0", "-0.0", "0.1", "4545.50", "1e16", "1E2", "100.0", "0.0001", "0.00005",
                  "123456789.123456789", "1000000000000000.0", "2.5e-3", "0.30000000000000004", "-12.75", "-0",
                  "0", "-0e0"]


@pytest.mark.parametrize("fmt, module", [("csv", csv_format), ("xml", xml_format)])
def test_numbers_show_as_python_shows_them(partitions, fmt, module, monkeypatch):
    """A double key's text comes from the stored number where that is what Python would print, else
    from Python; null and absent members, escaped keys and text to escape: the bytes match the Python path."""
    (name, _), rows = max(partitions, key=lambda partition: partition[1].num_rows)
    extra = ['"z": null', '"\\u00e9t\\u00e9": null', '"\\u00e9t\\u00e9": "x"', '"z": "&"', '"z": "a\\u0001"',
             '"k\\\\E": null', '"k\\\\E": 1']
    texts = [f'{{"n": {TRICKY_NUMBERS[i % len(TRICKY_NUMBERS)]}, "k \\"q\\"": {i}.5, {extra[i % len(extra)]}}}'
             for i in range(rows.num_rows)]
    rows = rows.set_column(rows.schema.get_field_index("event_props"), "event_props", pa.array(texts))
    encoder, fast, slow = encoder_for(fmt, EVENTS), io.BytesIO(), io.BytesIO()
    encoder.write_file(rows, name, fast)
    _python_path(module, monkeypatch)
    encoder.write_file(rows, name, slow)
    assert fast.getvalue() == slow.getvalue()
    assert b"4545.0" in fast.getvalue() and b"1e+16" in fast.getvalue()


HOSTILE_PROFILE_KEYS = ["email", "email ", " email", "first name", "1st", "a:b", "xmlFoo", "XmL", "🎉", "", "<",
                        "entry", "é", "ǅ", "k\\E", "tab\tkey", "_ok.name-1", "Άx", "a·b"]


def _xml_pairs(element):
    """[(key, value)] of a map element as a customer reads it: named children and entry pairs."""
    return [(c.findtext("key"), c.findtext("value") or "") if c.tag == "entry" else (c.tag, c.text or "")
            for c in element]


@pytest.mark.parametrize("shape, column", [(EVENTS, "profile"), (PROFILES, "properties")])
def test_xml_named_maps_keep_every_hostile_key(shape, column, monkeypatch):
    """Profile and device keys become elements where they are valid names, entries elsewhere; the typed
    and Python paths give the same bytes, and lxml reads back every key and value."""
    maps = []
    for i in range(60):
        value = {key: (None if (i + n) % 7 == 0 else f"v{i}-{n} <&>" if n % 5 == 0 else i * n)
                 for n, key in enumerate(HOSTILE_PROFILE_KEYS) if (i + n) % 3}
        maps.append(value)
    texts = pa.array([json.dumps(m, ensure_ascii=i % 2 == 0) for i, m in enumerate(maps)])
    columns = {f.column: pa.array(["x"] * len(maps)) for f in shape.fields if f.kind == "str"}
    columns.update({f.column: pa.array(["{}"] * len(maps)) for f in shape.fields if f.kind == "map"})
    columns.update({TS: pa.array(range(len(maps)), pa.int64()), column: texts})
    rows = pa.table(columns)
    assert typed_columns(texts) is not None
    encoder, fast, slow = encoder_for("xml", shape), io.BytesIO(), io.BytesIO()
    encoder.write_file(rows, "name", fast)
    _python_path(xml_format, monkeypatch)
    encoder.write_file(rows, "name", slow)
    assert fast.getvalue() == slow.getvalue()
    name = next(f.name for f in shape.fields if f.column == column)
    root = etree.fromstring(fast.getvalue())
    assert len(root) == len(maps)
    for element, value in zip(root, maps):
        got = _xml_pairs(element.find(name))
        assert got == sorted((key, "" if item is None else str(item)) for key, item in value.items())
        named = {c.tag for c in element.find(name) if c.tag != "entry"}
        assert named == {key for key in value if key in ("email", "é", "_ok.name-1", "Άx", "a·b")}


@pytest.mark.slow
def test_slices_give_the_same_file(partitions, monkeypatch):
    """CSV (two passes: keys, then cells), XML and Avro written a few rows at a time give the bytes
    (Avro: the records) of the file written at once; partitions' slices differ in keys and types."""
    import fastavro
    from transforms.formats import avro_format

    encoders = {fmt: encoder_for(fmt, EVENTS) for fmt in ("csv", "xml", "avro")}
    whole = {}
    for number, ((name, _), rows) in enumerate(partitions):
        for fmt, encoder in encoders.items():
            whole[fmt, number] = io.BytesIO()
            encoder.write_file(rows, name, whole[fmt, number])
    monkeypatch.setattr(values, "SLICE_BYTES", 0)
    monkeypatch.setattr(values, "SLICE_ROWS", 97)
    monkeypatch.setattr(avro_format, "BLOCK_BYTES", 5000)
    for number, ((name, _), rows) in enumerate(partitions):
        for fmt, encoder in encoders.items():
            sliced = io.BytesIO()
            encoder.write_file(rows, name, sliced)
            if fmt == "avro":
                assert list(fastavro.reader(io.BytesIO(sliced.getvalue()))) == \
                    list(fastavro.reader(io.BytesIO(whole[fmt, number].getvalue())))
            else:
                assert sliced.getvalue() == whole[fmt, number].getvalue(), (fmt, name)
    assert max(rows.num_rows for _, rows in partitions) > 3 * 97
