"""How many records of a store fall in a window, per (event name, day), without reading the records.

A Parquet file is judged by its footer first: a row group whose time statistics lie wholly outside the
window is skipped unread; of one wholly inside it only the name column is read (dictionary-encoded: a
few bits a row); of one across an edge the name and time columns. That is a few percent of the file's
bytes, and the counts are exact for every record in the window; records the export would reject (about
none in a healthy store) are counted too. A file in another store format (Avro, JSON Lines) has no
footer: a small store's are read whole (exact), a large store's are scaled by their size from one file
per suffix read whole for its records per stored byte and its mix of names.

On s3:// a file is read in ranged GETs of what the reader asks for (its footer, then the column chunks),
never whole (transforms/runtime/platform_s3.py's open_ranged).
"""

import collections

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from transforms.runtime.platform_s3 import is_s3, open_ranged
from transforms.sources.readers import read_split
from transforms.sources.store_files import locate

__all__ = ["count_file", "read_counts", "profile_counts", "scaled_counts", "open_store_file"]

_DAY_MS = 86_400_000
NONE, SOME, ALL = "none", "some", "all"


def open_store_file(path, size):
    """A store file as a seekable binary file: local, or s3:// read in ranged GETs."""
    return open_ranged(path, size) if is_s3(path) else open(path, "rb")


def _statistics(metadata, group, name):
    """(min, max) of column `name` in row group `group` as integers, or None when the footer lacks them."""
    row_group = metadata.row_group(group)
    for index in range(row_group.num_columns):
        column = row_group.column(index)
        if column.path_in_schema == name:
            stats = column.statistics
            if stats is None or not stats.has_min_max or not isinstance(stats.min, int):
                return None
            return stats.min, stats.max
    return None


def _overlap(metadata, group, window):
    """NONE when the footer proves row group `group` holds no record of `window`, ALL when every record
    with a time lies in it, else SOME (or when the footer does not say)."""
    moment = _statistics(metadata, group, window.column)
    if moment is None:
        return SOME
    if moment[1] < window.start_ms or moment[0] >= window.end_ms:
        return NONE
    return ALL if window.start_ms <= moment[0] and moment[1] < window.end_ms else SOME


def _as_ms(column):
    return pc.cast(column, pa.int64()) if pa.types.is_timestamp(column.type) else column


def _in_window(table, window):
    moment = _as_ms(table[window.column]).to_numpy(zero_copy_only=False)
    return (moment >= window.start_ms) & (moment < window.end_ms)


def _group_counts(table, window, name_column, day=None):
    """Counter {(name, UTC day number): records} of the records of `table` in `window`. Counted on the
    name column's dictionary codes with numpy, so no name text is made per row. `day`: every row's day,
    when the table holds only names, all in the window."""
    keep = np.ones(table.num_rows, bool) if day is not None else _in_window(table, window)
    names = table[name_column].combine_chunks()
    if not pa.types.is_dictionary(names.type):
        names = names.dictionary_encode()
    codes = pc.fill_null(names.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)[keep]
    if day is not None:
        days = np.full(len(codes), day, np.int64)
    else:
        days = _as_ms(table[window.day_column]).to_numpy(zero_copy_only=False)[keep]
        days = np.nan_to_num(days, nan=window.start_ms).astype(np.int64) // _DAY_MS   # no event time: a reject
    if not len(codes):
        return collections.Counter()
    low, span = days.min(), days.max() - days.min() + 1
    keys, counts = np.unique((codes + 1) * span + (days - low), return_counts=True)
    dictionary = names.dictionary.to_pylist()
    found = collections.Counter()
    for key, count in zip(keys.tolist(), counts.tolist()):
        code, day = divmod(key, span)
        name = dictionary[code - 1] if code else None
        if window.wanted is None or name in window.wanted:
            found[(name, int(low) + day)] += count
    return found


