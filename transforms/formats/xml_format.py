"""XML: a declaration, one `<Events>` root, an `<Event>` per record in the seed's shape.

`<Event><ts/><eventName/><profile/><deviceInfo/><eventProps/></Event>`. The maps the seed writes by name
(`Field.xml_named`: profile, deviceInfo, a profile's properties) hold one element per key,
`<email>v</email>`, where the key can be an element name (xml_names) and `<entry><key>k</key><value>v
</value></entry>` where it cannot, so no key is lost; eventProps holds only entries. Children are sorted
by key (as CSV sorts its columns); a null value is an empty element. Characters XML 1.0 cannot carry (C0
controls but tab and newline, U+FFFE, U+FFFF, lone surrogates) are replaced by U+FFFD; carriage returns
are written as `&#13;` so parsers do not fold them into newlines.

Each field's fragment (`<profile>...</profile>`) is built once per distinct text of the file and
spread to the rows with a `take`. For maps Arrow can type (typed_maps), fragments are built by
kernels, key column by key column; a map text that needs escaping, and every text of a map Arrow
cannot type, gets its fragment from Python. Both give the same bytes.
"""

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from transforms.arrow_text import holds_any, joined_bytes
from transforms.formats import Encoder
from transforms.formats.typed_maps import Distinct, cell_texts, member_pattern, typed_columns
from transforms.formats.values import CHUNK_ROWS, as_text, parse_maps
from transforms.formats.xml_names import is_element_name

__all__ = ["XmlEncoder", "escape"]

_REPLACEMENT = "\ufffd"
_ESCAPES = {ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;", ord("\r"): "&#13;"}
_ESCAPES.update({c: _REPLACEMENT for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)})
_ESCAPES.update({c: _REPLACEMENT for c in (0xFFFE, 0xFFFF, *range(0xD800, 0xE000))})
_NEEDS_ESCAPE = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
# Stored JSON text (RE2) whose typed values the kernels cannot show as they are: a character to escape,
# written raw or as a JSON escape that decodes to one (controls, &, <, >, U+FFFE/F, surrogates).
_PYTHON_MAP = r"[&<>\x{fffe}\x{ffff}]|\\[rbf]|(?i:\\u(?:00[01]|0026|003[ce]|fff[ef]|d[89a-f]))"
# Single bytes (a memchr each) that every _PYTHON_MAP match holds; 0xEF starts U+FFFE and U+FFFF in UTF-8.
_PYTHON_BYTES = (b"&", b"<", b">", b"\\", b"\xef")
# Typed columns lose null against absent: a text with a null member is asked, key by key, which it is.
_NULL_MEMBER = r":\s*null\s*[,}]"


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


def _map_elements(name, texts, named):
    """One fragment per distinct map text (an Arrow string array)."""
    typed = typed_columns(texts)
    if typed is None:
        return pa.array([_map_element(name, value, named) for value in parse_maps(texts)], pa.string())
    if not typed:   # no text has a key
        return pa.array([_element(name, "")] * len(texts), pa.string())
    with_nulls = pc.match_substring_regex(texts, _NULL_MEMBER)
    null_texts = pc.filter(texts, with_nulls)
    none = pa.array(np.zeros(len(texts), dtype=bool))
    parts, unquotable = [f"<{name}>"], False
    for key, cells in zip(typed, cell_texts(texts, typed)):
        head, tail = _child_tags(key, named)
        if not cells.null_count:      # in every text: its parts go straight into the one join below
            parts += [head, cells, tail]
            continue
        member = member_pattern(key, r"null\s*[,}]")
        if member is None:              # Python decides this key's texts with a null
            unquotable = True
        elif len(null_texts):
            is_null = pc.replace_with_mask(none, with_nulls, pc.match_substring_regex(null_texts, member))
            cells = pc.if_else(is_null, "", cells)
        parts.append(pc.fill_null(pc.binary_join_element_wise(head, cells, tail, ""), ""))
    fragments = pc.binary_join_element_wise(*parts, f"</{name}>", "")
    # Python decides texts that need escaping and, since a key written with JSON escapes would not match
    # the member pattern above, texts with a null member and a backslash. Each needs one of a few bytes,
    # which a scan of the column's bytes rules out for most files at once.
    if not holds_any(texts, _PYTHON_BYTES):
        return fragments
    by_python = pc.or_(pc.match_substring_regex(texts, _PYTHON_MAP),
                       pc.and_(with_nulls, pc.match_substring(texts, "\\")))
    if unquotable:
        by_python = pc.or_(by_python, with_nulls)
    if not pc.any(by_python).as_py():
        return fragments
    python = pc.filter(texts, by_python)
    replacements = pa.array([_map_element(name, value, named) for value in parse_maps(python)], pa.string())
    return pc.replace_with_mask(fragments, by_python, replacements)


def _fragments(field, column):
    """A function (start, count) -> `<name>value</name>` for those rows of `column`, so the file's text
    is built a slice at a time while each distinct value's fragment is built once."""
    if field.kind == "int":
        texts = pc.cast(column, pa.string())
        return lambda start, count: pc.binary_join_element_wise(
            f"<{field.name}>", texts.slice(start, count), f"</{field.name}>", "")
    distinct = Distinct(column)
    if field.kind == "map":
        fragments = _map_elements(field.name, distinct.values, field.xml_named)
    else:
        fragments = pa.array([_element(field.name, escape(v)) for v in distinct.values.to_pylist()], pa.string())
    return lambda start, count: distinct.per_row(fragments, start, count)


class XmlEncoder(Encoder):
    extension = ".xml"

    def write_file(self, rows, name, out):
        out.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<{self.shape.root}>\n'.encode())
        fields = [_fragments(f, rows[f.column].combine_chunks()) for f in self.shape.fields]
        for start in range(0, rows.num_rows, CHUNK_ROWS):
            parts = [fragments(start, CHUNK_ROWS) for fragments in fields]
            out.write(joined_bytes(pc.binary_join_element_wise(
                f"<{self.shape.element}>", *parts, f"</{self.shape.element}>\n", "")))
        out.write(f"</{self.shape.root}>\n".encode())
