"""XML text by the native kernel (xml_native/, built by pip install as `_xml_text`), from Arrow arrays.

A slice of records is written as one text by one C pass over its parts (tags, integers, strings to
escape, JSON map texts to render, fragments of repeating maps by index): each map text is read, its
strings decoded from JSON and escaped for XML, its members sorted and written straight into the
records, with no array of fragments or join in between, and the GIL released meanwhile. The few map
texts the kernel leaves alone (numbers it cannot show as Python does, keys named twice, anything but JSON)
come back as holes that `python_rule` fills; so do those whose floats of 16 or 17 digits Arrow finds
are not the shortest text of their double (the one check the kernel hands on, done for all at once).
"""

from typing import Callable, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from transforms.formats import _xml_text
from transforms.formats.xml_names import is_element_name

__all__ = ["Integers", "Escaped", "Map", "ByIndex", "write_records", "map_fragments"]

_TEXT, _INTEGERS, _ESCAPED, _MAP, _BY_INDEX = range(5)
_SPAN = np.dtype([("start", "<i8"), ("end", "<i8"), ("part", "<i4"), ("row", "<i4")])


class Integers(NamedTuple):
    """An integer column, as its decimal digits (nothing where null)."""
    values: pa.Array


class Escaped(NamedTuple):
    """A string column, escaped for XML (nothing where null)."""
    strings: pa.Array


class Map(NamedTuple):
    """A JSON map text column, as `<name>...</name>` fragments; `python_rule(texts)` renders the texts
    the kernel leaves to it, as a list."""
    texts: pa.Array
    name: str
    named: bool
    python_rule: Callable


class ByIndex(NamedTuple):
    """Fragments rendered once (a column's distinct map texts), copied to each record by index."""
    fragments: pa.Array
    indices: pa.Array


def write_records(out, length, parts):
    """`length` records, each the concatenation of `parts` (str or the classes above), written to `out` in
    one write (an Arrow buffer, or bytes)."""
    specs = tuple(_spec(part) for part in parts)
    memory = pa.allocate_buffer(_expected_size(parts, length))
    text, holes, checked, checks = _xml_text.write_records(specs, length, is_element_name, memory)
    if isinstance(text, int):
        text = memory.slice(0, text)
    spans = np.frombuffer(holes, _SPAN)
    wrong = _not_shortest(*checks)
    if len(wrong):
        spans = np.concatenate([spans, np.frombuffer(checked, _SPAN)[np.unique(wrong)]])
    if not len(spans):
        out.write(text)
        return
    spans = spans[np.lexsort((spans["part"], spans["row"]))]   # the order of the text
    fragments = {}
    for part in np.unique(spans["part"]):
        rows = spans["row"][spans["part"] == part]
        fragments[part] = iter(parts[part].python_rule(parts[part].texts.take(pa.array(rows))))
    view, at, pieces = memoryview(text), 0, []
    for start, end, part, _ in spans.tolist():
        pieces += [view[at:start], next(fragments[part]).encode()]
        at = end
    out.write(b"".join([*pieces, view[at:]]))    # one write per slice: compression blocks follow the writes


def _expected_size(parts, length):
    """A generous guess of the records' size: map tags outweigh JSON's punctuation. The memory comes
    from Arrow's pool, which reuses freed pages (fresh ones cost a page fault each: docs/xml-performance.md),
    and pages never written are never touched; records that outgrow it move to memory of their own."""
    size = 4096
    for part in parts:
        if isinstance(part, str):
            size += len(part.encode()) * length
        elif isinstance(part, Integers):
            size += 20 * length
        elif isinstance(part, ByIndex):
            size += part.fragments.nbytes * length // max(len(part.fragments), 1)
        else:
            size += 3 * (part.texts if isinstance(part, Map) else part.strings).nbytes + 64 * length
    return size


def map_fragments(texts, name, named, python_rule):
    """`<name>...</name>` for each JSON object text of `texts`, as a string array (for ByIndex)."""
    if texts.null_count:    # not a map text: the Python rule says so
        return pa.array(python_rule(texts), pa.string())
    offsets, data, left, checks = _xml_text.map_fragments(*_buffers(texts), name.encode(), named, is_element_name)
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


def _spec(part):
    """A part as write_records' C side takes it (its docstring lists the tuples)."""
    if isinstance(part, str):
        return (_TEXT, part.encode())
    if isinstance(part, Integers):
        values = part.values if part.values.type == pa.int64() else part.values.cast(pa.int64())
        validity, data = values.buffers()
        return (_INTEGERS, data, values.offset, validity if values.null_count else None, values.offset)
    if isinstance(part, Escaped):
        strings = _strings(part.strings)
        validity = strings.buffers()[0] if strings.null_count else None
        return (_ESCAPED, *_buffers(strings)[:3], validity, strings.offset)
    if isinstance(part, Map):
        if part.texts.null_count:    # not a map text: map_fragments leaves it to the Python rule (it raises)
            return _spec(ByIndex(map_fragments(part.texts, part.name, part.named, part.python_rule),
                                 pa.array(np.arange(len(part.texts), dtype=np.int32))))
        return (_MAP, *_buffers(part.texts)[:3], part.name.encode(), part.named)
    fragments, indices = _strings(part.fragments), part.indices.cast(pa.int32())
    return (_BY_INDEX, *_buffers(fragments)[:3], len(fragments), indices.buffers()[1], indices.offset)


def _not_shortest(rows, offsets, data):
    """Which of the kernel's checks fail (their `rows`, which tag each check): a float of 16 or 17 digits
    that is not the shortest text of its double, which is what Python shows. Arrow reads each number
    and prints its double's shortest digits (double-conversion, as Python's repr: the fewest digits that
    read back, the closest of those), and the digits are compared without the sign, point and outer
    zeros (two texts of one double with the same digits have the same exponent). In the kernel's range,
    [1e-4, 1e16), Arrow writes an exponent only from 1e15 on (`e+15`); any other text with one counts as
    not the same (the Python rule decides)."""
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


def _strings(strings):
    return strings if strings.type == pa.string() else strings.cast(pa.string())


def _buffers(strings):
    strings = _strings(strings)
    _, offsets, data = strings.buffers()
    return offsets, data if data is not None else b"", strings.offset, len(strings)


def _string_array(length, offsets, data):
    return pa.Array.from_buffers(pa.string(), length, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
