"""Avro map bytes for each distinct map text of a slice, built by kernels from typed key columns.

A map's bytes are its entry count, then per present key its name and its value in the union
null|string|boolean|long|double (avro_binary), then 0; entries in key order. Where Arrow can type the
slice's maps (typed_maps), each key's entries are built for all texts at once and joined per text,
skipping the texts that lack the key. Arrow's types say less than Python's parse in three cases, which
Python decides, text by text, as `map_bytes` does for every text of a slice Arrow cannot type: a null
member (typed columns cannot tell it from an absent key), a JSON-escaped surrogate (Arrow does not
decode it as Python does), and a whole number in a double column (the text may say 4 where Python
would see an int, a long in the union, not a double). Both paths give the same bytes (tested).
"""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from transforms.arrow_text import holds_any
from transforms.formats.avro_binary import long_bytes, longs, map_bytes, strings
from transforms.formats.typed_maps import NULL_MEMBER, SURROGATE_BYTES, SURROGATE_ESCAPE, typed_columns
from transforms.formats.values import as_text, parse_maps

__all__ = ["map_column"]

_SKIP_NULLS = pc.JoinOptions(null_handling="skip")


def _doubles(values):
    """A float64 array (nulls read as 0) -> each value as 8 little-endian bytes, an Arrow binary array."""
    data = pc.fill_null(values, 0.0).to_numpy(zero_copy_only=False).astype("<f8")
    offsets = np.arange(0, 8 * len(data) + 1, 8, dtype=np.int32)
    return pa.Array.from_buffers(pa.binary(), len(data), [None, pa.py_buffer(offsets), pa.py_buffer(data.tobytes())])


def _values(column):
    """A typed key column -> each value's union bytes (branch index, then the value), null where null."""
    kind = column.type
    if kind == pa.string():
        encoded = pc.binary_join_element_wise(b"\x02", strings(pc.fill_null(column, "")), b"")
    elif kind == pa.int64():
        encoded = pc.binary_join_element_wise(b"\x06", longs(pc.fill_null(column, 0).to_numpy()), b"")
    elif kind == pa.float64():
        encoded = pc.binary_join_element_wise(b"\x08", _doubles(column), b"")
    else:   # bool
        encoded = pc.if_else(pc.fill_null(column, False), pa.scalar(b"\x04\x01"), pa.scalar(b"\x04\x00"))
    return pc.if_else(pc.is_valid(column), encoded, pa.scalar(None, pa.binary()))


def _by_python(texts, typed):
    """Which texts the kernels cannot encode as Python would."""
    mask = pc.match_substring_regex(texts, NULL_MEMBER)
    if holds_any(texts, SURROGATE_BYTES):
        mask = pc.or_(mask, pc.match_substring_regex(texts, SURROGATE_ESCAPE))
    for values in typed.values():
        if values.type == pa.float64():
            whole = pc.fill_null(pc.equal(pc.floor(values), values), False)
            mask = pc.or_(mask, whole)
    return mask


def map_column(texts, keys_cache):
    """Distinct map texts (an Arrow string array) -> each one's Avro map bytes (an Arrow binary array).
    `keys_cache` holds each key's encoded name across slices, as map_bytes uses it."""
    typed = typed_columns(texts)
    if typed is None:
        return pa.array([map_bytes(parsed, as_text, keys_cache) for parsed in parse_maps(texts)], pa.binary())
    if not typed:
        return pa.array([b"\x00"] * len(texts), pa.binary())
    entries, present = [], None
    for key, values in typed.items():
        name = key.encode()
        entries.append(pc.binary_join_element_wise(long_bytes(len(name)) + name, _values(values), b""))
        valid = pc.cast(pc.is_valid(values), pa.int64())
        present = valid if present is None else pc.add(present, valid)
    joined = pc.binary_join_element_wise(longs(present.to_numpy()), *entries, b"\x00", b"", options=_SKIP_NULLS)
    encoded = pc.if_else(pc.equal(present, 0), pa.scalar(b"\x00"), joined)
    python = _by_python(texts, typed)
    if not pc.any(python).as_py():
        return encoded
    redo = [map_bytes(parsed, as_text, keys_cache) for parsed in parse_maps(pc.filter(texts, python))]
    return pc.replace_with_mask(encoded, python, pa.array(redo, pa.binary()))
