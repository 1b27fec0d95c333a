"""Reading one store file into canonical Arrow tables, with bad records set aside, never dropped.

Parquet is read batch-wise and projected; Avro and JSON Lines arrive as Python records (their readers
give nothing better) and are turned into Arrow batches of `BATCH_ROWS`. Every reader ends in the same
validation, which yields good rows as a table and bad rows as `Reject`s with a reason.

A file that cannot be read to its end (garbage, a truncated or damaged block, a file that vanished after
the listing) fails the run with its name and the fault: its records cannot be told apart or counted, so
neither setting it aside nor going on without it could show that nothing was lost.
"""

import datetime as dt
import gzip
import io
import zlib

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.filesystem import CompressionTypes

from transforms.errors import SourceError
from transforms.sources.store_files import folder_start_ms, store_format
from transforms.sources.validation import reject as _reject, validate

__all__ = ["read_split", "BATCH_ROWS"]

# Rows per Arrow batch: big enough that per-batch overhead vanishes, small enough to keep memory flat.
BATCH_ROWS = 65536
# And, from Parquet, about this many bytes (as Parquet counts them, uncompressed), what the encoders'
# slices hold too: two files are read at once (transforms/runtime/prefetch.py), and 65536 rows of long texts
# (~1 KB a row) hold three times the memory of rows of ~300 B. 5M events of ~1 KB, JSON, one run each:
# the benchmark's peak RSS 688 MiB at 24 MiB, 573 at 16 (39.6 and 39.8 s); the kernel's maximum 613 at
# 16 and 603 at 12 (38.8 and 40.7 s).
BATCH_BYTES = 16 << 20
# What the file readers raise on damaged input: fastavro lets zlib and index errors through from a broken
# block, gzip raises OSError or EOFError, pyarrow its own.
_DAMAGED = (OSError, ValueError, EOFError, IndexError, KeyError, zlib.error, pa.ArrowException)


def _open(path):
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def _parquet_batches(path, schema):
    with _open(path) as raw:
        source = pq.ParquetFile(raw)
        names = set(source.schema_arrow.names)
        missing = [name for name in schema.names if name not in names]
        if missing:
            raise SourceError(f"store file {path!r} lacks column(s) {', '.join(missing)}; "
                              "see the event store contract in the README")
        for batch in source.iter_batches(batch_size=_batch_rows(source.metadata), columns=schema.names,
                                         use_threads=False):
            yield pa.Table.from_batches([batch])


