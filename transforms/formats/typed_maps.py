"""A file's map column as typed columns, one per key, parsed in C++ by Arrow's JSON reader.

The encoders that look inside maps (CSV, Parquet) use this when they can and their per-row Python path
when they cannot, and both give the same result: a key's values are bool, int64, double or string when
they share that JSON type. Arrow cannot say so for values that mix types, nested values, integers beyond
int64, or strings it mistakes for timestamps; those files take the Python path (the answer is None).
"""

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from transforms.arrow_text import json_lines
from transforms.formats.values import as_text, parse_maps

__all__ = ["typed_columns", "Distinct", "as_strings", "cell_texts", "member_pattern", "NULL_MEMBER",
           "SURROGATE_ESCAPE", "SURROGATE_BYTES"]

_READ = pa_json.ReadOptions(use_threads=False, block_size=1 << 30)
# What typed columns cannot say, for the encoder that builds output from them (Avro): a text with
# a null member (typed columns lose null against absent), and a text with a JSON-escaped surrogate
# (Arrow does not decode it as Python does), which holds one of SURROGATE_BYTES.
NULL_MEMBER = r":\s*null\s*[,}]"
SURROGATE_ESCAPE = r"(?i:\\ud[89a-f])"
SURROGATE_BYTES = (b"\\u", b"\\U")
_SIMPLE = (pa.bool_(), pa.int64(), pa.float64(), pa.string())
_HUGE_INT = r"[:,\[]\s*-?\d{19,}\s*[,}\]]"   # an integer Arrow would read as a (lossy) double
_NINETEEN_DIGITS = 10 ** 18   # the smallest integer of 19 digits


def _parse(data, schema=None):
    options = pa_json.ParseOptions(explicit_schema=schema)
    return pa_json.read_json(pa.BufferReader(data), read_options=_READ, parse_options=options)


class Distinct:
    """A column as its distinct values and, per row, which one it holds.

    Map texts repeat (a user's profile on each of their events, a device's details), so work that
    depends only on a value, like typing its keys or rendering its cells, is done once per distinct
    value and spread to the rows with one `take`.
    """

    def __init__(self, column):
        column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        encoded = column.dictionary_encode()
        self.values, self.indices = encoded.dictionary, encoded.indices

    def per_row(self, distinct_results, start=0, count=None):
        """An array with one entry per distinct value -> the same with one entry per row (of rows
        [start, start + count) when given, so a file's text can be built a slice at a time)."""
        return distinct_results.take(self.indices.slice(start, count))


def typed_columns(column):
    """{key: typed array} in key order, or None when the Python path must decide."""
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    data = json_lines(column)
    try:
        table = _parse(data)
        if any(pa.types.is_timestamp(f.type) for f in table.schema):
            table = _parse(data, pa.schema([(f.name, pa.string() if pa.types.is_timestamp(f.type) else f.type)
                                            for f in table.schema]))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if table.num_rows != len(column) or len(set(table.column_names)) != table.num_columns:
        return None
    # Arrow reads an integer beyond int64 as a double and types its key double, so only texts with a
    # double key are asked whether they hold one, and only when a number is as large as one of 19
    # digits (the search is a regex over every text; the numbers' range is two kernels per key).
    if _has_double(table) and _holds_19_digits(table) and pc.any(pc.match_substring_regex(column, _HUGE_INT)).as_py():
        return None
    columns = {}
    for name in sorted(table.column_names):
        values = table[name].combine_chunks()
        if pa.types.is_null(values.type):
            values = values.cast(pa.string())
        if values.type not in _SIMPLE:
            return None
        columns[name] = values
    return columns


def _has_double(table):
    return any(f.type == pa.float64() for f in table.schema)


def _holds_19_digits(table):
    """Does any number column hold a value of 19 digits or more (what _HUGE_INT looks for)?"""
    for name, field in zip(table.column_names, table.schema):
        if field.type in (pa.int64(), pa.float64()):
            low, high = pc.min_max(table[name]).values()
            if low.is_valid and (low.as_py() <= -_NINETEEN_DIGITS or high.as_py() >= _NINETEEN_DIGITS):
                return True
    return False


