"""Text built by Arrow kernels, handed on as bytes without a per-row Python step."""

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
    """Does any value of `strings` hold any of the byte strings `marks`? One scan of the values' bytes
    (a memchr for a single byte), which lets a file skip a per-value kernel that would find nothing."""
    data = bytes(joined_bytes(strings))
    return any(mark in data for mark in marks)
