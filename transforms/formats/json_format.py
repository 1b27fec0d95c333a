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

    def __init__(self, shape, parquet_codec="gzip"):
        super().__init__(shape, parquet_codec)
        if shape.json_order[0] in shape.json_omit_if_empty:
            raise ValueError("the first JSON member cannot be one left out when empty (its key opens the object)")

    def _lines(self, rows):
        """One join of every member's text; a member that may be left out is its key and value, or ''."""
        parts = ["{"]
        for position, name in enumerate(self.shape.json_order):
            field = self.shape.field(name)
            column = rows[field.column]
            if field.kind == "int":
                text = pc.cast(column, pa.string())
            elif field.kind == "str":
                text = _json_strings(column)
            else:
                text = column
            key = f'{", " if position else ""}{orjson.dumps(name).decode()}: '
            if name in self.shape.json_omit_if_empty:
                parts.append(pc.if_else(pc.equal(column, "{}"), "", pc.binary_join_element_wise(key, text, "")))
            else:
                parts += [key, text]
        parts.append("}\n")
        return pc.binary_join_element_wise(*parts, "")

    def write_file(self, rows, name, out):
        out.write(orjson.dumps(name) + b"\n")
        for chunk in chunks(rows):
            out.write(joined_bytes(self._lines(chunk)))
