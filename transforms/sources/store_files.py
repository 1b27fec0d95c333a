"""Finding the store files a window needs, on a local path or s3:// alike (through Beam's FileSystems, which
the launcher configures from the pipeline's own options before it lists: Beam's S3Options reach the
platform's S3).

Layout: `<root>/<folder>=YYYY-MM-DD/[<hour folder>=HH/]*.{parquet,avro,jsonl,jsonl.gz}`. Names starting
with '_' or '.' (`_SUCCESS`, `.crc`, hidden files) are ignored; a data file outside that layout is an
error, because skipping it silently would lose rows, and so is any other file in a partition a window
reads (`x.json`, `x.parquet.gz`) and an empty (0-byte) data file.
"""

import dataclasses
import datetime as dt
import glob
import os
import re

from apache_beam.io.filesystems import FileSystems

from transforms.errors import SourceError

__all__ = ["list_splits", "list_split_sizes", "store_format", "locate", "Located", "STORE_SUFFIXES"]

STORE_SUFFIXES = {".parquet": "parquet", ".avro": "avro", ".jsonl": "jsonl", ".jsonl.gz": "jsonl"}
_HOUR_MS, _DAY_MS = 3_600_000, 86_400_000


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


@dataclasses.dataclass(frozen=True)
class Located:
    """Where a store file sits. `name`: its path below the store root (`captured_date=2026-11-20/part-0.avro`),
    the only name of it a customer may see; `folder`: its date (and hour) folder; [`start_ms`, `end_ms`):
    the captures that folder may hold, epoch ms UTC. A file outside the layout (which only a direct caller of
    the readers can pass) has its base name and no folder."""

    name: str
    folder: str = None
    start_ms: int = None
    end_ms: int = None


def locate(path, shape):
    found = re.search(_folder_pattern(shape) + "$", path)
    if not found:
        return Located(path.rsplit("/", 1)[-1])
    day = dt.datetime.strptime(found.group(1), "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
    start = int(day.timestamp() * 1000) + int(found.group(2) or 0) * _HOUR_MS
    name = found.group(0)
    return Located(name, name.rsplit("/", 1)[0], start, start + (_DAY_MS if found.group(2) is None else _HOUR_MS))


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
    return [path for path, _ in list_split_sizes(root, shape, may_hold)]


def list_split_sizes(root, shape, may_hold):
    """list_splits' files as sorted (path, size in bytes) pairs, the sizes from the listing itself."""
    _check_root(root)
    root = root.rstrip("/")
    folder = re.compile(_folder_pattern(shape))
    try:
        matches = FileSystems.match([f"{glob.escape(root)}/**"])[0].metadata_list
    except Exception as error:  # Beam wraps every filesystem failure in its own BeamIOError
        raise SourceError(f"--source {root!r} cannot be listed: {error}") from None
    if not matches and root.startswith("s3://"):   # Beam lists a missing prefix as empty
        raise SourceError(f"--source {root!r} holds no objects: check the bucket and path, and that Beam's "
                          "--s3_endpoint_url (and --s3_region_name) point at the platform's S3 that holds it")
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
        splits.append((path, metadata.size_in_bytes))
    return sorted(splits)
