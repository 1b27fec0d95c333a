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
    """Does any value of `strings` hold any of the byte strings `marks`? Searched in the column's own
    buffer, without a copy (a mark split across two values is found too, which only costs a caller a
    kernel pass it could have skipped): memchr says whether a mark's first byte occurs at all (mostly
    it does not), and only from its first place does memmem look for the whole mark (numpy narrowing
    the places of the first byte was slow where that byte is common, as backslashes are in
    escape-heavy JSON; memmem alone, slow where it is absent). Cheap enough to let a caller skip a
    per-value kernel that would find nothing: Arrow's own substring kernels go a value at a time, at a
    fraction of these searches' speed."""
    data = _bytes_of(strings)
    return bool(len(data)) and any(_holds(data.ctypes.data, len(data), mark) for mark in marks)


_LIBC = ctypes.CDLL(None)
_LIBC.memchr.restype = ctypes.c_void_p
_LIBC.memchr.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
_LIBC.memmem.restype = ctypes.c_void_p
_LIBC.memmem.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]


def _bytes_of(strings):
    """The values' bytes as a uint8 array over the column's own buffer (no copy)."""
    return np.frombuffer(joined_bytes(strings), dtype=np.uint8)


def _holds(address, size, mark):
    """Do the `size` bytes at `address` hold `mark`?"""
    first = _LIBC.memchr(address, mark[0], size)
    if first is None:
        return False
    rest = size - (first - address)
    return len(mark) == 1 or _LIBC.memmem(first, rest, mark, len(mark)) is not None