def count_file(path, size, window, shape):
    """Counter {(name, day): records} of an events Parquet store file in `window` (a CountWindow); for a
    profile store, the table of (identity, latest update) in the window instead.

    A row group wholly inside the window gives up its names alone, and its records count on the file's
    folder day (their own day differs only for late or early events, which changes how bytes spread
    over a name's days, rarely which days it has)."""
    name_column = shape.name_column or shape.id_column
    columns = list(dict.fromkeys([name_column, window.column, window.day_column]))
    counts, tables = collections.Counter(), []
    folder = locate(path, shape).start_ms
    with open_store_file(path, size) as raw:
        source = pq.ParquetFile(raw, read_dictionary=[name_column] if shape.name_column else None)
        for group in range(source.metadata.num_row_groups):
            overlap = _overlap(source.metadata, group, window)
            if overlap == NONE:
                continue
            if not shape.name_column:
                tables.append(_latest(source.read_row_group(group, columns=columns), window, name_column))
            elif overlap == ALL and folder is not None:
                table = source.read_row_group(group, columns=[name_column])
                counts += _group_counts(table, window, name_column, day=folder // _DAY_MS)
            else:
                counts += _group_counts(source.read_row_group(group, columns=columns), window, name_column)
    return counts if shape.name_column else tables


def _latest(table, window, id_column):
    """(identity, latest_max) of the profile versions of `table` in `window`."""
    keep = pa.array(_in_window(table, window))
    versions = pa.table({"identity": table[id_column], "latest": _as_ms(table[window.column])}).filter(keep)
    return versions.group_by("identity").aggregate([("latest", "max")])


def profile_counts(tables, fixed_name):
    """Counter {(fixed name, day): profiles}: each identity once, on the day of its latest version."""
    if not tables:
        return collections.Counter()
    latest = pa.concat_tables(tables).group_by("identity").aggregate([("latest_max", "max")])
    days = pc.divide(latest["latest_max_max"], _DAY_MS).value_counts()
    return collections.Counter({(fixed_name, day): n for day, n in zip(days.field("values").to_pylist(),
                                                                       days.field("counts").to_pylist())})


def read_counts(paths_and_sizes, window, shape):
    """count_file's answer for files without footers, read whole through the pipeline's reader (a small
    store's Avro or JSON Lines: exact, and its bad records left out as the export leaves them)."""
    name_column = shape.name_column or shape.id_column
    counts, tables = collections.Counter(), []
    for path, _ in paths_and_sizes:
        for table in read_split(path, shape, window.column, window.start_ms, window.end_ms, rejects=[],
                                event_names=sorted(window.wanted or ())):
            if shape.name_column:
                counts += _group_counts(table, window, name_column)
            else:
                tables.append(_latest(table, window, name_column))
    return counts if shape.name_column else tables


def scaled_counts(paths_and_sizes, window, shape):
    """Counter {(name, day): records} of files of a store format without footers. The largest file is read
    whole for its records per byte and its mix of names; each file then holds its size's worth of records,
    in that mix, captured evenly over its folder, of which the share inside the window counts, on the
    folder's day (so an event-time window's edges and late events are approximate)."""
    sample_path, sample_size = max(paths_and_sizes, key=lambda item: item[1])
    names = collections.Counter()
    for table in read_split(sample_path, shape, window.column, None, 2 ** 62, rejects=[]):
        if shape.name_column:
            counted = pc.value_counts(table[shape.name_column])
            names.update(dict(zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist())))
        else:
            names[shape.fixed_name] += table.num_rows
    total = sum(names.values())
    per_byte = total / sample_size
    mix = {name: n / total for name, n in names.items() if window.wanted is None or name in window.wanted}
    counts = collections.Counter()
    for path, size in paths_and_sizes:
        located = locate(path, shape)
        if located.start_ms is None:
            continue
        overlap = max(0, min(located.end_ms, window.end_ms) - max(located.start_ms, window.start_ms))
        records = size * per_byte * overlap / (located.end_ms - located.start_ms)
        for name, share in mix.items():
            counts[(name, located.start_ms // _DAY_MS)] += records * share
    return collections.Counter({key: int(round(n)) for key, n in counts.items() if round(n)})
