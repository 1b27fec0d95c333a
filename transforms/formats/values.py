"""Shared by the encoders that must look inside map values (CSV, XML, Parquet, Avro).

The store keeps each map as JSON object text; these helpers parse a file's worth of it once and say
how a value is shown as text where a format has only text (CSV cells, XML elements).
"""

import orjson

__all__ = ["parse_maps", "sorted_keys", "as_text", "chunks", "is_int64"]

_INT64 = (-(1 << 63), (1 << 63) - 1)


def is_int64(value):
    """A JSON integer that typed formats can store as int64 (bigger ones stay exact as text)."""
    return type(value) is int and _INT64[0] <= value <= _INT64[1]

# Rows encoded per step; bounds the Python objects alive at once while a file is written.
CHUNK_ROWS = 8192


def chunks(rows, size=CHUNK_ROWS):
    for start in range(0, rows.num_rows, size):
        yield rows.slice(start, size)


def parse_maps(column):
    """JSON object texts (an Arrow string column) -> list of dicts."""
    loads = orjson.loads
    return [loads(text) for text in column.to_pylist()]


def sorted_keys(maps):
    """The union of the keys of `maps`, sorted by code point, so columns come out in a stable order."""
    keys = set()
    for value in maps:
        keys.update(value)
    return sorted(keys)


def as_text(value):
    """Strings as they are; null as ''; true/false; numbers, lists and objects as JSON text."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return orjson.dumps(value).decode()
