"""XML: a declaration, one `<Events>` root, an `<Event>` per record in the seed's shape.

`<Event><ts/><eventName/><profile/><deviceInfo/><eventProps/></Event>`, each map as
`<entry><key>k</key><value>v</value></entry>` so any key text is representable. Characters XML 1.0
cannot carry (C0 controls but tab and newline, U+FFFE, U+FFFF, lone surrogates) are replaced by U+FFFD;
carriage returns are written as `&#13;` so parsers do not fold them into newlines.
"""

import re

import pyarrow.compute as pc

from transforms.formats import Encoder
from transforms.formats.values import as_text, chunks, parse_maps

__all__ = ["XmlEncoder", "escape"]

_REPLACEMENT = "\ufffd"
_ENTRY = "<entry><key>%s</key><value>%s</value></entry>"
_ESCAPES = {ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;", ord("\r"): "&#13;"}
_ESCAPES.update({c: _REPLACEMENT for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)})
_ESCAPES.update({c: _REPLACEMENT for c in (0xFFFE, 0xFFFF, *range(0xD800, 0xE000))})


# The same question asked of Arrow strings (RE2): raw text, and stored JSON text whose escapes may decode
# to a character that needs escaping.
_DIRTY_TEXT = "[&<>\\r\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x{fffe}\\x{ffff}]"
_DIRTY_MAP = "[&<>\\x{fffe}\\x{ffff}]|\\\\[urbf]"
_NEEDS_ESCAPE = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def escape(text):
    """Most text needs no escaping, and a regex search says so far faster than translate does the work."""
    return text.translate(_ESCAPES) if _NEEDS_ESCAPE.search(text) else text


class XmlEncoder(Encoder):
    extension = ".xml"

    def _fragments(self, field, column):
        """One `<name>...</name>` string per row. Escaping runs only on rows whose text needs it, which
        one vectorised search over the stored text tells (JSON escapes included)."""
        if field.kind == "int":
            return [f"<{field.name}>{v}</{field.name}>" for v in column.to_pylist()]
        dirty = pc.match_substring_regex(column, _DIRTY_MAP if field.kind == "map" else _DIRTY_TEXT).to_pylist()
        if field.kind == "str":
            return [f"<{field.name}>{escape(v) if d else v}</{field.name}>" for v, d in zip(column.to_pylist(), dirty)]
        fragments = []
        for value, needs in zip(parse_maps(column), dirty):
            if needs:
                entries = [_ENTRY % (escape(k), escape(v if type(v) is str else as_text(v))) for k, v in value.items()]
            else:
                entries = [_ENTRY % (k, v if type(v) is str else as_text(v)) for k, v in value.items()]
            fragments.append(f"<{field.name}>{''.join(entries)}</{field.name}>")
        return fragments

    def write_file(self, rows, name, out):
        head, tail = f"<{self.shape.element}>", f"</{self.shape.element}>\n"
        out.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<{self.shape.root}>\n'.encode())
        for chunk in chunks(rows):
            columns = [self._fragments(f, chunk[f.column]) for f in self.shape.fields]
            out.write("".join([head + "".join(parts) + tail for parts in zip(*columns)]).encode("utf-8"))
        out.write(f"</{self.shape.root}>\n".encode())
