"""CSV (RFC 4180): a header row, then `eventName,ts,profile.*,deviceInfo.*,eventProps.*`.

Each map group's columns are sorted by key, and a file's columns are the union of its own rows' keys,
so the sharder's choice of rows decides the header. Cells hold the value as text (see values.as_text);
a missing key and a null are both an empty cell. Lines end in CRLF, as RFC 4180 says.
"""

import csv
import io

from transforms.formats import Encoder
from transforms.formats.values import as_text, chunks, parse_maps, sorted_keys

__all__ = ["CsvEncoder"]


class CsvEncoder(Encoder):
    extension = ".csv"

    def write_file(self, rows, name, out):
        fields = [self.shape.field(n) for n in self.shape.csv_order]
        keys = {f.name: sorted_keys(parse_maps(rows[f.column])) for f in fields if f.kind == "map"}
        header = []
        for field in fields:
            header += [f"{field.name}.{key}" for key in keys[field.name]] if field.kind == "map" else [field.name]
        text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(header)
        for chunk in chunks(rows):
            columns = []
            for field in fields:
                if field.kind == "map":
                    maps = parse_maps(chunk[field.column])
                    columns += [[as_text(m.get(key)) for m in maps] for key in keys[field.name]]
                else:
                    columns.append([as_text(v) for v in chunk[field.column].to_pylist()])
            writer.writerows(zip(*columns))
        text.detach()
