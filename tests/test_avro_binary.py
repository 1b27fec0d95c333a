"""Avro's binary encoding as written by transforms/formats/avro_binary.py, checked against the spec's
examples and against fastavro's own encoder."""

import io
import random

import fastavro
import pyarrow as pa
import pytest

from transforms.formats.avro_binary import long_bytes, longs, map_bytes, strings, value_bytes
from transforms.formats.values import as_text

EDGES = [0, -1, 1, -2, 2, 63, -64, 64, -65, 8191, 8192, -8193, 2**31, -2**31, 2**62, 2**63 - 1, -2**63]


@pytest.mark.parametrize("value, encoded", [(0, b"\x00"), (-1, b"\x01"), (1, b"\x02"), (-64, b"\x7f"),
                                            (64, b"\x80\x01")])
def test_long_examples_from_the_spec(value, encoded):
    assert long_bytes(value) == encoded


def _fastavro(schema, value):
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), value)
    return out.getvalue()


def test_longs_in_numpy_match_one_at_a_time_and_fastavro():
    rng = random.Random(3)
    values = EDGES + [rng.randint(-2**63, 2**63 - 1) >> rng.randint(0, 63) for _ in range(3000)]
    assert longs(values).to_pylist() == [long_bytes(v) for v in values] == [_fastavro("long", v) for v in values]
    assert longs([]).to_pylist() == []


def test_strings_match_fastavro():
    texts = ["", "a", "é🚀", "x" * 200, "y" * 20000]
    assert strings(pa.array(texts)).to_pylist() == [_fastavro("string", t) for t in texts]


def test_maps_match_fastavro():
    schema = {"type": "map", "values": ["null", "string", "boolean", "long", "double"]}
    maps = [{}, {"a": None, "b": "x", "c": True, "d": False, "e": -7, "f": 1.5, "g": 2**63 - 1, "h": -2**63},
            {"é🚀": "v", "": 0.0}]
    for value in maps:   # entries in key order
        assert map_bytes(value, as_text, {}) == _fastavro(schema, dict(sorted(value.items())))
    # what the union cannot hold is JSON text, in the string branch
    assert value_bytes(2**64, as_text) == _fastavro(schema["values"], str(2**64))
    assert value_bytes([1, {"a": None}], as_text) == _fastavro(schema["values"], '[1,{"a":null}]')


TEXTS = ['{}', '{"a": "x", "b": 1, "c": 2.5, "d": true}', '{"b": -3, "c": 1e300, "d": false, "é🚀": "v"}',
         '{"a": null, "b": 4}', '{"c": 4.0}', '{"c": 4}', '{"a": "\\ud83d\\ude80 \\u00e9 \\"q\\" \\\\ \\n"}',
         '{"a": "x: null}", "b": 0}', '{"\\u0041key": "escaped key"}', '{"b": 922337203685477580}',
         '{"b": -922337203685477580, "a": ""}', '{"z": "' + "long " * 500 + '"}']


@pytest.mark.parametrize("texts", [TEXTS, TEXTS[:3], ['{"n": 1}', '{"n": [1, {"a": null}]}'],
                                   ['{"n": 123456789012345678901234}', '{"n": 1.5}'], ['{}', '{}']])
def test_map_column_by_kernels_is_map_bytes(texts):
    """Kernels where Arrow can type the maps, Python where not (nulls, surrogates, whole doubles,
    nested values, integers beyond a long): every text's bytes are map_bytes' own."""
    from transforms.formats.avro_maps import map_column
    from transforms.formats.values import parse_maps
    column = pa.array(texts, pa.string())
    expected = [map_bytes(parsed, as_text, {}) for parsed in parse_maps(column)]
    assert map_column(column, {}).to_pylist() == expected


def test_map_column_uses_kernels_for_most_texts():
    from transforms.formats.avro_maps import _by_python
    from transforms.formats.typed_maps import typed_columns
    column = pa.array(TEXTS, pa.string())
    typed = typed_columns(column)
    assert typed is not None
    python = _by_python(column, typed).to_pylist()
    assert not any(python[:2]) and not any(python[8:])   # plain texts, an escaped key, long text: kernels
    assert all(python[3:8])   # a null, whole doubles (4.0 and 4), a surrogate pair, "null" inside a string
