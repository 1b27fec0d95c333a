"""Avro: records of `ts`, `eventName` and one map per map field, values null|boolean|long|double|string.

Maps, not records, because keys are any text and Avro field names are not. Nested values, and integers
beyond a long, are JSON text.
Deflate compresses inside the file; the sync marker is fixed so the same rows give the same bytes
(fastavro would otherwise draw a random one).
"""

import fastavro

from transforms.compression import Compression
from transforms.formats import Encoder
from transforms.formats.values import as_text, chunks, is_int64, parse_maps

__all__ = ["AvroEncoder"]

_SYNC_MARKER = b"eventexport-sync"  # 16 bytes, the size Avro requires
_VALUE = ["null", "boolean", "long", "double", "string"]
_TYPES = {"int": "long", "str": "string", "map": {"type": "map", "values": _VALUE}}


def _scalar(value):
    if value is None or isinstance(value, (bool, float, str)) or is_int64(value):
        return value
    return as_text(value)   # nested values, and integers beyond long, as exact JSON text


class AvroEncoder(Encoder):
    extension = ".avro"
    compression = Compression.NONE

    def schema(self):
        return fastavro.parse_schema({
            "type": "record", "name": self.shape.element, "namespace": "eventexport",
            "fields": [{"name": f.name, "type": _TYPES[f.kind]} for f in self.shape.fields],
        })

    def _records(self, rows):
        for chunk in chunks(rows):
            columns = [parse_maps(chunk[f.column]) if f.kind == "map" else chunk[f.column].to_pylist()
                       for f in self.shape.fields]
            for values in zip(*columns):
                yield {f.name: ({k: _scalar(v) for k, v in value.items()} if f.kind == "map" else value)
                       for f, value in zip(self.shape.fields, values)}

    def write_file(self, rows, name, out):
        fastavro.writer(out, self.schema(), self._records(rows), codec="deflate", sync_marker=_SYNC_MARKER)
