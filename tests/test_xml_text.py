"""XML's native kernel against the Python rule it replaces (xml_format._map_element, xml_format.escape,
tests/support/xml_reference.py): the same bytes for every map text, written the ways stores write JSON,
for records of every kind of part, and text left to Python only where the kernel says so."""

import io
import json
import math
import random
import struct

import numpy as np
import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transforms.formats import _xml_text, xml_format, xml_text
from transforms.formats.values import parse_maps
from transforms.formats.xml_names import is_element_name
from transforms.formats.xml_text import ByIndex, Escaped, Integers, Map, map_fragments, write_records
from tests.support.xml_reference import python_records

_PIECES = ["<", ">", "&", "]]>", "&amp;", "\r", "\r\n", "\n", "\t", "\x00", "\x01", "\x1f", "\x7f", "\x85",
           "\ufffe", "\uffff", "\ufffd", "\u2028", "\ufeff", "é", "日本", "🙂", "\"", "\\", "/", "'", ",", "=1+2",
           "007", "xml", "entry", ":", " ", "a", "Z", "_", "-", ".", "·", "ǅ", "1e5", "null", "true"]
_text = st.lists(st.sampled_from(_PIECES), max_size=6).map("".join) | st.text(max_size=12)
_key = _text | st.sampled_from(["email", "first_name", "a.b", "a-b", "_x", "xmlns", "XmLfoo", "entry", "Entry",
                                "a:b", "1st", "", "é", "éa", "aé", "a b", "🙂", "ǅ", "a·b"])
_float = st.floats(allow_nan=False, allow_infinity=False)
_number = (st.integers(-(1 << 70), 1 << 70) | _float
           | st.tuples(_float.filter(lambda x: abs(x) < 1e17), st.integers(0, 17)).map(lambda t: round(*t)))
_scalar = st.none() | st.booleans() | _number | _text
_value = st.recursive(_scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_key, inner, max_size=3),
                      max_leaves=8)
_map = st.dictionaries(_key, _value, max_size=8)


def _written(value, style):
    """`value` as JSON text, written as different tools write it."""
    if style == "orjson":
        try:
            return orjson.dumps(value).decode()
        except TypeError:   # an integer beyond 64 bits
            style = "compact"
    if style == "ascii":
        return json.dumps(value)                       # \u escapes, surrogate pairs, ", " and ": "
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _python(texts, name, named):
    return [xml_format._map_element(name, value, named) for value in parse_maps(pa.array(texts, pa.string()))]


def _rule(name, named):
    return lambda left: _python(left.to_pylist(), name, named)


def _native(texts, name, named):
    """Both ways the kernel renders maps: fragments of an array, and in place in records."""
    fragments = map_fragments(pa.array(texts, pa.string()), name, named, _rule(name, named)).to_pylist()
    assert _records([Map(pa.array(texts, pa.string()), name, named, _rule(name, named)), "\n"], len(texts)) == \
        "".join(fragment + "\n" for fragment in fragments)
    return fragments


def _records(parts, length):
    out = io.BytesIO()
    write_records(out, length, parts)
    return out.getvalue().decode()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(maps=st.lists(_map, min_size=1, max_size=8), style=st.sampled_from(["orjson", "ascii", "compact"]),
       named=st.booleans())
def test_every_map_text_gives_the_python_rule_s_bytes(maps, style, named):
    texts = [_written(value, style) for value in maps]
    assert _native(texts, "profile", named) == _python(texts, "profile", named)


_NUMBER_TEXTS = ["0", "-0", "7", "-7", "007" * 0 + "70", "9223372036854775807", "-9223372036854775808",
                 "18446744073709551615", "123456789012345678", "1234567890123456789", "0.0", "-0.0", "0.000",
                 "1.0", "1.50", "2.000", "100.0", "0.1", "0.0001", "0.00015", "0.00001", "0.000099",
                 "1e5", "1E-5", "2.5e-3", "1.0e2", "-0.0e0", "1234567890123456.0", "9999999999999998.0",
                 "9999999999999999.0", "1000000000000000.5", "123456789012345.6", "0.30000000000000004",
                 "0.3000000000000000444", "0.1000000000000000055511151231257827", "3.141592653589793",
                 "3.1415926535897932", "2.718281828459045", "1.7976931348623157e308", "5e-324", "4545.50",
                 "-12.75", "0.12345678901234567", "12345678.901234567"]


