"""A file's map column as typed columns, one per key, parsed in C++ by Arrow's JSON reader.

The encoders that look inside maps (CSV, Parquet) use this when they can and their per-row Python path
when they cannot, and both give the same result: a key's values are bool, int64, double or string when
they share that JSON type. Arrow cannot say so for values that mix types, nested values, integers beyond
int64, or strings it mistakes for timestamps; those files take the Python path (the answer is None).
"""

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from transforms.arrow_text import json_lines
from transforms.formats.values import as_text, parse_maps

__all__ = ["typed_columns", "Distinct", "as_strings", "cell_texts"]

_READ = pa_json.ReadOptions(use_threads=False, block_size=1 << 30)
_SIMPLE = (pa.bool_(), pa.int64(), pa.float64(), pa.string())
_HUGE_INT = r"[:,\[]\s*-?\d{19,}\s*[,}\]]"   # an integer Arrow would read as a (lossy) double


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
    if pc.any(pc.match_substring_regex(column, _HUGE_INT)).as_py():
        return None
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
    columns = {}
    for name in sorted(table.column_names):
        values = table[name].combine_chunks()
        if pa.types.is_null(values.type):
            values = values.cast(pa.string())
        if values.type not in _SIMPLE:
            return None
        columns[name] = values
    return columns


def as_strings(values):
    """A string, int64 or bool column as text (Arrow prints these as JSON does)."""
    return values if values.type == pa.string() else pc.cast(values, pa.string())


def cell_texts(column, typed):
    """Each key's values as text (values.as_text), null where a row lacks the key. A number column
    goes through as_text from the parsed values, since Arrow's double cannot tell 4545 from 4545.0 and
    the text shows the number as it was stored."""
    maps = None
    for key, values in typed.items():
        if values.type == pa.float64():
            maps = maps if maps is not None else parse_maps(column)
            yield pa.array([None if m.get(key) is None else as_text(m[key]) for m in maps], pa.string())
        else:
            yield as_strings(values)
