"""Finding the store files a window needs, on a local path or s3:// alike (through Beam's FileSystems).

Layout: `<root>/<folder>=YYYY-MM-DD/[<hour folder>=HH/]*.{parquet,avro,jsonl,jsonl.gz}`. Names starting
with '_' or '.' (`_SUCCESS`, `.crc`, hidden files) are ignored; a data file outside that layout is an
error, because skipping it silently would lose rows, and so is any other file in a partition a window
reads (`x.json`, `x.parquet.gz`) and an empty (0-byte) data file.
"""

import datetime as dt
import glob
import os
import re

from apache_beam.io.filesystems import FileSystems

from transforms.errors import SourceError

__all__ = ["list_splits", "store_format", "folder_start_ms", "STORE_SUFFIXES"]

STORE_SUFFIXES = {".parquet": "parquet", ".avro": "avro", ".jsonl": "jsonl", ".jsonl.gz": "jsonl"}


def store_format(path):
    """'parquet' | 'avro' | 'jsonl' for a store file, None for files that are not data."""
    base = path.rsplit("/", 1)[-1]
    if base.startswith((".", "_")):
        return None
    for suffix, fmt in STORE_SUFFIXES.items():
        if base.endswith(suffix):
            return fmt
    return None


def _folder_pattern(shape):
    return (rf"{re.escape(shape.partition_folder)}=(\d{{4}}-\d{{2}}-\d{{2}})"
            rf"(?:/{re.escape(shape.hour_folder)}=(\d{{2}}))?/[^/]+")


def folder_start_ms(path, shape):
    """The first instant (epoch ms, UTC) of the date or hour folder that holds store file `path` (None for a
    file outside the layout, which only a direct caller of the readers can pass)."""
    found = re.search(_folder_pattern(shape) + "$", path)
    if not found:
        return None
    day = dt.datetime.strptime(found.group(1), "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
    return int(day.timestamp() * 1000) + int(found.group(2) or 0) * 3_600_000


def _check_root(root):
    if root.startswith("s3://"):
        return
    if "://" in root:
        raise SourceError(f"--source {root!r}: only local folders and s3:// stores are supported")
    if not os.path.isdir(root):
        raise SourceError(f"--source {root!r} is not a readable folder; point it at the event store root")
    if not os.access(root, os.R_OK | os.X_OK):
        raise SourceError(f"--source {root!r} cannot be read by this user; fix its permissions")


def list_splits(root, shape, may_hold):
    """Sorted paths of the store files whose folders pass `may_hold(date_text, hour_or_None)`."""
    _check_root(root)
    root = root.rstrip("/")
    folder = re.compile(_folder_pattern(shape))
    try:
        matches = FileSystems.match([f"{glob.escape(root)}/**"])[0].metadata_list
    except Exception as error:  # Beam wraps every filesystem failure in its own BeamIOError
        raise SourceError(f"--source {root!r} cannot be listed: {error}") from None
    splits = []
    for metadata in matches:
        path = metadata.path
        fmt = store_format(path)
        if fmt is None and path.rsplit("/", 1)[-1].startswith((".", "_")):
            continue
        found = folder.fullmatch(path[len(root) + 1:])
        if not found:
            if fmt is None:   # not data and outside the partitions: a README at the root, say
                continue
            raise SourceError(
                f"store file {path!r} is not under {shape.partition_folder}=YYYY-MM-DD/"
                f"[{shape.hour_folder}=HH/]; move it or remove it")
        hour = None if found.group(2) is None else int(found.group(2))
        if not may_hold(found.group(1), hour):
            continue
        if fmt is None:
            raise SourceError(f"store file {path!r} is not a .parquet, .avro, .jsonl or .jsonl.gz file, so its rows "
                              "cannot be read; convert or rename it, or move it out of the store (names starting "
                              "with '.' or '_' are ignored)")
        if metadata.size_in_bytes == 0:
            raise SourceError(f"store file {path!r} is empty (0 bytes): a "
                              "writer that died or is still writing leaves such files; complete, replace or remove "
                              "it, then run the export again")
        splits.append(path)
    return sorted(splits)
