"""Avro: records of `ts`, `eventName` and one map per map field, values null|string|boolean|long|double.

Maps, not records, because keys are any text and Avro field names are not. Nested values, and integers
beyond a long, are JSON text. Deflate compresses inside the file; the sync marker is fixed so the same
rows give the same bytes.

Rows are encoded as columns (avro_binary): `ts` by numpy, strings by Arrow kernels, each distinct map
text of a slice encoded once (avro_maps: by kernels from typed key columns, Python where those cannot
decide) and spread to its rows with a `take`; a slice's rows are then joined and cut into blocks of
about BLOCK_BYTES. A map's entries are in key order.
"""

import json

import numpy as np
import pyarrow.compute as pc

from transforms.arrow_text import joined_bytes
from transforms.formats.compression import Background, Compression
from transforms.formats import Encoder
from transforms.formats.avro_binary import block, header, longs, strings
from transforms.formats.avro_maps import map_column
from transforms.formats.typed_maps import Distinct
from transforms.formats.values import slices

__all__ = ["AvroEncoder", "SYNC_MARKER"]

SYNC_MARKER = b"eventexport-sync"  # 16 bytes, the size Avro requires
# Union order: string first, as most values are strings (readers resolve by the writer's schema).
_VALUE = ["null", "string", "boolean", "long", "double"]
_TYPES = {"int": "long", "str": "string", "map": {"type": "map", "values": _VALUE}}
BLOCK_BYTES = 1 << 20         # uncompressed bytes per block, about (a block holds whole rows)
BLOCKS_IN_FLIGHT = 64         # more than a slice's blocks


def _encoded(field, column, keys):
    """Each row's bytes of one field, as an Arrow binary array."""
    if field.kind == "int":
        return longs(column.to_numpy(zero_copy_only=False))
    distinct = Distinct(column)
    if field.kind == "str":
        return distinct.per_row(strings(distinct.values))
    return distinct.per_row(map_column(distinct.values, keys))


def _blocks(rows):
    """(count, bytes) per block of one slice's rows (an Arrow binary array), cut at about BLOCK_BYTES."""
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32)[rows.offset:rows.offset + len(rows) + 1]
    data = joined_bytes(rows)
    base, start = offsets[0], 0
    while start < len(rows):
        end = int(np.searchsorted(offsets, offsets[start] + BLOCK_BYTES, side="right")) - 1
        end = min(max(end, start + 1), len(rows))
        yield end - start, data[offsets[start] - base:offsets[end] - base]
        start = end


class AvroEncoder(Encoder):
    extension = ".avro"
    compression = Compression.NONE

    def schema(self):
        return {"type": "record", "name": self.shape.element, "namespace": "eventexport",
                "fields": [{"name": f.name, "type": _TYPES[f.kind]} for f in self.shape.fields]}

    def write_file(self, rows, name, out):
        """Blocks are deflated and written on a thread of their own while the next slice is encoded (a
        slice's blocks are views of its encoded rows, so queueing all of them holds nothing more)."""
        with Background(out, owns=False, in_flight=BLOCKS_IN_FLIGHT) as stream:
            stream.write(header(json.dumps(self.schema(), separators=(",", ":")), SYNC_MARKER))
            keys = {}
            for piece in slices(rows):
                parts = [_encoded(f, piece[f.column].combine_chunks(), keys) for f in self.shape.fields]
                encoded = pc.binary_join_element_wise(*parts, b"")
                for count, data in _blocks(encoded):
                    stream.write_made(block, count, data, SYNC_MARKER)
