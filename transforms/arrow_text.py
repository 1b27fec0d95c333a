"""Text built by Arrow kernels, handed on as bytes without a per-row Python step."""

import ctypes

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["joined_bytes", "json_lines", "holds_any", "bytes_below"]


def joined_bytes(strings):
    """The concatenation of a string array's values: its data buffer from the first to the last offset."""
    strings = strings.combine_chunks() if isinstance(strings, pa.ChunkedArray) else strings
    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int32)
    first, last = offsets[strings.offset], offsets[strings.offset + len(strings)]
    return memoryview(strings.buffers()[2])[first:last]


def json_lines(column):
    """A column of one-line JSON texts (no nulls) as one newline-delimited JSON buffer."""
    return pa.py_buffer(joined_bytes(pc.binary_join_element_wise(column, "\n", "")))


def holds_any(strings, marks):
    """Does any value of `strings` hold any of the byte strings `marks`? Searched in the column's own
    buffer, without a copy: memchr says whether a mark's first byte occurs at all (mostly it does not),
    and only then are that byte's places narrowed by each next byte of the marks that start with it.
    Cheap enough to let a caller skip a per-value kernel (a regex) that would find nothing: Arrow's own
    substring kernels go a value at a time, at a fraction of memchr's speed."""
    data = _bytes_of(strings)
    by_first = {}
    for mark in marks:
        by_first.setdefault(mark[0], []).append(mark)
    return any(_holds(data, first, group) for first, group in by_first.items())


def bytes_below(strings, limit):
    """The set of byte values below `limit` in the values of `strings` (controls, for limit 0x20): one
    comparison pass over the column's own buffer, a window at a time, instead of a search per byte."""
    data, found = _bytes_of(strings), set()
    for start in range(0, len(data), _WINDOW):
        window = data[start:start + _WINDOW]
        low = window[window < limit]
        if len(low):
            found.update(np.unique(low).tolist())
    return found


_LIBC = ctypes.CDLL(None)
_LIBC.memchr.restype = ctypes.c_void_p
_LIBC.memchr.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
_WINDOW = 1 << 20   # bytes compared at a time: the comparison's scratch stays in cache, never fresh pages


def _bytes_of(strings):
    """The values' bytes as a uint8 array over the column's own buffer (no copy)."""
    return np.frombuffer(joined_bytes(strings), dtype=np.uint8)


def _holds(data, first, marks):
    """Does `data` hold any of `marks`, which all start with the byte `first`?"""
    if not len(data) or _LIBC.memchr(data.ctypes.data, first, len(data)) is None:
        return False
    if any(len(mark) == 1 for mark in marks):
        return True
    for start in range(0, len(data), _WINDOW):
        window = data[start:start + _WINDOW + max(map(len, marks)) - 1]
        places = np.flatnonzero(window[:_WINDOW] == first)
        for mark in marks:
            found = places[places + len(mark) <= len(window)]
            for offset, byte in enumerate(mark[1:], start=1):
                found = found[window[found + offset] == byte]
            if len(found):
                return True
    return False
