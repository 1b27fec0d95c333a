"""Count what an export wrote by reading its files back, independently of what the exporter reports.

Rows per format:
* json: non-empty lines; our files start with one line holding the event name (`header_lines=1`).
* csv: records by the csv module (a quoted cell may hold newlines), minus one header row per file.
* xml: occurrences of `<Event>` at a line start (every record starts a line; text never holds a raw `<`,
  and a profile key named `Event` is an element inside `<profile>`, never at a line start).
* parquet: the footer's row count.  avro: the sum of the blocks' record counts.
Gzip text files are also decompressed to give their uncompressed size.
"""

import csv
import gzip
import os

__all__ = ["count_outputs", "data_files"]

_CHUNK = 1 << 20


def data_files(folder):
    """Every regular file below `folder` except our manifest (`*-manifest.json`), sorted."""
    found = []
    for root, _, names in os.walk(folder):
        for name in names:
            if not name.endswith("-manifest.json"):
                found.append(os.path.join(root, name))
    return sorted(found)


def _lines_and_size(path):
    lines, size, last = 0, 0, b"\n"
    with gzip.open(path, "rb") as f:
        while True:
            chunk = f.read(_CHUNK)
            if not chunk:
                break
            lines += chunk.count(b"\n")
            size += len(chunk)
            last = chunk[-1:]
    if last != b"\n":
        lines += 1
    return lines, size


def _count_substring(path, needle):
    count, size, tail = 0, 0, b""
    with gzip.open(path, "rb") as f:
        while True:
            chunk = f.read(_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            window = tail + chunk
            count += window.count(needle)
            # keep the last len-1 bytes, which cannot hold a whole needle, for a match across chunks
            tail = window[-(len(needle) - 1):]
    return count, size


def _csv_rows(path):
    with gzip.open(path, "rt", encoding="utf-8", newline="") as text:
        rows = sum(1 for _ in csv.reader(text))
    with gzip.open(path, "rb") as raw:
        size = sum(len(chunk) for chunk in iter(lambda: raw.read(_CHUNK), b""))
    return rows, size


def count_file(path, fmt, header_lines=0):
    """(rows, uncompressed bytes or None) of one output file."""
    if fmt == "json":
        lines, size = _lines_and_size(path)
        return lines - header_lines, size
    if fmt == "csv":
        rows, size = _csv_rows(path)
        return rows - 1, size
    if fmt == "xml":
        return _count_substring(path, b"\n<Event>")
    if fmt == "parquet":
        import pyarrow.parquet as pq
        return pq.ParquetFile(path).metadata.num_rows, None
    if fmt == "avro":
        import fastavro
        with open(path, "rb") as f:
            return sum(block.num_records for block in fastavro.block_reader(f)), None
    raise ValueError(f"cannot count {fmt!r}")


def count_outputs(folder, fmt, header_lines=0):
    """{"files", "rows", "output_bytes", "uncompressed_bytes"} over `folder`'s data files."""
    files = data_files(folder)
    rows, stored, plain = 0, 0, 0
    for path in files:
        n, size = count_file(path, fmt, header_lines)
        rows += n
        stored += os.path.getsize(path)
        plain = None if size is None or plain is None else plain + size
    return {"files": len(files), "rows": rows, "output_bytes": stored,
            "uncompressed_bytes": plain if files else None}
