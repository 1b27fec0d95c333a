"""What an object of the export costs in bytes, learned from a small sample encoded by the real encoders.

A few thousand records are read from a few store files spread over the window (the first rows of each,
canonical and checked as an export's are), grouped by event name and encoded as the export would: the
format's encoder and compression. A file's bytes do not grow in proportion to its rows: a Parquet file
pays for its schema and footer once and its dictionaries compress a user's repeated profile better the
more rows it holds (a 9,000-row object costs ~38 B a row where 2,000 rows of the same name cost ~54).
Nor are small files proportional to anything: ISA-L compresses a small file's many small writes far
worse than one large write (60 JSON rows took 16 KB gzipped where 233 of the same took 12.6 KB). So an
object of m rows of a name whose sample holds k >= m rows is costed by encoding m of them (once per
(name, m), at most MAX_ENCODES times an estimate); a larger one by a power law, size(m) = size(k) x
(m / k) ^ c, with c learned from the whole sample encoded at full and at half size (about 0.83 for
Parquet, 0.99 for the gzip formats). A name the sample lacks is costed as the whole sample is.
"""

import math

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from control.estimates.store_counts import open_store_file
from transforms.formats import encoder_for
from transforms.shuffle.partition import add_time_parts
from transforms.shuffle.sorted_rows import SortedRows
from transforms.sinks.sharding import encode_to_spool
from transforms.sources.readers import read_split
from transforms.sources.store_files import store_format
from transforms.sources.validation import validate

__all__ = ["Sizer", "sample_rows", "SAMPLE_FILES", "SAMPLE_ROWS", "MAX_ENCODES"]

SAMPLE_FILES = 6     # files the sample comes from, spread over the listing (so over days)
SAMPLE_ROWS = 1500   # rows from each: ~9,000 in all, a few tenths of a second of encoding in the slowest format
MAX_ENCODES = 300    # small objects costed by encoding them, at most: a store of many rare names stays quick


class _Piece:
    """An in-memory table where SortedRows expects a spilled piece."""

    def __init__(self, table):
        self.table = table

    def release(self):
        pass


def _first_parquet_rows(path, size, shape):
    """The first SAMPLE_ROWS rows of a Parquet file in the canonical types (only its first batch is
    decoded), or None when the file types its columns otherwise (the pipeline's reader then decides)."""
    with open_store_file(path, size) as raw:
        source = pq.ParquetFile(raw)
        schema = source.schema_arrow
        if not all(name in schema.names and schema.field(name).type == kind
                   for name, kind in zip(shape.store_schema.names, shape.store_schema.types)):
            return None
        batch = next(source.iter_batches(batch_size=SAMPLE_ROWS, columns=shape.store_schema.names,
                                         use_threads=False), None)
    return pa.Table.from_batches([batch]).select(shape.store_schema.names) if batch is not None else None


def _first_rows(path, size, shape, window_column):
    """The first SAMPLE_ROWS good rows of a store file, canonical and checked: of a Parquet file with the
    canonical types only its first batch is decoded; any other file goes through the pipeline's reader
    until it has them."""
    if store_format(path) == "parquet":
        table = _first_parquet_rows(path, size, shape)
        if table is not None:
            return validate(path, table, shape, [])
    for table in read_split(path, shape, window_column, None, 2 ** 62, rejects=[]):
        return table.slice(0, SAMPLE_ROWS)
    return None


def sample_rows(files, shape, window_column, timezone="UTC"):
    """Up to SAMPLE_ROWS canonical rows (with the time parts the encoders need) from each of SAMPLE_FILES
    of `files` ((path, size) pairs), evenly spread; bad records are left out, as the export rejects them."""
    step = max(1, len(files) // SAMPLE_FILES)
    chosen = files[::step][:SAMPLE_FILES]
    tables = [table for table in (_first_rows(path, size, shape, window_column) for path, size in chosen)
              if table is not None and table.num_rows]
    if not tables:
        return None
    return add_time_parts(pa.concat_tables(tables), shape.event_time_column(), timezone)


def _encoded_size(encoder, table, name, shape):
    rows = SortedRows.of_pieces([_Piece(table)], shape)
    spool, size = encode_to_spool(encoder, rows, name)
    spool.close()
    return size


class Sizer:
    """Bytes of an object of m rows of a name, learned from `sample` (see the module's docstring)."""

    def __init__(self, sample, shape, fmt, parquet_codec="gzip", names=None):
        self._encoder, self._shape = encoder_for(fmt, shape, parquet_codec), shape
        self._rows, self._sizes, self.encodes = {}, {}, 0
        if shape.name_column:
            for name in pc.unique(sample[shape.name_column]).to_pylist():
                if names is None or name in names:
                    self._rows[name] = sample.filter(pc.equal(sample[shape.name_column], name))
        self._all = sample
        half = sample.num_rows // 2
        self.exponent = 1.0
        if half:
            full, part = self._size(None, sample.num_rows), self._size(None, half)
            self.exponent = math.log(full / part) / math.log(sample.num_rows / half)

    def sampled(self, name):
        """Rows of `name` in the sample (0: it is costed as the whole sample is)."""
        rows = self._rows.get(name)
        return 0 if rows is None else rows.num_rows

    def _size(self, name, rows):
        """Bytes of the first `rows` sampled rows of `name` (None: of the whole sample) as one object."""
        if (name, rows) not in self._sizes:
            table = self._all if name is None else self._rows[name]
            label = self._shape.fixed_name or ("all" if name is None else name)
            self._sizes[(name, rows)] = _encoded_size(self._encoder, table.slice(0, rows), label, self._shape)
            self.encodes += 1
        return self._sizes[(name, rows)]

    def bytes(self, name, rows):
        """Bytes of one object of `rows` rows of `name`."""
        rows = round(rows)
        if rows <= 0:
            return 0
        sampled = self.sampled(name)
        if rows <= sampled and ((name, rows) in self._sizes or self.encodes < MAX_ENCODES):
            return self._size(name, rows)
        if not sampled:
            name, sampled = None, self._all.num_rows
        return self._size(name, sampled) * (rows / sampled) ** self.exponent
