"""The native XML kernel (_xml_text.c) over Arrow string arrays: map texts to fragments, text escaped.

The kernel reads an array's own buffers and returns the new array's, so no value becomes a Python
object; the few texts it leaves to the Python rule (nested values, numbers it cannot show as Python
does, keys named twice) are rendered by `python_rule` and put in their places.
"""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from transforms.formats import _xml_text
from transforms.formats.xml_names import is_element_name

__all__ = ["map_fragments", "escaped"]


def map_fragments(texts, name, named, python_rule):
    """`<name>...</name>` for each JSON object text of `texts` (xml_format._map_element's rule);
    `python_rule(texts)` gives the fragments of the texts the kernel leaves to it, as a list."""
    if texts.null_count:    # not a map text: the Python rule says so
        return pa.array(python_rule(texts), pa.string())
    offsets, data, left, *checks = _xml_text.map_fragments(*_buffers(texts), name.encode(), named, is_element_name)
    fragments = _string_array(len(texts), offsets, data)
    left = np.frombuffer(left, dtype=np.bool_)
    wrong = _not_shortest(*checks)
    if len(wrong):
        left = left.copy()
        left[wrong] = True
    if not left.any():
        return fragments
    mask = pa.array(left)
    return pc.replace_with_mask(fragments, mask, pa.array(python_rule(pc.filter(texts, mask)), pa.string()))


def _not_shortest(rows, offsets, data):
    """The rows whose number of 16 or 17 digits (the kernel's checks) is not the shortest text of its
    double, which is what Python shows: Arrow reads each number and prints its double's shortest digits
    (double-conversion, as Python's repr: the fewest digits that read back, the closest of those), and
    the digits are compared without the sign, point and outer zeros (two texts of one double with the
    same digits have the same exponent). In the kernel's range, [1e-4, 1e16), Arrow writes an exponent
    only from 1e15 on (`e+15`); any other text with one counts as not the same (the Python rule decides)."""
    rows = np.frombuffer(rows, dtype=np.int32)
    if not len(rows):
        return rows
    numbers = _string_array(len(rows), offsets, data)
    doubles = pc.cast(numbers, pa.float64())
    shortest = pc.replace_substring(pc.cast(doubles, pa.string()), "e+15", "")
    same = pc.and_(pc.equal(_digits(numbers), _digits(shortest)), pc.less(pc.abs(doubles), 1e16))
    return rows[~same.to_numpy(zero_copy_only=False)]


def _digits(numbers):
    return pc.ascii_rtrim(pc.ascii_ltrim(pc.replace_substring(numbers, ".", ""), "-0"), "0")


def escaped(strings):
    """Each value escaped for XML (xml_format.escape); nulls stay null."""
    offsets, data = _xml_text.escape_texts(*_buffers(strings))
    result = _string_array(len(strings), offsets, data)
    if strings.null_count:
        result = pc.if_else(pc.is_valid(strings), result, pa.scalar(None, pa.string()))
    return result


def _buffers(strings):
    if strings.type != pa.string():
        strings = strings.cast(pa.string())
    _, offsets, data = strings.buffers()
    return offsets, data if data is not None else b"", strings.offset, len(strings)


def _string_array(length, offsets, data):
    return pa.Array.from_buffers(pa.string(), length, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
