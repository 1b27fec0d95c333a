"""XML: a declaration, one `<Events>` root, an `<Event>` per record in the seed's shape.

`<Event><ts/><eventName/><profile/><deviceInfo/><eventProps/></Event>`. The maps the seed writes by name
(`Field.xml_named`: profile, deviceInfo, a profile's properties) hold one element per key,
`<email>v</email>`, where the key can be an element name (xml_names) and `<entry><key>k</key><value>v
</value></entry>` where it cannot, so no key is lost; eventProps holds only entries. Children are sorted
by key (as CSV sorts its columns); a null value is an empty element. Characters XML 1.0 cannot carry (C0
controls but tab and newline, U+FFFE, U+FFFF, lone surrogates) are replaced by U+FFFD; carriage returns
are written as `&#13;` so parsers do not fold them into newlines.

A file is written a slice of rows at a time (a row's XML depends on that row alone), so memory
follows the slice, not the file. Within a slice, a field whose values repeat has its fragment
(`<profile>...</profile>`) built once per distinct text and spread to the rows with a `take`; the
parts of the others (tags, cell columns) go straight into the record's one join. For maps Arrow can
type (typed_maps), fragments are built by kernels, key column by key column, escaping included; which
members are null (typed columns cannot tell null from absent) comes from the same parse, of the texts
with their null members renamed (typed_maps.typed_with_nulls). Arrow's JSON reader refuses lone
surrogates and decodes surrogate pairs and every other escape as Python does, so typed texts need no
Python; a map Arrow cannot type (and, should Arrow not say which members are null, its texts with a
null) gets its fragments from Python. Both give the same bytes.
"""

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from transforms.arrow_text import bytes_below, holds_any, joined_bytes
from transforms.formats import Encoder
from transforms.formats.typed_maps import NULL_MEMBER, Distinct, cell_texts, typed_with_nulls
from transforms.formats.values import as_text, parse_maps, slices
from transforms.formats.xml_names import is_element_name

__all__ = ["XmlEncoder", "escape"]

_REPLACEMENT = "\ufffd"
_ESCAPES = {ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;", ord("\r"): "&#13;"}
_ESCAPES.update({c: _REPLACEMENT for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)})
_ESCAPES.update({c: _REPLACEMENT for c in (0xFFFE, 0xFFFF, *range(0xD800, 0xE000))})
_NEEDS_ESCAPE = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
# Kernels escape text in this order (`&` first, as the others bring one in), each character in its
# own pass where it occurs (arrow_text.bytes_below finds the controls in one scan): a regex replacing
# all the controls at once cost four substring passes on the hostile store.
_KERNEL_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"))
_CONTROL_ESCAPES = {c: "&#13;" if c == 0x0D else _REPLACEMENT for c in range(0x20) if c not in (0x09, 0x0A)}
_NONCHARACTERS = ("\ufffe", "\uffff")    # also become U+FFFD


def escape(text):
    """Most text needs no escaping, and a regex search says so far faster than translate does the work."""
    return text.translate(_ESCAPES) if _NEEDS_ESCAPE.search(text) else text


def _escaped(strings):
    """`escape` by kernels, for an Arrow string array (valid UTF-8, so no lone surrogates). A search of
    the values' own bytes (no copy) tells which characters occur at all; only those get a kernel pass."""
    found = [(char, entity) for char, entity in _KERNEL_ESCAPES if holds_any(strings, (char.encode(),))]
    found += [(chr(c), _CONTROL_ESCAPES[c]) for c in sorted(bytes_below(strings, 0x20)) if c in _CONTROL_ESCAPES]
    found += [(char, _REPLACEMENT) for char in _NONCHARACTERS if holds_any(strings, (char.encode(),))]
    for char, entity in found:
        strings = pc.replace_substring(strings, char, entity)
    return strings


def _element(name, inner):
    return f"<{name}>{inner}</{name}>"


def _child_tags(key, named):
    """The text before and after a key's value: its own element, or an entry pair."""
    if named and is_element_name(key):
        return f"<{key}>", f"</{key}>"
    return f"<entry><key>{escape(key)}</key><value>", "</value></entry>"


