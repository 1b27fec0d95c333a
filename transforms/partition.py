"""Splitting batches by (name, date), and the order of rows inside a file.

Time parts come from pyarrow's component kernels (year, month, ...) on a zoned timestamp, which are
fast, unlike strftime.
"""

import pyarrow as pa
import pyarrow.compute as pc

from transforms.records import DAY, TS

__all__ = ["add_time_parts", "split_by_partition", "sort_rows"]


def add_time_parts(table, time_column, timezone):
    """Append TS (int64 yyyyMMddHHmmss) and DAY (int32 yyyymmdd) of `time_column` in `timezone`."""
    stamps = pc.cast(table[time_column], pa.timestamp("ms", tz="UTC")).cast(pa.timestamp("ms", tz=timezone))
    parts = [pc.cast(fn(stamps), pa.int64()) for fn in (pc.year, pc.month, pc.day, pc.hour, pc.minute, pc.second)]
    year, month, day, hour, minute, second = parts
    date = pc.add(pc.add(pc.multiply(year, 10000), pc.multiply(month, 100)), day)
    clock = pc.add(pc.add(pc.multiply(hour, 10000), pc.multiply(minute, 100)), second)
    ts = pc.add(pc.multiply(date, 1000000), clock)
    return table.append_column(TS, ts).append_column(DAY, pc.cast(date, pa.int32()))


def sort_rows(table, shape):
    """The stable order inside a file: event (or update) time, then the record id."""
    return table.sort_by([(shape.event_time_column(), "ascending"), (shape.id_column, "ascending")])


def split_by_partition(table, shape):
    """Yield ((name, yyyymmdd), table) for each partition present in `table`."""
    if not shape.name_column:
        names = None
        table = table.sort_by([(DAY, "ascending")])
    else:
        table = table.sort_by([(shape.name_column, "ascending"), (DAY, "ascending")])
        names = table[shape.name_column].combine_chunks()
    days = table[DAY].combine_chunks()
    changed = pc.not_equal(days[1:], days[:-1])
    if names is not None:
        changed = pc.or_(changed, pc.not_equal(names[1:], names[:-1]))
    starts = [0] + [i + 1 for i in pc.indices_nonzero(changed).to_pylist()] + [table.num_rows]
    for begin, end in zip(starts, starts[1:]):
        name = shape.fixed_name if names is None else names[begin].as_py()
        yield (name, days[begin].as_py()), table.slice(begin, end - begin)
