"""Reading one store file into canonical Arrow tables, with bad records set aside, never dropped.

Parquet is read batch-wise and projected; Avro and JSON Lines arrive as Python records (their readers
give nothing better) and are turned into Arrow batches of `BATCH_ROWS`. Every reader ends in the same
placement (which rows this run judges, and the faults of their times: placement.py) and validation,
which yield good rows as a table and bad rows as rejects with a reason, named below the store root.

A file that cannot be read to its end (garbage, a truncated or damaged block, a file that vanished after
the listing) fails the run with its name and the fault: its records cannot be told apart or counted, so
neither setting it aside nor going on without it could show that nothing was lost.
"""

import contextlib
import datetime as dt
import gzip
import io
import zlib

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.filesystem import CompressionTypes

from transforms.errors import SourceError
from transforms.runtime.platform_s3 import is_s3, open_object
from transforms.sources.placement import EPOCH_END_MS, Placement
from transforms.sources.store_files import locate, store_format
from transforms.sources.validation import validate

__all__ = ["read_split", "reading", "parquet_tables", "record_tables", "cast_batch", "BATCH_ROWS"]

# Rows per Arrow batch: big enough that per-batch overhead vanishes, small enough to keep memory flat.
BATCH_ROWS = 65536
# And, from Parquet, about this many bytes (as Parquet counts them, uncompressed), what the encoders'
# slices hold too: two files are read at once (transforms/runtime/prefetch.py), and 65536 rows of long texts
# (~1 KB a row) hold several times the memory of short ones (docs/performance.md).
BATCH_BYTES = 16 << 20
_EPOCH, _MS = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc), dt.timedelta(milliseconds=1)
# What the file readers raise on damaged input: fastavro lets zlib and index errors through from a broken
# block, gzip raises OSError or EOFError, pyarrow its own.
_DAMAGED = (OSError, ValueError, EOFError, IndexError, KeyError, zlib.error, pa.ArrowException)


def _open(path):
    """A store file on the platform's S3 is read in parts fetched ahead (transforms/runtime/platform_s3.py);
    any other through Beam's FileSystems."""
    if is_s3(path):
        return open_object(path)
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def parquet_tables(path, names, row_groups=lambda source: None):
    """The columns `names` of Parquet store file `path` as tables; `row_groups`(pq.ParquetFile) picks the
    row groups to read (None: all)."""
    with _open(path) as raw:
        source = pq.ParquetFile(raw)
        present = set(source.schema_arrow.names)
        missing = [name for name in names if name not in present]
        if missing:
            raise SourceError(f"store file {path!r} lacks column(s) {', '.join(missing)}; "
                              "see the event store contract in docs/contracts.md")
        groups = row_groups(source)
        if groups == []:
            return
        for batch in source.iter_batches(batch_size=_batch_rows(source.metadata), row_groups=groups, columns=names,
                                         use_threads=False):
            yield pa.Table.from_batches([batch])


