"""CSV (RFC 4180): a header row, then `eventName,ts,profile.*,deviceInfo.*,eventProps.*`.

Each map group's columns are sorted by key, and a file's columns are the union of its own rows' keys,
so the sharder's choice of rows decides the header. Cells hold the value as text (see values.as_text);
a missing key and a null are both an empty cell. Lines end in CRLF, as RFC 4180 says; a cell is quoted
when it holds a comma, a quote or a line break, its quotes doubled (as the csv module's QUOTE_MINIMAL).

Cells are built by Arrow kernels from typed key columns (typed_maps), once per distinct map text, where
Arrow can parse the maps, and by Python's as_text otherwise; the two give the same bytes. A map group's
cells are joined once per distinct text too, so a line is joined from a few columns, not one per key.
A file larger than SLICE_BYTES is written a slice at a time: a first pass types each slice and keeps
its cells aside (transforms/formats/encoder_scratch.py), a second writes them under the header of the union of the keys.
"""

import csv
import io

import pyarrow as pa
import pyarrow.compute as pc

from transforms.arrow_text import holds_any, joined_bytes
from transforms.formats import Encoder
from transforms.formats.typed_maps import Distinct, as_strings, cell_texts, typed_columns
from transforms.formats.values import CHUNK_ROWS, SLICE_BYTES, as_text, parse_maps, slices, sorted_keys
from transforms.formats.encoder_scratch import Scratch

__all__ = ["CsvEncoder"]

_NEEDS_QUOTES = '[,"\r\n]'


def _quoted(strings):
    """Cells as written: quoted where needed, '' for null. Most columns (ids, numbers, names) hold no
    character that needs quotes, which one scan of the column's bytes tells without a per-cell step."""
    if not holds_any(strings, (b",", b'"', b"\r", b"\n")):
        return pc.fill_null(strings, "")
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(strings, '"', '""'), '"', "")
    return pc.fill_null(pc.if_else(pc.match_substring_regex(strings, _NEEDS_QUOTES), quoted, strings), "")


class _Maps:
    """A slice's map column: its distinct texts, typed by Arrow where it can (else parsed by Python)."""

    def __init__(self, column):
        self.distinct = Distinct(column)
        self.typed = typed_columns(self.distinct.values)
        self.parsed = parse_maps(self.distinct.values) if self.typed is None else None
        self.keys = list(self.typed) if self.typed is not None else sorted_keys(self.parsed)

    def cells(self):
        """Quoted cells of the slice's own keys, once per distinct text, as a dictionary array: a struct of
        one column per key, and each row's index into it (None when no text has a key)."""
        values = self.distinct.values
        if not self.keys:
            return None
        if self.typed is None:
            texts = [pa.array([as_text(m[key]) if key in m else None for m in self.parsed], pa.string())
                     for key in self.keys]
        else:
            texts = list(cell_texts(values, self.typed))
        struct = pa.StructArray.from_arrays([_quoted(t) for t in texts], names=self.keys)
        return pa.DictionaryArray.from_arrays(self.distinct.indices, struct)


def _joined(cells, keys, rows):
    """A slice's cells of one map group under the file's `keys`, joined by commas: built once per distinct
    text, then spread to the rows with one take ('' where the slice lacks a key)."""
    struct = None if cells is None else cells.dictionary
    own = set() if struct is None else {field.name for field in struct.type}
    if not own:
        return pa.repeat(pa.scalar("," * (len(keys) - 1)), rows)
    empty = pa.array([""] * len(struct), pa.string()) if len(own) < len(keys) else None
    per_text = pc.binary_join_element_wise(*(struct.field(key) if key in own else empty for key in keys), ",")
    return per_text.take(cells.indices)


class CsvEncoder(Encoder):
    extension = ".csv"

    def _header(self, fields, keys, out):
        header = []
        for field in fields:
            header += [f"{field.name}.{key}" for key in keys[field.name]] if field.kind == "map" else [field.name]
        text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        csv.writer(text, lineterminator="\r\n").writerow(header)
        text.detach()

    def write_file(self, rows, name, out):
        """The header needs the union of the file's keys, so a file larger than SLICE_BYTES is taken in
        slices twice: the first pass types each slice and keeps its cells in a scratch file, the second
        writes them under the file's header; memory then follows the slice."""
        fields = [self.shape.field(n) for n in self.shape.csv_order]
        whole = rows.nbytes <= SLICE_BYTES
        pieces = [rows] if whole else list(slices(rows))
        keys = {f.name: set() for f in fields if f.kind == "map"}
        scratch, kept = (None, []) if whole else (Scratch(), None)
        try:
            for piece in pieces:
                cells = {}
                for field_name, found in keys.items():
                    maps = _Maps(piece[self.shape.field(field_name).column])
                    found.update(maps.keys)
                    cells[field_name] = maps.cells()
                if whole:
                    kept.append(cells)
                else:
                    scratch.add(pa.table({n: c for n, c in cells.items() if c is not None} or {"_": [None]}))
            keys = {field_name: sorted(names) for field_name, names in keys.items()}
            self._header(fields, keys, out)
            if not whole:
                kept = ({n: t[n].combine_chunks() for n in t.column_names} for t in scratch.tables())
            for piece, cells in zip(pieces, kept):
                columns = []
                for field in fields:
                    if field.kind == "map":
                        if keys[field.name]:
                            columns.append(_joined(cells.get(field.name), keys[field.name], piece.num_rows))
                    else:
                        columns.append(_quoted(as_strings(piece[field.column].combine_chunks())))
                for start in range(0, piece.num_rows, CHUNK_ROWS):   # steps, so that gzip overlaps them
                    lines = pc.binary_join_element_wise(*(c.slice(start, CHUNK_ROWS) for c in columns), ",")
                    out.write(joined_bytes(pc.binary_join_element_wise(lines, "\r\n", "")))
        finally:
            if scratch is not None:
                scratch.close()
