"""A heavy (event, date) partition, encoded by many workers: row ranges in parallel, file indices after.

A partition's files are numbered 0000, 0001, ... in row order, and where file n ends is known only once
the files before it are encoded, so one writer used to encode a whole partition: a busy event's day of
millions of rows pinned the run to one worker. A heavy partition is instead cut into row ranges of about
RANGE_FILES files each (`plan_ranges`). The writer that holds the partition copies each range's rows,
in file order, to a spilled piece of its own and hands it on under its own key (grouping.range_key), so
ranges meet different workers after a GroupByKey. Each range is cut into files within --max_file_bytes
exactly as a whole partition is (sharding.shard_rows); its encoded files wait in the spill folder as
staged files, and only their descriptors travel on. A second GroupByKey brings a partition's
descriptors together; ordered by (range, file within range) they take the file indices 0..n-1, and each
staged file's bytes are PUT at its final key (the customer's key may only list and put: no copy).

The cost: a range edge ends a file early, so a heavy partition has up to one short file per range more
than a single writer would write (ranges hold RANGE_FILES to 2 * RANGE_FILES files' worth of rows), and
its rows cross the spill folder once more, as Arrow and as encoded files. So only partitions worth at
least two ranges are split (a small one keeps exactly the objects one writer gives it), and a range
holds at least MIN_RANGE_ROWS rows, so that its fixed costs stay small beside its encoding.

Everything is a function of the rows: which partitions split, where ranges begin (measured from a
sample encoded from the partition's first rows), the files of each range, and every spilled name
(from the partition, range and file number, never a random one). A retried bundle rewrites the same
paths with the same bytes, and a rerun writes the same keys.
"""

import hashlib

import apache_beam as beam
import orjson

from transforms.configured import ConfiguredDoFn, ConfiguredTransform, report_object
from transforms.errors import GroupingError
from transforms.formats import encoder_for
from transforms.grouping import partition_key, range_key
from transforms.naming import object_key
from transforms.sharding import FILL, SAMPLE_ROWS, encode_to_spool, shard_rows
from transforms.sorted_rows import SortedRows
from transforms.spill import open_staged, read_piece, stage_file, write_batches

__all__ = ["plan_ranges", "spill_ranges", "WriteHeavy", "RANGE_FILES", "MIN_RANGE_ROWS"]

RANGE_FILES = 2                   # a range is about this many full files, so most files are not cut short
MIN_RANGE_ROWS = 2 * SAMPLE_ROWS  # below this a range's fixed costs (a piece, a task, a sample) weigh
COPY_ROWS = 65536                 # rows copied into a range's piece at a time: memory follows this


def plan_ranges(encoder, rows, name, limit):
    """[(begin, end), ...]: the row ranges of a heavy partition's `rows` (SortedRows), in order; [] for a
    partition to be written whole.

    Its rows' Arrow size decides first (encoded and compressed, rows are nearly always smaller, as
    sharding.py assumes): a partition smaller than two ranges' worth of files is never sampled. Then the
    first SAMPLE_ROWS rows, encoded, give bytes per row; a range is RANGE_FILES files' worth of rows (at
    least MIN_RANGE_ROWS), and the partition is cut into as many whole ranges as fit, evenly."""
    total, wanted = rows.num_rows, RANGE_FILES * limit * FILL
    if total < 2 * MIN_RANGE_ROWS or rows.nbytes < 2 * wanted:
        return []
    spool, size = encode_to_spool(encoder, rows.slice(0, SAMPLE_ROWS), name)
    spool.close()
    per_range = max(MIN_RANGE_ROWS, int(wanted * SAMPLE_ROWS / max(size, 1)))
    count = total // per_range
    if count < 2:
        return []
    return [(total * number // count, total * (number + 1) // count) for number in range(count)]


def _partition_id(name, day):
    """The partition's part of its spilled names: a digest, since an event name may hold any character."""
    return hashlib.blake2b(orjson.dumps([name, day]), digest_size=12).hexdigest()


def spill_ranges(config, rows, name, day, ranges):
    """Copy each range of `rows` to its own piece; yield (range key, (name, day, range number, number of
    ranges, piece path)) for each."""
    partition = _partition_id(name, day)
    for number, (begin, end) in enumerate(ranges):
        part = rows.slice(begin, end - begin)
        tables = (part.slice(offset, COPY_ROWS).table() for offset in range(0, part.num_rows, COPY_ROWS))
        path = write_batches(config.spill_dir, f"ranges/{partition}-{number:05d}.arrow", rows.schema, tables)
        yield range_key(name, day, number), (name, day, number, len(ranges), path)


class _StageRange(ConfiguredDoFn):
    """A range's rows -> its files, encoded and staged -> (partition key, (name, day, range number,
    number of ranges, file number in the range, rows, staged path)) for each."""

    def process(self, element):
        config = self.config
        encoder = encoder_for(config.format, config.shape, config.parquet_codec)
        for name, day, number, ranges, path in sorted(element[1]):   # two keys may share a group
            partition = _partition_id(name, day)
            rows = SortedRows.of_sorted_piece(read_piece(path))
            for shard_number, shard in enumerate(shard_rows(encoder, rows, name, config.max_file_bytes)):
                with shard.spool:
                    staged = stage_file(config.spill_dir, f"staged/{partition}-{number:05d}-{shard_number:05d}",
                                        shard.spool)
                yield partition_key(name, day), (name, day, number, ranges, shard_number, shard.count, staged)


def _in_order(name, day, files):
    """`files` (range number, ranges, file number, rows, path) sorted, after checking each range is there
    once with its files 0..k-1: a lost or doubled range would shift every index after it."""
    files = sorted(files)
    ranges, shards = files[0][1], {}
    for number, _, shard, _, _ in files:
        shards.setdefault(number, []).append(shard)
    if sorted(shards) != list(range(ranges)) or any(found != list(range(len(found))) for found in shards.values()):
        raise GroupingError(f"event {name!r} on {day}: the staged files of its {ranges} row ranges reached the "
                            f"writer incomplete or twice; rerun with the same --run_timestamp")
    return files


class _PutStaged(ConfiguredDoFn):
    """A heavy partition's staged files -> file indices in (range, file) order -> PutObject at the final
    keys -> one manifest descriptor each."""

    def process(self, element):
        config = self.config
        encoder = encoder_for(config.format, config.shape, config.parquet_codec)
        partitions = {}
        for name, day, *described in element[1]:
            partitions.setdefault((name, day), []).append(tuple(described))
        for (name, day), files in sorted(partitions.items()):
            for index, (_, _, _, rows, path) in enumerate(_in_order(name, day, files)):
                key = object_key(config.destination.prefix, config.request_id, config.run_timestamp, name, day,
                                 index, config.database_id, encoder.suffix)
                with open_staged(path) as stream:
                    digest = config.destination.put(key, stream)
                yield report_object(self.progress, name, day, index, key, rows, digest)


class WriteHeavy(ConfiguredTransform):
    """(range key, range) from spill_ranges -> data objects at their final keys -> one descriptor each."""

    def expand(self, ranges):
        return (ranges | "GroupRanges" >> beam.GroupByKey()
                | "EncodeRanges" >> beam.ParDo(_StageRange(self.config))
                | "GroupStaged" >> beam.GroupByKey()
                | "PutStaged" >> beam.ParDo(_PutStaged(self.config)))