def _map_element(name, value, named):
    """The Python rule for one parsed map."""
    children = []
    for key, item in sorted(value.items()):
        head, tail = _child_tags(key, named)
        children += [head, escape(as_text(item)), tail]
    return _element(name, "".join(children))


def _map_parts(name, texts, named):
    """The parts whose element-wise join (a null part adding nothing) is each map text's fragment."""
    with_nulls = _may_hold_nulls(texts)
    parsed = typed_with_nulls(texts, with_nulls)
    if parsed is None:
        return [pa.array([_map_element(name, value, named) for value in parse_maps(texts)], pa.string())]
    typed, nulls = parsed
    if not typed:   # no text has a key
        return [pa.array([_element(name, "")] * len(texts), pa.string())]
    parts = [f"<{name}>"]
    for key, cells in zip(typed, cell_texts(texts, typed)):
        head, tail = _child_tags(key, named)
        if typed[key].type == pa.string():
            cells = _escaped(cells)
        if not cells.null_count:      # in every text: its parts go straight into the one join
            parts += [head, cells, tail]
            continue
        if nulls and key in nulls:
            cells = pc.if_else(nulls[key], "", cells)
        parts.append(pc.binary_join_element_wise(head, cells, tail, ""))     # null where absent
    parts.append(f"</{name}>")
    if nulls is not None:
        return parts
    python = pc.filter(texts, with_nulls)     # Arrow could not say which members are null
    replacements = pa.array([_map_element(name, value, named) for value in parse_maps(python)], pa.string())
    return [pc.replace_with_mask(_joined(parts), with_nulls, replacements)]


def _may_hold_nulls(texts):
    """Which texts may hold a null member (NULL_MEMBER may also match inside a string); a search of
    the texts' bytes first, as most maps (profiles, devices) hold no `null` at all."""
    if not holds_any(texts, (b"null",)):
        return pa.array(np.zeros(len(texts), dtype=bool))
    return pc.match_substring_regex(texts, NULL_MEMBER)


def _joined(parts):
    """The element-wise join of `parts` (strings and string arrays), a null part adding nothing.
    Adjacent strings are joined first: each part costs the join a step per row."""
    merged = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    return pc.binary_join_element_wise(*merged, "", null_handling="replace")


def _field_parts(field, column):
    """The parts of `<name>value</name>` for each row of `column`. Where values repeat, each distinct
    value's fragment is built once and spread to the rows (where they do not, finding the distinct
    ones and spreading them back is wasted, and the parts go straight into the record's one join)."""
    if field.kind == "int":
        return [f"<{field.name}>", pc.cast(column, pa.string()), f"</{field.name}>"]
    distinct = Distinct(column) if _repeats(column) else None
    values = column if distinct is None else distinct.values
    if field.kind == "map":
        parts = _map_parts(field.name, values, field.xml_named)
    else:
        parts = [f"<{field.name}>", _escaped(values), f"</{field.name}>"]
    return parts if distinct is None else [distinct.per_row(_joined(parts))]


_SAMPLE_ROWS = 1024


def _repeats(column):
    """Does any value repeat in an evenly spread sample of `column`'s rows? (A sample finds less
    repetition than the column holds: the natural store's property texts, 75% distinct in a slice,
    repeat in any sample of 1024, its distinct store's never.)"""
    sample = column.take(np.arange(0, len(column), max(1, len(column) // _SAMPLE_ROWS)))
    return pc.count_distinct(sample).as_py() < len(sample)


class XmlEncoder(Encoder):
    extension = ".xml"

    def write_file(self, rows, name, out):
        out.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<{self.shape.root}>\n'.encode())
        for piece in slices(rows):
            parts = [part for f in self.shape.fields for part in _field_parts(f, piece[f.column].combine_chunks())]
            out.write(joined_bytes(_joined([f"<{self.shape.element}>", *parts, f"</{self.shape.element}>\n"])))
        out.write(f"</{self.shape.root}>\n".encode())