def _random_number_texts(count, seed):
    """Decimals of every length and magnitude as stores write them: Python's repr, fixed places, and
    doubles with their full 17 digits."""
    draw = random.Random(seed)
    texts = []
    for _ in range(count):
        value = struct.unpack("d", struct.pack("Q", draw.getrandbits(64)))[0]
        if not math.isfinite(value):
            continue
        scaled = value if draw.random() < 0.2 else math.copysign(abs(value) % 10 ** draw.randint(-6, 17), value)
        texts += [repr(scaled), f"{scaled:.{draw.randint(1, 20)}f}", f"{scaled:.17g}",
                  f"{draw.uniform(-180, 180):.{draw.randint(1, 9)}f}"]
    return [t for t in texts if "e" not in t or draw.random() < 0.1]


@pytest.mark.parametrize("numbers", [_NUMBER_TEXTS, _random_number_texts(3000, 1)], ids=["tricky", "random"])
def test_numbers_show_as_python_shows_them(numbers):
    texts = [f'{{"n": {number}, "k": {number}}}' for number in numbers]
    for start in range(0, len(texts), 500):
        chunk = texts[start:start + 500]
        assert _native(chunk, "eventProps", False) == _python(chunk, "eventProps", False)


def test_plain_maps_are_rendered_natively_not_by_python():
    texts = ['{"email":"a@b.c","age":31,"score":0.75,"vip":true,"note":null,"first name":"Ann <3"}',
             '{ "city" : "Zürich\\n\\u00e9\\ud83d\\ude00", "lat": 47.3769, "lon": 8.5417 }', "{}"]
    offsets, data, left, *_ = _xml_text.map_fragments(*_arrow_buffers(texts), b"profile", True, lambda key: True)
    assert not any(left)
    assert _native(texts, "profile", True) == _python(texts, "profile", True)
    assert _native(texts, "profile", True)[0] == (
        "<profile><age>31</age><email>a@b.c</email><entry><key>first name</key><value>Ann &lt;3</value></entry>"
        "<note></note><score>0.75</score><vip>true</vip></profile>")


def test_numbers_of_16_or_17_digits_stay_native_only_where_they_are_python_s_repr():
    texts = ['{"a": 0.30000000000000004}', '{"a": 0.10000000000000001}', '{"a": 1234567890123456.8}',
             '{"a": 1234567890123456.7}', '{"a": 9999999999999999.0}', '{"a": -2.7182818284590451}',
             '{"a": 0.0001234567890123456}']
    given = []

    def python_rule(left):
        given.extend(left.to_pylist())
        return _python(left.to_pylist(), "m", False)

    rendered = map_fragments(pa.array(texts), "m", False, python_rule).to_pylist()
    assert rendered == _python(texts, "m", False)
    assert given == [t for t in texts if repr(json.loads(t)["a"]) != t[len('{"a": '):-1]]
    assert len(given) == 4


def test_nested_values_are_rendered_natively_as_orjson_writes_them():
    texts = ['{"items": [{"id": 1, "name": "Tee <M>", "price": 9.5}, {"id": 2, "tags": ["a&b", null, true]}]}',
             '{ "o" : { "k\\u00e9" : [ [ ] , { } , "q\\"\\\\\\/\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f" ] } }',
             '{"e": ["\\ud83d\\ude00", "\\ufffe\\u2028", -0, -0.0, 1.50, 0.30000000000000004]}']
    _, _, left, *_ = _xml_text.map_fragments(*_arrow_buffers(texts), b"m", True, lambda key: True)
    assert not any(left)
    assert _native(texts, "m", True) == _python(texts, "m", True)


@pytest.mark.parametrize("text", [
    '{"a": {"b": 1, "b": 2}}', '{"a": [{"k": 1, "\\u006b": 2}]}', '{"a": [1e5]}', '{"a": {"b": 0.00001}}',
    '{"a": ' + "[" * 40 + "]" * 40 + '}', '{"a": 1, "a": 2}', '{"a": 1e5}', '{"a": 12345678901234567890}',
    '{"a": "\\ud800"}', '{"a": "\\udc00x"}', '{"a": 0.00001}', '{"a": 0.1000000000000000055511}'])
