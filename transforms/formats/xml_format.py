"""XML: a declaration, one `<Events>` root, an `<Event>` per record in the seed's shape.

`<Event><ts/><eventName/><profile/><deviceInfo/><eventProps/></Event>`. The maps the seed writes by name
(`Field.xml_named`: profile, deviceInfo, a profile's properties) hold one element per key,
`<email>v</email>`, where the key can be an element name (xml_names) and `<entry><key>k</key><value>v
</value></entry>` where it cannot, so no key is lost; eventProps holds only entries. Children are sorted
by key (as CSV sorts its columns); a null value is an empty element. Characters XML 1.0 cannot carry (C0
controls but tab and newline, U+FFFE, U+FFFF, lone surrogates) are replaced by U+FFFD; carriage returns
are written as `&#13;` so parsers do not fold them into newlines.

A file is written a slice of rows at a time (a row's XML depends on that row alone), so memory
follows the slice, not the file. Each slice is one pass of the native kernel (xml_text.write_records)
over the record's parts: tags, integers, strings to escape, and map texts rendered in place, or, for a
map whose texts repeat, each distinct text's fragment rendered once and copied by index. The few map
texts the kernel leaves alone get their fragments from the Python rule (`_map_element`), which it
matches byte for byte (tests/test_xml_text.py).
"""

import re

import numpy as np
import pyarrow.compute as pc

from transforms.formats import Encoder
from transforms.formats.typed_maps import Distinct
from transforms.formats.values import as_text, parse_maps, slices
from transforms.formats.xml_text import ByIndex, Escaped, Integers, Map, map_fragments, write_records
from transforms.formats.xml_names import is_element_name

__all__ = ["XmlEncoder", "escape"]

_REPLACEMENT = "\ufffd"
_ESCAPES = {ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;", ord("\r"): "&#13;"}
_ESCAPES.update({c: _REPLACEMENT for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)})
_ESCAPES.update({c: _REPLACEMENT for c in (0xFFFE, 0xFFFF, *range(0xD800, 0xE000))})
_NEEDS_ESCAPE = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def escape(text):
    """Most text needs no escaping, and a regex search says so far faster than translate does the work."""
    return text.translate(_ESCAPES) if _NEEDS_ESCAPE.search(text) else text


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


def _python_fragments(name, named):
    return lambda texts: [_map_element(name, value, named) for value in parse_maps(texts)]


def _field_parts(field, column):
    """The parts of `<name>value</name>` (a map writes its own tags). A map whose texts repeat has each
    distinct text's fragment rendered once and copied by index; where they do not, finding the distinct
    ones is wasted, and the kernel renders each text in place."""
    if field.kind == "int":
        return [f"<{field.name}>", Integers(column), f"</{field.name}>"]
    if field.kind != "map":
        return [f"<{field.name}>", Escaped(column), f"</{field.name}>"]
    rule = _python_fragments(field.name, field.xml_named)
    if not _repeats(column):
        return [Map(column, field.name, field.xml_named, rule)]
    distinct = Distinct(column)
    return [ByIndex(map_fragments(distinct.values, field.name, field.xml_named, rule), distinct.indices)]


def _merged(parts):
    """`parts` with adjacent strings joined: each part costs the kernel a step per record."""
    merged = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    return merged


# The sample `_repeats` takes: about this many bytes, and between these many rows (a sample of a fixed
# 1,024 rows of long texts is a copy and a hash of a MB per column and slice).
_SAMPLE_BYTES = 64 << 10
_SAMPLE_ROWS = (64, 1024)


def _repeats(column):
    """Do `column`'s values repeat enough that rendering each distinct one once pays for finding them (a
    hash of every text, and a copy of every fragment)? Yes where an evenly spread sample of its rows holds
    fewer distinct values than half its size, as a device's details do; a user's profile or an event's
    properties, mostly distinct in a slice, render faster in place (docs/xml-performance.md, round 3)."""
    rows = min(max(_SAMPLE_BYTES * len(column) // max(column.nbytes, 1), _SAMPLE_ROWS[0]), _SAMPLE_ROWS[1])
    sample = column.take(np.arange(0, len(column), max(1, len(column) // rows)))
    return pc.count_distinct(sample).as_py() < len(sample) // 2


class XmlEncoder(Encoder):
    extension = ".xml"

    def write_file(self, rows, name, out):
        out.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<{self.shape.root}>\n'.encode())
        for piece in slices(rows):
            parts = [part for f in self.shape.fields for part in _field_parts(f, piece[f.column].combine_chunks())]
            write_records(out, piece.num_rows, _merged([f"<{self.shape.element}>", *parts, f"</{self.shape.element}>\n"]))
        out.write(f"</{self.shape.root}>\n".encode())
