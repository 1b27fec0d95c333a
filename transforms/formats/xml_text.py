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
    offsets, data, left = _xml_text.map_fragments(*_buffers(texts), name.encode(), named, is_element_name)
    fragments = _string_array(len(texts), offsets, data)
    left = np.frombuffer(left, dtype=np.bool_)
    if not left.any():
        return fragments
    mask = pa.array(left)
    return pc.replace_with_mask(fragments, mask, pa.array(python_rule(pc.filter(texts, mask)), pa.string()))


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
