"""Splitting batches by (name, date), and the order of rows inside a file.

Time parts come from pyarrow's component kernels (year, month, ...) on a zoned timestamp, which are
fast, unlike strftime.
"""

import pyarrow as pa
import pyarrow.compute as pc

from transforms.records import DAY, TS

__all__ = ["add_time_parts", "split_by_partition", "file_order"]


def add_time_parts(table, time_column, timezone):
    """Append TS (int64 yyyyMMddHHmmss) and DAY (int32 yyyymmdd) of `time_column` in `timezone`."""
    stamps = pc.cast(table[time_column], pa.timestamp("ms", tz="UTC")).cast(pa.timestamp("ms", tz=timezone))
    parts = [pc.cast(fn(stamps), pa.int64()) for fn in (pc.year, pc.month, pc.day, pc.hour, pc.minute, pc.second)]
    year, month, day, hour, minute, second = parts
    date = pc.add(pc.add(pc.multiply(year, 10000), pc.multiply(month, 100)), day)
    clock = pc.add(pc.add(pc.multiply(hour, 10000), pc.multiply(minute, 100)), second)
    ts = pc.add(pc.multiply(date, 1000000), clock)
    return table.append_column(TS, ts).append_column(DAY, pc.cast(date, pa.int32()))


def file_order(shape, column_names):
    """The order of rows inside a file: event (or update) time, then the record id, then every other
    column, so that even rows sharing an id come out in the same order on every run."""
    first = [shape.event_time_column(), shape.id_column]
    return [(name, "ascending") for name in first + [n for n in column_names if n not in first]]


def split_by_partition(table, shape):
    """Yield ((name, yyyymmdd), table) for each partition present in `table`, each in file order."""
    partition_keys = [(DAY, "ascending")]
    if shape.name_column:
        partition_keys.insert(0, (shape.name_column, "ascending"))
    table = table.sort_by(partition_keys + file_order(shape, table.column_names))
    names = table[shape.name_column].combine_chunks() if shape.name_column else None
    days = table[DAY].combine_chunks()
    changed = pc.not_equal(days[1:], days[:-1])
    if names is not None:
        changed = pc.or_(changed, pc.not_equal(names[1:], names[:-1]))
    starts = [0] + [i + 1 for i in pc.indices_nonzero(changed).to_pylist()] + [table.num_rows]
    for begin, end in zip(starts, starts[1:]):
        name = shape.fixed_name if names is None else names[begin].as_py()
        yield (name, days[begin].as_py()), table.slice(begin, end - begin)