def _batch_rows(metadata):
    """Rows per batch: the file in equal batches of at most BATCH_BYTES and BATCH_ROWS."""
    size = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    batches = max(1, -(-size // BATCH_BYTES), -(-metadata.num_rows // BATCH_ROWS))
    return max(1, -(-metadata.num_rows // batches))


def _as_millis(value):
    """A time as epoch ms: an Avro logical type's datetime exactly (a float when not whole ms), a JSON
    float that is a whole number as an int; anything else as it is (a float then is not whole)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        since = value - _EPOCH
        return since // _MS if since % _MS == dt.timedelta(0) else since / _MS
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _as_text(value):
    """Objects stored as JSON text stay text; anything else becomes JSON text, which validation then
    accepts only if it is an object."""
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _records_to_tables(records, schema, rejects):
    """Records -> column lists; a time that is not a whole number of milliseconds rejects its record
    (Arrow would truncate it without a word)."""
    columns = {name: [] for name in schema.names}
    texts = [name for name in schema.names if schema.field(name).type == pa.string()]
    times = [name for name in schema.names if name not in texts]
    for record in records:
        stamps = [_as_millis(record.get(name)) for name in times]
        fraction = next((name for name, value in zip(times, stamps) if isinstance(value, float)), None)
        if fraction:
            row = {name: _as_text(record.get(name)) for name in texts} | dict(zip(times, stamps))
            rejects.add(f"{fraction} {row[fraction]!r} is not a whole number of milliseconds", row, row,
                        "time_not_whole_ms")
            continue
        for name in texts:
            columns[name].append(_as_text(record.get(name)))
        for name, value in zip(times, stamps):
            columns[name].append(value)
        if len(columns[schema.names[0]]) == BATCH_ROWS:
            yield columns
            columns = {name: [] for name in schema.names}
    if columns[schema.names[0]]:
        yield columns


def _python_batches(path, records, schema, rejects):
    """Column lists -> tables; a value of the wrong type rejects its record, not the file."""
    for columns in _records_to_tables(records, schema, rejects):
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
                    rejects.add(f"wrong type: {error}", record, record, "wrong_type")
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
                reason, code = _not_json(number, line, error)
                rejects.add(reason, line.decode("utf-8", "backslashreplace"), code=code)
                continue
            if not isinstance(record, dict):
                rejects.add(f"line {number} is not a JSON object", line.decode("utf-8", "backslashreplace"),
                            code="not_object")
                continue
            yield record


def _not_json(number, line, error):
    """(reason, code) of a line that does not parse."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"line {number} is not valid UTF-8: byte {bad.start} is {line[bad.start]:#04x}", "not_utf8"
    return f"line {number} is not JSON: {error}", "not_json"


def record_tables(path, schema, placement):
    """An Avro or JSON Lines store file's records as tables of `schema`; a record that cannot be a row
    goes to `placement.add`."""
    if store_format(path) == "avro":
        return _python_batches(path, _avro_records(path), schema, placement)
    return _python_batches(path, _jsonl_records(path, placement), schema, placement)


def cast_batch(path, table, schema):
    """A Parquet batch in the canonical types (its times already epoch ms: placement.py)."""
    try:
        return table.select(schema.names).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, KeyError) as error:
        raise SourceError(f"store file {path!r} does not match the store contract: {error}") from None


def read_split(path, shape, window_column, start_ms, end_ms, rejects, event_names=(), captured_before=None,
               series_start=None, latest=EPOCH_END_MS, counts=None):
    """Yield canonical tables of the rows of `path` with start_ms <= window_column < end_ms (and, when
    `event_names` is given, one of those names; when `captured_before` is, a capture time before it),
    checked before they are yielded. `series_start`, `latest`: see placement.py.

    Bad records go to the `rejects` list (dicts with source, reason, code, record) as they are met, the ones
    that cannot be placed in time by the rules of placement.py. When the file is read to its end, `counts`
    (a dict) gains "read", the records the run judges (placement.py), and "later", those of them the
    capture ceiling leaves to later runs: read = rows yielded + rejects + later.
    """
    schema = shape.store_schema
    placement = Placement(shape, locate(path, shape), window_column, start_ms, end_ms, rejects, tuple(event_names),
                          captured_before, series_start, latest)
    with reading(path):
        if store_format(path) == "parquet":
            tables = parquet_tables(path, schema.names)
        else:
            tables = record_tables(path, schema, placement)
        for table in tables:
            table = placement.judge(table, lambda raw: cast_batch(path, raw, schema))
            if table.num_rows:
                table = validate(placement.located.name, table, shape, rejects)
            if table.num_rows:
                yield table
        if counts is not None:
            counts["read"] = counts.get("read", 0) + placement.read
            counts["later"] = counts.get("later", 0) + placement.later


@contextlib.contextmanager
def reading(path):
    """Reading store file `path`: a failure becomes a SourceError that names the file and what to do."""
    try:
        yield
    except SourceError:
        raise
    except PermissionError as error:
        who = ("the platform's key (Beam's --s3_access_key_id, or the standard chain of the launcher's and workers' "
               "environment) needs s3:GetObject on it" if is_s3(path) else "give this user read access to it")
        raise SourceError(f"store file {path!r} cannot be read: {error.strerror}; {who}") from None
    except _DAMAGED as error:
        if isinstance(error, FileNotFoundError) or not FileSystems.exists(path):
            raise SourceError(f"store file {path!r} disappeared after the store was listed (moved or deleted "
                              "while the export ran); run the export again") from None
        raise SourceError(f"store file {path!r} cannot be read, it is damaged or not {store_format(path)}: "
                          f"{type(error).__name__}: {error}; replace or repair the file, or move it out of the "
                          "store, then run the export again") from None
