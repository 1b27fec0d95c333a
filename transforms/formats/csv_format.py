"""CSV (RFC 4180): a header row, then `eventName,ts,profile.*,deviceInfo.*,eventProps.*`.

Each map group's columns are sorted by key, and a file's columns are the union of its own rows' keys,
so the sharder's choice of rows decides the header. Cells hold the value as text (see values.as_text);
a missing key and a null are both an empty cell. Lines end in CRLF, as RFC 4180 says; a cell is quoted
when it holds a comma, a quote or a line break, its quotes doubled (as the csv module's QUOTE_MINIMAL).

Cells are built by Arrow kernels from typed key columns (typed_maps), once per distinct map text, where
Arrow can parse the maps, and by the csv module otherwise; the two give the same bytes.
"""

import csv
import io

import pyarrow.compute as pc

from transforms.arrow_text import holds_any, joined_bytes
from transforms.formats import Encoder
from transforms.formats.typed_maps import Distinct, as_strings, cell_texts, typed_columns
from transforms.formats.values import as_text, chunks, parse_maps, sorted_keys

__all__ = ["CsvEncoder"]

_NEEDS_QUOTES = '[,"\r\n]'


def _cells(values):
    """Cell texts; strings (most cells) pass without a call."""
    return [v if type(v) is str else as_text(v) for v in values]


def _quoted(strings):
    """Cells as written: quoted where needed, '' for null. Most columns (ids, numbers, names) hold no
    character that needs quotes, which one scan of the column's bytes tells without a per-cell step."""
    if not holds_any(strings, (b",", b'"', b"\r", b"\n")):
        return pc.fill_null(strings, "")
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(strings, '"', '""'), '"', "")
    return pc.fill_null(pc.if_else(pc.match_substring_regex(strings, _NEEDS_QUOTES), quoted, strings), "")


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
        fields = [self.shape.field(n) for n in self.shape.csv_order]
        distinct = {f.name: Distinct(rows[f.column]) for f in fields if f.kind == "map"}
        typed = {name: typed_columns(values.values) for name, values in distinct.items()}
        if any(columns is None for columns in typed.values()):
            return self._write_rows(rows, fields, out)
        self._header(fields, {n: list(columns) for n, columns in typed.items()}, out)
        cells = []
        for field in fields:
            if field.kind == "map":
                maps = distinct[field.name]
                cells += [maps.per_row(_quoted(text)) for text in cell_texts(maps.values, typed[field.name])]
            else:
                cells.append(_quoted(as_strings(rows[field.column].combine_chunks())))
        for start in range(0, rows.num_rows, 65536):
            lines = pc.binary_join_element_wise(*(c.slice(start, 65536) for c in cells), ",")
            out.write(joined_bytes(pc.binary_join_element_wise(lines, "\r\n", "")))

    def _write_rows(self, rows, fields, out):
        """The csv module, row by row: for maps Arrow cannot type (mixed types, nested values)."""
        keys = {f.name: sorted_keys(parse_maps(rows[f.column])) for f in fields if f.kind == "map"}
        self._header(fields, keys, out)
        text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        writer = csv.writer(text, lineterminator="\r\n")
        for chunk in chunks(rows):
            columns = []
            for field in fields:
                if field.kind == "map":
                    maps = parse_maps(chunk[field.column])
                    columns += [_cells([m.get(key) for m in maps]) for key in keys[field.name]]
                else:
                    columns.append(_cells(chunk[field.column].to_pylist()))
            writer.writerows(zip(*columns))
        text.detach()
