"""JSON Lines: the partition name as a JSON string literal, then one object per record.

Events look like `{"profile": {...}, "ts": 20171109000015, "deviceInfo": {...}, "eventProps": {...}}`
(deviceInfo left out when empty). Map values are the store's own JSON object text spliced in, so a
batch becomes its lines in a few Arrow kernels, with no per-record parse or dump.
"""

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from transforms.arrow_text import joined_bytes
from transforms.formats import Encoder
from transforms.formats.values import chunks

__all__ = ["JsonEncoder"]


def _json_strings(column):
    """String values as JSON string literals (only profile ids take this slower path)."""
    return pa.array([orjson.dumps(value).decode() for value in column.to_pylist()], pa.string())


class JsonEncoder(Encoder):
    extension = ".json"

    def _members(self, rows, omit):
        parts, separator = [], "{"
        for name in self.shape.json_order:
            if name in omit:
                continue
            field = self.shape.field(name)
            column = rows[field.column]
            if field.kind == "int":
                column = pc.cast(column, pa.string())
            elif field.kind == "str":
                column = _json_strings(column)
            parts += [f'{separator}{orjson.dumps(name).decode()}: ', column]
            separator = ", "
        parts.append("}\n")
        return pc.binary_join_element_wise(*parts, "")

    def _lines(self, rows):
        lines = self._members(rows, ())
        for name in self.shape.json_omit_if_empty:
            empty = pc.equal(rows[self.shape.field(name).column], "{}")
            lines = pc.if_else(empty, self._members(rows, (name,)), lines)
        return lines

    def write_file(self, rows, name, out):
        out.write(orjson.dumps(name) + b"\n")
        for chunk in chunks(rows):
            out.write(joined_bytes(self._lines(chunk)))
