"""Parquet: `ts`, `eventName`, then one struct column per map (`profile`, `deviceInfo`, `eventProps`).

A struct's fields are the file's keys, sorted; a field is typed when all of its non-null values share
one JSON type (bool; int64; double when any number has a fraction; string), and string otherwise, with
non-string values as JSON text (so is an integer beyond int64, to keep it exact). Parquet cannot store
a struct without fields, so a map that is empty in every row of a file is left out of that file.
Compression is inside the file (--parquet_codec; gzip at level 3).
Min/max statistics are kept for numbers, booleans, `ts` and `eventName`, not for free text.
"""

import pyarrow as pa
import pyarrow.parquet as pq

from transforms.formats.compression import Compression
from transforms.formats import Encoder
from transforms.formats.parquet_slices import write_sliced
from transforms.formats.typed_maps import Distinct, typed_columns
from transforms.formats.values import as_text, is_int64, parse_maps, sorted_keys

__all__ = ["ParquetEncoder", "typed_struct"]

# Arrow's gzip default is level 9, slow on dictionary-index pages for little gain; level 3 costs far less
# CPU than 6 for a few percent more bytes (docs/performance.md, benchmarks/README.md).
_LEVELS = {"gzip": 3}
# Past Arrow's 1 MiB default, a column of ids or emails falls back to plain encoding mid-column, which is
# slower to compress and much bigger; 4 MiB keeps a file's worth dictionary-encoded (at most 4 MiB held
# per column while writing).
DICTIONARY_PAGE_BYTES = 4 << 20
WHOLE_BYTES = 32 << 20     # rows whose Arrow buffers are larger are written in slices (parquet_slices)


def _common_type(values):
    present = [v for v in values if v is not None]
    kinds = {type(v) for v in present}
    if kinds == {bool}:
        return pa.bool_()
    if kinds and kinds <= {int, float} and not any(type(v) is int and not is_int64(v) for v in present):
        return pa.int64() if kinds == {int} else pa.float64()
    return pa.string()


def typed_struct(maps):
    """List of dicts -> StructArray with one typed child per key, or None when no row has a key."""
    keys = sorted_keys(maps)
    if not keys:
        return None
    children = []
    for key in keys:
        values = [m.get(key) for m in maps]
        kind = _common_type(values)
        if kind == pa.string():
            values = [None if v is None else as_text(v) for v in values]
        elif kind == pa.float64():
            values = [None if v is None else float(v) for v in values]
        children.append(pa.array(values, kind))
    return pa.StructArray.from_arrays(children, names=keys)


def distinct_struct(column):
    """(typed struct of each distinct text of a map column, or None when no text has a key; the Distinct):
    Arrow's parse where it can decide, the Python rule otherwise (a value's type is the same whichever
    row holds it)."""
    distinct = Distinct(column)
    typed = typed_columns(distinct.values)
    if typed is None:
        return typed_struct(parse_maps(distinct.values)), distinct
    return (pa.StructArray.from_arrays(list(typed.values()), names=list(typed)) if typed else None), distinct


def _struct(column):
    """Typed struct of a map column, one entry per row."""
    struct, distinct = distinct_struct(column)
    return None if struct is None else distinct.per_row(struct)


class ParquetEncoder(Encoder):
    extension = ".parquet"
    compression = Compression.NONE

    def table(self, rows):
        columns, names = [], []
        for field in self.shape.fields:
            if field.kind == "map":
                column = _struct(rows[field.column])
                if column is None:
                    continue
            else:
                column = rows[field.column]
            columns.append(column)
            names.append(field.name)
        return pa.table(columns, names=names)

    def _options(self, schema):
        return {"compression": self.parquet_codec, "compression_level": _LEVELS.get(self.parquet_codec),
                "dictionary_pagesize_limit": DICTIONARY_PAGE_BYTES, "write_statistics": _statistics_columns(schema)}

    def write_file(self, rows, name, out):
        """A file whose rows' Arrow buffers exceed WHOLE_BYTES is written a slice at a time (parquet_slices),
        so memory follows the slice; a smaller one is typed and written whole."""
        if rows.nbytes > WHOLE_BYTES:
            write_sliced(rows, self.shape, distinct_struct, lambda schema: pq.ParquetWriter(out, schema, **self._options(schema)))
            return
        table = self.table(rows)
        pq.write_table(table, out, **self._options(table.schema))


def _statistics_columns(schema, prefix=""):
    """Leaf columns that get min/max statistics: all but free text beyond the partition name, whose
    statistics would repeat the longest values (a 3 KB value costs 12 KB) and help no reader prune."""
    columns = []
    for field in schema:
        path = prefix + field.name
        if pa.types.is_struct(field.type):
            columns += _statistics_columns(pa.schema(list(field.type)), path + ".")
        elif not pa.types.is_string(field.type) or path == "eventName":
            columns.append(path)
    return columns
