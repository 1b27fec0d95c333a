"""The event names an account's store holds, for the console's event picker.

Only the capture dates an export may still cover (the last 60 days) are read. Parquet files give up their
`event_name` column alone; other formats are read whole. Each file's names are remembered by path, size
and modification time (store files are written once), so only new files are read on the next call.
"""

import datetime as dt
import functools
import os

import pyarrow.compute as pc
import pyarrow.parquet as pq

from control.exports import ONE_TIME_HORIZON
from transforms.sources.readers import read_split
from transforms.records import EVENTS
from transforms.sources.store_files import list_splits, store_format

__all__ = ["event_names"]

_FILES_REMEMBERED = 4096   # a 60-day store of hourly folders with a few files each


@functools.lru_cache(maxsize=_FILES_REMEMBERED)
def _names_in(path, _size, _mtime):
    if store_format(path) == "parquet":
        column = pq.read_table(path, columns=["event_name"]).column("event_name")
        return frozenset(pc.unique(column).to_pylist()) - {None}
    names = set()
    for table in read_split(path, EVENTS, "captured_at", 0, 2 ** 62, rejects=[]):
        names.update(pc.unique(table.column("event_name")).to_pylist())
    return frozenset(names) - {None}


def _identity(path):
    if "://" in path:
        return path, 0, 0
    stat = os.stat(path)
    return path, stat.st_size, stat.st_mtime_ns


def event_names(store_root, now=None):
    """Sorted distinct event names captured in the last 60 days; [] when the account has no event store."""
    if not store_root:
        return []
    oldest = ((now or dt.datetime.now(dt.timezone.utc)) - ONE_TIME_HORIZON).date().isoformat()
    names = set()
    for path in list_splits(store_root, EVENTS, lambda day, _hour: day >= oldest):
        names.update(_names_in(*_identity(path)))
    return sorted(names)
