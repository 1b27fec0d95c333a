"""Avro: records of `ts`, `eventName` and one map per map field, values null|string|boolean|long|double.

Maps, not records, because keys are any text and Avro field names are not. Nested values, and integers
beyond a long, are JSON text.
Deflate compresses inside the file; the sync marker is fixed so the same rows give the same bytes
(fastavro would otherwise draw a random one).
"""

import fastavro

from transforms.compression import Compression
from transforms.formats import Encoder
from transforms.formats.typed_maps import Distinct
from transforms.formats.values import as_text, chunks, is_int64, parse_maps

__all__ = ["AvroEncoder"]

_SYNC_MARKER = b"eventexport-sync"  # 16 bytes, the size Avro requires
# fastavro tries a union's branches in order; most values are strings, and its long check is a slow
# abstract-class test, so string comes first (a third less time). Boolean stays before long: True is an int.
_VALUE = ["null", "string", "boolean", "long", "double"]
_TYPES = {"int": "long", "str": "string", "map": {"type": "map", "values": _VALUE}}


def _scalar(value):
    if value is None or isinstance(value, (bool, float, str)) or is_int64(value):
        return value
    return as_text(value)   # nested values, and integers beyond long, as exact JSON text


# Rows per step: each distinct map text in a step is parsed once and shared by the rows that hold it.
RECORD_CHUNK_ROWS = 32768


def _maps(column):
    """One dict per row, built once per distinct text (fastavro only reads them)."""
    distinct = Distinct(column)
    maps = [{key: _scalar(value) for key, value in parsed.items()} for parsed in parse_maps(distinct.values)]
    return [maps[index] for index in distinct.indices.to_numpy()]


class AvroEncoder(Encoder):
    extension = ".avro"
    compression = Compression.NONE

    def schema(self):
        return fastavro.parse_schema({
            "type": "record", "name": self.shape.element, "namespace": "eventexport",
            "fields": [{"name": f.name, "type": _TYPES[f.kind]} for f in self.shape.fields],
        })

    def _records(self, rows):
        names = [f.name for f in self.shape.fields]
        for chunk in chunks(rows, RECORD_CHUNK_ROWS):
            columns = [_maps(chunk[f.column]) if f.kind == "map" else chunk[f.column].to_pylist()
                       for f in self.shape.fields]
            for values in zip(*columns):
                yield dict(zip(names, values))

    def write_file(self, rows, name, out):
        fastavro.writer(out, self.schema(), self._records(rows), codec="deflate", sync_marker=_SYNC_MARKER)
