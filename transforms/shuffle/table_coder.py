"""How Arrow tables cross between steps: as Arrow IPC, and sized without being encoded.

Beam samples the elements of every PCollection to estimate their byte size for its metrics, and for
a type it has no coder for it does so by pickling the element. Our elements are tables of tens of
thousands of rows, nearly all of which get sampled (the first ten of each bundle always are), so each
table was copied whole, once per step it passed, only to be measured: a noticeable share of a JSON
export's time and a table's worth of passing memory (docs/performance.md). Declaring the steps' outputs
as `pa.Table` (or `(kind, table)`) makes Beam use this coder, whose estimate is the table's buffer size.
"""

import apache_beam as beam
import pyarrow as pa

__all__ = ["TableCoder", "KindAndTable"]


class TableCoder(beam.coders.Coder):
    """A pa.Table as an Arrow IPC stream (what a runner that moves elements between processes sends)."""

    def encode(self, value):
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, value.schema) as writer:
            writer.write_table(value)
        return sink.getvalue().to_pybytes()

    def decode(self, encoded):
        return pa.ipc.open_stream(pa.py_buffer(encoded)).read_all()

    def estimate_size(self, value):
        return value.nbytes

    def is_deterministic(self):
        return False

    def to_type_hint(self):
        return pa.Table

    def __eq__(self, other):
        return type(self) is type(other)

    def __hash__(self):
        return hash(type(self))


beam.coders.registry.register_coder(pa.Table, TableCoder)

# The element type of a step that yields two kinds of table as (kind, table) pairs (see steps.py).
KindAndTable = beam.typehints.Tuple[str, pa.Table]
