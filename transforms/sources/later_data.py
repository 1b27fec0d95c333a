"""Later data beyond the capture ceiling: the records of an event-time window filed where the run does not read.

A run with a capture ceiling (`--captured_before`) reads the store folders that start before it and
leaves out, as later data, their records captured at or after it (placement.py). An event-time window's
records can also have been captured long after the ceiling (an offline SDK's queue), into folders that
start at or after it, which the run does not read for rows. Its reconciliation counts them all the same:
here each file of such a folder is read for as little as it takes to count the records that the run
would call later data if it read the folder (placement.py decides, so "later" means the same in both):
placed in time in their own folder, with a window time in the window, of a selected event name. Nothing
of these folders is exported or rejected: their bad records belong to the runs that read them.

Parquet is read in three columns (name, event and capture time), skipping the row groups whose statistics
put every event time outside the window; JSON Lines and Avro must be parsed whole, by the run's own readers.
"""

import pyarrow as pa

from transforms.sources.placement import EPOCH_END_MS, Placement
from transforms.sources.readers import cast_batch, parquet_tables, reading, record_tables
from transforms.sources.store_files import list_splits, locate, store_format

__all__ = ["list_store", "count_later"]


def list_store(root, shape, window):
    """(sorted paths of the files `window` reads, sorted paths of the files it only counts later data in),
    from one listing of the store."""
    reads, later = window.partition_filter(shape), window.later_filter(shape)
    if later is None:
        return list_splits(root, shape, reads), []
    paths = list_splits(root, shape, lambda day, hour: reads(day, hour) or later(day, hour))
    beyond = [locate(path, shape).start_ms >= window.captured_before_ms for path in paths]
    return ([path for path, out in zip(paths, beyond) if not out], [path for path, out in zip(paths, beyond) if out])


def count_later(path, shape, window, event_names=(), latest=EPOCH_END_MS):
    """The records of `window` (of `event_names`, when given) in store file `path`, whose folder starts at
    or after the window's capture ceiling: later data, all of them."""
    placement = Placement(shape, locate(path, shape), shape.window_column(window.basis), window.start_ms,
                          window.end_ms, [], tuple(event_names), window.captured_before_ms, latest=latest,
                          beyond_ceiling=True)
    schema = shape.store_schema
    if store_format(path) == "parquet":
        names = list(dict.fromkeys(("event_name", placement.event_column, placement.capture_column)))
        schema = pa.schema([schema.field(name) for name in names])
        tables = parquet_tables(path, names, lambda source: _row_groups(source, placement))
    else:
        tables = record_tables(path, schema, placement)
    with reading(path):
        for table in tables:
            placement.judge(table, lambda raw: cast_batch(path, raw, schema))
    return placement.later


def _row_groups(source, placement):
    """The row groups of a Parquet file whose window times may fall in the window: those without integer
    statistics of the window column, and those whose range meets it (a null or impossible time places no
    record in it)."""
    column = placement.window_column
    if not pa.types.is_integer(source.schema_arrow.field(column).type):
        return None
    metadata = source.metadata
    index = next(i for i in range(metadata.num_columns) if metadata.schema.column(i).path == column)
    groups = []
    for group in range(metadata.num_row_groups):
        stats = metadata.row_group(group).column(index).statistics
        outside = stats is not None and stats.has_min_max and (
            stats.min >= placement.end_ms or placement.start_ms is not None and stats.max < placement.start_ms)
        if not outside:
            groups.append(group)
    return groups