def test_what_the_kernel_does_not_take_on_goes_to_python(text):
    _, _, left, *_ = _xml_text.map_fragments(*_arrow_buffers([text]), b"m", False, lambda key: True)
    assert list(left) == [1]
    if "\\ud800" not in text and "\\udc00" not in text:   # the Python rule refuses lone surrogates itself
        assert _native([text], "m", False) == _python([text], "m", False)


@pytest.mark.parametrize("text", ['', '{', '{"a"}', '{"a":}', '{"a":1,}', '{"a":1} x', '[1]', '"a"', '{"a":tru}',
                                  '{"a":"b\x01"}', '{"a":"b', '{"a":"\\q"}', '{"a":01}', '{"a":-}', '{"a":1.}',
                                  '{"a":"\\u12"}', '{"a":1 "b":2}', 'null'])
def test_text_that_is_no_flat_json_object_is_left_to_python(text):
    _, _, left, *_ = _xml_text.map_fragments(*_arrow_buffers([text]), b"m", True, lambda key: True)
    assert list(left) == [1]


def test_random_bytes_never_crash_the_kernel():
    draw = np.random.default_rng(7)
    alphabet = list('{}[]":,\\ un0123456789.-eEtrfals') + ["\\u00e9", "\\ud83d", "\\ude00", "é", "\x01"]
    texts = ["".join(draw.choice(alphabet, size=draw.integers(0, 40))) for _ in range(5000)]
    texts += ['{"' + t + '":"' + t + '"}' for t in texts[:2000]]
    offsets, data, left, *_ = _xml_text.map_fragments(*_arrow_buffers(texts), b"m", True, is_element_name)
    rendered = pa.Array.from_buffers(pa.string(), len(texts), [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    rendered.validate(full=True)                                     # valid UTF-8, offsets in order
    for text, fragment, python in zip(texts, rendered.to_pylist(), left):
        if not python:
            assert fragment == _python([text], "m", True)[0]


@given(st.lists(st.none() | _text, max_size=20))
def test_escaped_text_is_the_python_escape(values):
    for strings in (pa.array(values, pa.string()), pa.array(values, pa.string()).slice(1)):
        parts = ["<a>", Escaped(strings), "</a>\n"]
        assert _records(parts, len(strings)) == _reference(parts, len(strings))


def test_records_of_every_part_match_the_python_reference():
    """Integers (nulls, int64's ends), strings with nulls, maps in place with texts left to Python and
    numbers that fail the check, and fragments by index, in slices that start inside their buffers."""
    ints = pa.array([0, -1, None, -(1 << 63), (1 << 63) - 1, 42, 7], pa.int64())
    strings = pa.array(["a&b", None, "", "x\r\x01\ufffe", "<é>", "🙂", "ok"])
    maps = pa.array(['{"b":1,"a":"x"}', '{"a":{"n":1}}', '{"z":0.10000000000000001}', '{"a":1,"a":2}',
                     '{"k":0.30000000000000004}', '{}', '{"q":"\\u00e9"}'])
    fragments, indices = pa.array(["<d>one</d>", "<d>two</d>"]), pa.array([1, 0, 0, 1, 1, 0, 1], pa.int32())
    parts = ["<r>", Integers(ints), "<s>", Escaped(strings), "</s>", Map(maps, "m", True, _rule("m", True)),
             ByIndex(fragments, indices), Map(maps, "e", False, _rule("e", False)), "</r>\n"]
    assert _records(parts, 7) == _reference(parts, 7)
    sliced = [part if isinstance(part, (str, ByIndex)) else type(part)(part[0].slice(2), *part[1:]) for part in parts]
    sliced[6] = ByIndex(fragments, indices.slice(2))
    assert _records(sliced, 5) == _reference(sliced, 5)


def test_records_that_outgrow_their_guessed_size_move_to_memory_of_their_own():
    strings = pa.array(["&" * 20000, "<" * 30000])     # each character becomes five
    parts = ["<a>", Escaped(strings), "</a>\n"]
    assert _records(parts, 2) == _reference(parts, 2)


def _reference(parts, length):
    out = io.BytesIO()
    python_records(out, length, parts)
    return out.getvalue().decode()


def _arrow_buffers(texts):
    return xml_text._buffers(pa.array(texts, pa.string()))
