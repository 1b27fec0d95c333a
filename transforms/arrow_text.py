"""Text built by Arrow kernels, handed on as bytes without a per-row Python step."""

import ctypes

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["joined_bytes", "json_lines", "holds_any"]


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
    """Does any value of `strings` hold any of the byte strings `marks`? One scan of the values' bytes in
    place per mark (memchr for a single byte; for a longer mark, the places of its first byte, narrowed by
    each next byte), which lets a caller skip a per-value kernel, such as a regex, that would find nothing:
    Arrow's own substring kernels go a value at a time, at a fraction of memchr's speed."""
    data = _bytes_of(strings)
    return any(_holds(data, mark) for mark in marks)


_LIBC = ctypes.CDLL(None)
_LIBC.memchr.restype = ctypes.c_void_p
_LIBC.memchr.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]


def _bytes_of(strings):
    """The values' bytes as a uint8 array over the column's own buffer (no copy)."""
    return np.frombuffer(joined_bytes(strings), dtype=np.uint8)


_WINDOW = 1 << 20   # bytes compared at a time: the comparison's scratch stays in cache, never fresh pages


def _holds(data, mark):
    if len(mark) == 1:
        return len(data) > 0 and _LIBC.memchr(data.ctypes.data, mark[0], len(data)) is not None
    for start in range(0, max(len(data) - len(mark) + 1, 0), _WINDOW):
        window = data[start:start + _WINDOW + len(mark) - 1]
        places = np.flatnonzero(window[:len(window) - len(mark) + 1] == mark[0])
        for offset, byte in enumerate(mark[1:], start=1):
            places = places[window[places + offset] == byte]
        if len(places):
            return True
    return False
