"""Avro's binary encoding and object container file (Avro specification 1.11), the parts our files use.

Written here rather than through fastavro's writer, which takes one Python dict per record (~20 us a
record): rows are encoded as columns (zigzag varints in numpy, strings by Arrow kernels, each distinct
map text once) and joined into blocks. fastavro and Apache's own `avro` package read the files back
in the tests.

- long: zigzag (`(n << 1) ^ (n >> 63)`), then 7 bits a byte, low first, the high bit set on all but
  the last byte. string/bytes: a long length, then the bytes.
- map: blocks of (a long count, that many key/value pairs), ended by a count of 0; we write one block.
- union: the branch's index as a long, then the value; double: 8 bytes little-endian IEEE 754.
- file: `Obj\\x01`, a map of metadata (`avro.schema` JSON, `avro.codec`), a 16-byte sync marker; then
  blocks of (a long row count, a long byte size, the rows' bytes compressed, the sync marker).
  Codec `deflate` is raw deflate (RFC 1951, no zlib header), which ISA-L writes fast.
"""

import struct

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from isal import isal_zlib

__all__ = ["long_bytes", "longs", "strings", "header", "block", "value_bytes", "map_bytes"]

MAGIC = b"Obj\x01"
DEFLATE_LEVEL = 2            # ISA-L, as transforms.formats.compression's gzip


def long_bytes(value):
    """One long (a Python int within 64 bits) as Avro writes it."""
    if 0 <= value < _SMALL_COUNT:
        return _SMALL[value]
    return _long_bytes(value)


def _long_bytes(value):
    n = (value << 1) ^ (value >> 63)
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


# Lengths and counts are nearly all small: their bytes are looked up, not computed a bit at a time.
_SMALL_COUNT = 1 << 13
_SMALL = [_long_bytes(n) for n in range(_SMALL_COUNT)]


def longs(values):
    """An int64 numpy array -> an Arrow binary array of each value as an Avro long, built in numpy."""
    values = np.asarray(values, dtype=np.int64)
    zigzag = ((values << 1) ^ (values >> 63)).view(np.uint64)
    sizes = np.ones(len(values), dtype=np.int64)
    rest = zigzag >> np.uint64(7)
    while rest.any():
        sizes += rest > 0
        rest >>= np.uint64(7)
    offsets = np.zeros(len(values) + 1, dtype=np.int32)
    np.cumsum(sizes, out=offsets[1:])
    data = np.empty(int(offsets[-1]), dtype=np.uint8)
    for i in range(int(sizes.max(initial=1))):
        at = sizes > i
        chunk = ((zigzag[at] >> np.uint64(7 * i)) & np.uint64(0x7F)).astype(np.uint8)
        chunk |= np.where(sizes[at] > i + 1, 0x80, 0).astype(np.uint8)
        data[offsets[:-1][at] + i] = chunk
    return pa.Array.from_buffers(pa.binary(), len(values), [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def strings(array):
    """An Arrow string array (no nulls) -> each value as an Avro string (length, then UTF-8 bytes)."""
    lengths = pc.binary_length(array).to_numpy(zero_copy_only=False)
    return pc.binary_join_element_wise(longs(lengths), array.cast(pa.binary()), b"")


_NULL, _TRUE, _FALSE = b"\x00", b"\x04\x01", b"\x04\x00"
_STRING, _LONG, _DOUBLE = b"\x02", b"\x06", b"\x08"
_DOUBLE_STRUCT = struct.Struct("<d")
_STRING_OF_SIZE = [_STRING + size for size in _SMALL]   # a string value's branch index and length


def value_bytes(value, as_text):
    """One map value in the union null|string|boolean|long|double (branch index, then the value);
    `as_text(value)` for what the union cannot hold (nested values, integers beyond a long)."""
    kind = type(value)
    if kind is str:
        data = value.encode()
        size = len(data)
        return (_STRING_OF_SIZE[size] if size < _SMALL_COUNT else _STRING + _long_bytes(size)) + data
    if value is None:
        return _NULL
    if kind is bool:
        return _TRUE if value else _FALSE
    if kind is float:
        return _DOUBLE + _DOUBLE_STRUCT.pack(value)
    if kind is int and -(1 << 63) <= value < (1 << 63):
        return _LONG + long_bytes(value)
    data = as_text(value).encode()
    return _STRING + long_bytes(len(data)) + data


def map_bytes(parsed, as_text, keys):
    """A parsed JSON object as an Avro map of one block, entries in key order (as avro_maps writes them).
    `keys` caches each key's encoded bytes (keys repeat across maps)."""
    if not parsed:
        return _NULL
    parts = [long_bytes(len(parsed))]
    append = parts.append
    for key in sorted(parsed):
        value = parsed[key]
        encoded = keys.get(key)
        if encoded is None:
            data = key.encode()
            encoded = keys[key] = long_bytes(len(data)) + data
        append(encoded)
        if type(value) is str:   # most values: value_bytes's first case, inlined
            data = value.encode()
            size = len(data)
            append(_STRING_OF_SIZE[size] if size < _SMALL_COUNT else _STRING + _long_bytes(size))
            append(data)
        else:
            append(value_bytes(value, as_text))
    parts.append(_NULL)
    return b"".join(parts)


def header(schema_json, sync_marker, codec=b"deflate"):
    """The file header: magic, metadata map (schema, codec), sync marker."""
    meta = [(b"avro.codec", codec), (b"avro.schema", schema_json.encode())]
    parts = [MAGIC, long_bytes(len(meta))]
    for key, value in meta:
        parts += [long_bytes(len(key)), key, long_bytes(len(value)), value]
    parts += [_NULL, sync_marker]
    return b"".join(parts)


def block(count, data, sync_marker):
    """One data block of `count` rows whose encoded bytes are `data`, raw-deflated."""
    packed = isal_zlib.compress(data, DEFLATE_LEVEL, -15)
    return b"".join((long_bytes(count), long_bytes(len(packed)), packed, sync_marker))