def _batch_rows(metadata):
    """Rows per batch: the file in equal batches of at most BATCH_BYTES and BATCH_ROWS."""
    size = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    batches = max(1, -(-size // BATCH_BYTES), -(-metadata.num_rows // BATCH_ROWS))
    return max(1, -(-metadata.num_rows // batches))


def _as_value(value):
    """Times that an Avro logical type turned into datetimes go back to epoch milliseconds."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return int(value.timestamp() * 1000)
    return value


def _as_text(value):
    """Objects stored as JSON text stay text; anything else becomes JSON text, which validation then
    accepts only if it is an object."""
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _records_to_tables(records, schema):
    columns = {name: [] for name in schema.names}
    for record in records:
        for name, values in columns.items():
            value = record.get(name)
            values.append(_as_text(value) if schema.field(name).type == pa.string() else _as_value(value))
        if len(columns[schema.names[0]]) == BATCH_ROWS:
            yield columns
            columns = {name: [] for name in schema.names}
    if columns[schema.names[0]]:
        yield columns


def _python_batches(path, records, schema, rejects):
    """Column lists -> tables; a value of the wrong type rejects its record, not the file."""
    for columns in _records_to_tables(records, schema):
        try:
            yield pa.table({name: pa.array(columns[name], schema.field(name).type) for name in schema.names})
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            good = {name: [] for name in schema.names}
            for row in zip(*(columns[name] for name in schema.names)):
                try:
                    for name, value in zip(schema.names, row):
                        pa.array([value], schema.field(name).type)
                except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as error:
                    record = dict(zip(schema.names, row))
                    rejects.add(_reject(path, f"wrong type: {error}", record), record)
                    continue
                for name, value in zip(schema.names, row):
                    good[name].append(value)
            yield pa.table({name: pa.array(good[name], schema.field(name).type) for name in schema.names})


def _avro_records(path):
    import fastavro
    with _open(path) as raw:
        yield from fastavro.reader(raw)


def _jsonl_records(path, rejects):
    with _open(path) as raw:
        stream = gzip.GzipFile(fileobj=raw) if path.endswith(".gz") else raw
        for number, line in enumerate(io.BufferedReader(stream), start=1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as error:
                rejects.add(_reject(path, _not_json(number, line, error), line.decode("utf-8", "backslashreplace")))
                continue
            if not isinstance(record, dict):
                rejects.add(_reject(path, f"line {number} is not a JSON object",
                                       line.decode("utf-8", "backslashreplace")))
                continue
            yield record


def _not_json(number, line, error):
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"line {number} is not valid UTF-8: byte {bad.start} is {line[bad.start]:#04x}"
    return f"line {number} is not JSON: {error}"


def _as_epoch_ms(table):
    """A store that typed its times as Parquet timestamps still means epoch milliseconds."""
    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):
            millis = pc.cast(pc.cast(table[index], pa.timestamp("ms", tz=field.type.tz)), pa.int64())
            table = table.set_column(index, field.name, millis)
    return table


def _cast(path, table, schema):
    try:
        return _as_epoch_ms(table.select(schema.names)).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, KeyError) as error:
        raise SourceError(f"store file {path!r} does not match the store contract: {error}") from None


class _EarlyRejects:
    """Records rejected before the window filter (not JSON, not an object, a wrong type), and rows whose
    window time is missing, belong to the one run whose window holds the record's time or, when it has
    none, the start of its file's folder. A file is read by several windows of a series; so each such
    record is still reported by exactly one of them, neither lost nor counted twice. One captured at or
    after the capture ceiling is later data, as its good neighbours are."""

    def __init__(self, rejects, window_column, start_ms, end_ms, folder_ms, event_names, capture_column, ceiling):
        self.rejects, self.column, self.event_names = rejects, window_column, event_names
        self.start_ms, self.end_ms, self.folder_ms = start_ms, end_ms, folder_ms
        self.capture_column, self.ceiling = capture_column, ceiling

    def holds(self, moment):
        if moment is None:   # a file outside the store layout: every window reports it
            return True
        return (self.start_ms is None or moment >= self.start_ms) and moment < self.end_ms

    def add(self, reject, record=None):
        record = record or {}
        moment = record.get(self.column)
        if not isinstance(moment, int) or isinstance(moment, bool):
            moment = self.folder_ms
        name = record.get("event_name")
        captured = record.get(self.capture_column)
        later = self.ceiling is not None and isinstance(captured, int) and captured >= self.ceiling
        if self.holds(moment) and not later and not (
                self.event_names and isinstance(name, str) and name not in self.event_names):
            self.rejects.append(reject)


def read_split(path, shape, window_column, start_ms, end_ms, rejects, event_names=(), captured_before=None):
    """Yield canonical tables of the rows of `path` with start_ms <= window_column < end_ms (and, when
    `event_names` is given, one of those names; when `captured_before` is, a capture time before it),
    checked before they are yielded.

    Bad records go to the `rejects` list (dicts with source, reason, record) as they are met.
    """
    wanted = pa.array(event_names, pa.string()) if event_names else None
    schema = shape.store_schema
    fmt = store_format(path)
    capture_column = shape.window_column("capture")
    early = _EarlyRejects(rejects, window_column, start_ms, end_ms, folder_start_ms(path, shape), event_names,
                          capture_column, captured_before)
    try:
        if fmt == "parquet":
            tables = (_cast(path, t, schema) for t in _parquet_batches(path, schema))
        elif fmt == "avro":
            tables = _python_batches(path, _avro_records(path), schema, early)
        else:
            tables = _python_batches(path, _jsonl_records(path, early), schema, early)
        for table in tables:
            times = table[window_column]
            in_window = pc.less(times, end_ms)
            if start_ms is not None:
                in_window = pc.and_(in_window, pc.greater_equal(times, start_ms))
            if wanted is not None:
                in_window = pc.and_(in_window, pc.is_in(table["event_name"], value_set=wanted))
            # a row without its window time goes on (to be rejected) in the window of its folder's start
            keep = pc.fill_null(in_window, early.holds(early.folder_ms))
            if captured_before is not None:   # no capture time: as without a ceiling (its folder starts before it)
                keep = pc.and_(keep, pc.fill_null(pc.less(table[capture_column], captured_before), True))
            if not pc.all(keep).as_py():   # mostly every row is in: no copy then
                table = table.filter(keep)
            if table.num_rows:
                table = validate(path, table, shape, rejects)
            if table.num_rows:
                yield table
    except SourceError:
        raise
    except _DAMAGED as error:
        if not FileSystems.exists(path):
            raise SourceError(f"store file {path!r} disappeared after the store was listed (moved or deleted "
                              "while the export ran); run the export again") from None
        raise SourceError(f"store file {path!r} cannot be read, it is damaged or not {fmt}: {type(error).__name__}: "
                          f"{error}; replace or repair the file, or move it out of the store, then run the export "
                          "again") from None