def member_pattern(key, value):
    """RE2 for the member `key` (as orjson writes it) of a flat JSON object, followed by `value`; None
    when the written key holds backslash-E, which would end the pattern's literal quote early."""
    written = orjson.dumps(key).decode()
    if "\\E" in written:
        return None
    return r"[{,]\s*\Q" + written + r"\E\s*:\s*" + value


def as_strings(values):
    """A string, int64 or bool column as text (Arrow prints these as JSON does)."""
    return values if values.type == pa.string() else pc.cast(values, pa.string())


def cell_texts(column, typed):
    """Each key's values as text (values.as_text), null where a row lacks the key."""
    for key, values in typed.items():
        yield _number_texts(column, key, values) if values.type == pa.float64() else as_strings(values)


_PLAIN_NUMBER = r"^-?[0-9]+(\.[0-9]+)?$"


# Doubles Arrow prints exactly as as_text does: not integral (where the stored text may say 4545 or
# 4545.0), and in the magnitudes where both print plain decimals in the same shortest digits.
_SHORTEST = (1e-4, 1e9)


def _number_texts(column, key, doubles):
    """A double key's values as as_text shows them. Most are Arrow's own shortest text (_SHORTEST); the
    rest are decided from the stored text (`_stored_number_texts`), only on the texts that hold them."""
    shown = pc.cast(doubles, pa.string())
    size = pc.abs(doubles)
    same = pc.and_(pc.not_equal(pc.floor(doubles), doubles),
                   pc.and_(pc.greater_equal(size, _SHORTEST[0]), pc.less(size, _SHORTEST[1])))
    rest = pc.and_(pc.invert(pc.fill_null(same, False)), pc.is_valid(doubles))
    if not pc.any(rest).as_py():
        return shown
    texts = _stored_number_texts(pc.filter(column, rest), key, pc.filter(doubles, rest))
    return pc.replace_with_mask(shown, rest, texts)


def _stored_number_texts(column, key, doubles):
    """Arrow's double cannot tell 4545 from 4545.0, so the stored number text is read back (the typed
    path's maps are flat, so the key's one occurrence is the member) and kept where it is what as_text
    prints: plain notation, in the range where that holds, the same number, in the same shortest
    digits. Any other value is parsed and printed by Python."""
    member = member_pattern(key, r"(?P<n>-?[0-9][0-9.eE+-]*)")
    if member is None:
        texts, redo = pa.nulls(len(column), pa.string()), pc.is_valid(doubles)
    else:
        raw = pc.struct_field(pc.extract_regex(column, member), [0])
        shown = pc.cast(doubles, pa.string())
        size = pc.abs(doubles)
        in_range = pc.or_(pc.equal(doubles, 0), pc.and_(pc.greater_equal(size, 1e-4), pc.less(size, 1e16)))
        # "-0" is the integer 0 to Python (shown "0"), but Arrow's double keeps the sign.
        same_digits = pc.and_(pc.or_(pc.equal(raw, shown), pc.equal(raw, pc.binary_join_element_wise(shown, ".0", ""))),
                              pc.not_equal(raw, "-0"))
        plain = pc.if_else(pc.match_substring_regex(raw, _PLAIN_NUMBER), raw, pa.scalar(None, pa.string()))
        kept = pc.and_(pc.and_(in_range, same_digits), pc.equal(pc.cast(plain, pa.float64()), doubles))
        kept = pc.fill_null(kept, False)
        texts = pc.if_else(kept, raw, pa.scalar(None, pa.string()))
        redo = pc.and_(pc.invert(kept), pc.is_valid(doubles))
    if pc.any(redo).as_py():
        maps = parse_maps(pc.filter(column, redo))
        texts = pc.replace_with_mask(texts, redo, pa.array([as_text(m[key]) for m in maps], pa.string()))
    return texts
