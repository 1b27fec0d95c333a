"""Shared by the encoders that must look inside map values (CSV, XML, Parquet, Avro).

The store keeps each map as JSON object text; these helpers parse a file's worth of it once and say
how a value is shown as text where a format has only text (CSV cells, XML elements).
"""

import json

import orjson
import pyarrow.compute as pc

__all__ = ["parse_maps", "sorted_keys", "as_text", "chunks", "slices", "is_int64", "CHUNK_ROWS", "SLICE_BYTES"]

_INT64 = (-(1 << 63), (1 << 63) - 1)


def is_int64(value):
    """A JSON integer that typed formats can store as int64 (bigger ones stay exact as text)."""
    return type(value) is int and _INT64[0] <= value <= _INT64[1]

# Rows encoded per step (JSON; CSV joins its lines so). Gzip runs a step behind on its own thread
# (transforms/formats/compression.py), so a step of 8192 rows lets it overlap most of a file's encoding; with
# steps of 32768 most files were one step, and compressing waited for it (docs/performance.md).
CHUNK_ROWS = 8192


# What the encoders that take a file in slices (CSV, XML, Avro, Parquet) hold at once: rows of about this
# many bytes in Arrow, and at most SLICE_ROWS: less held for the same speed (docs/performance.md).
SLICE_BYTES = 16 << 20
SLICE_ROWS = 32768


def chunks(rows, size=CHUNK_ROWS):
    for start in range(0, rows.num_rows, size):
        yield rows.slice(start, size)


def slices(rows):
    """`rows` in consecutive slices of at most SLICE_BYTES (but at least 1024 rows) and SLICE_ROWS."""
    size = SLICE_ROWS
    if rows.nbytes > SLICE_BYTES:
        size = max(min(1024, SLICE_ROWS), min(SLICE_ROWS, SLICE_BYTES * rows.num_rows // rows.nbytes))
    return chunks(rows, size)


# orjson reads an integer beyond 64 bits (above 2^64 - 1, below -2^63) as a (lossy) float; a text that
# may hold one (19 digits or more) is read by the standard library, which keeps every digit.
_MAYBE_HUGE_INT = r"[0-9]{19,}"


def parse_maps(column):
    """JSON object texts (an Arrow string column) -> list of dicts."""
    loads = orjson.loads
    texts = column.to_pylist()
    huge = pc.match_substring_regex(column, _MAYBE_HUGE_INT)
    if not pc.any(huge).as_py():
        return [loads(text) for text in texts]
    return [json.loads(text) if exact else loads(text) for text, exact in zip(texts, huge.to_pylist())]


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
    try:
        return orjson.dumps(value).decode()
    except TypeError:   # an integer beyond 64 bits somewhere inside: written as its own digits
        return orjson.dumps(_exact(value)).decode()


def _exact(value):
    """`value` with integers orjson cannot write replaced by their digits as raw JSON."""
    if type(value) is int and not -(1 << 63) <= value < (1 << 64):
        return orjson.Fragment(str(value))
    if isinstance(value, list):
        return [_exact(item) for item in value]
    if isinstance(value, dict):
        return {key: _exact(item) for key, item in value.items()}
    return value
