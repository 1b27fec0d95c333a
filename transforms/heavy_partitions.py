"""A heavy (event, date) partition, encoded by many workers: row ranges in parallel, file indices after.

A partition's files are numbered 0000, 0001, ... in row order, and where file n ends is known only once
the files before it are encoded, so one writer used to encode a whole partition: a busy event's day of
millions of rows pinned the run to one worker. Now the writer that gathers a partition writes its first
file, 0000, as before, and that file says how many rows fill a file. If the rest is more than one row
range's worth (`plan_ranges`), the writer copies each range's rows, in file order, to a spilled piece
of its own and hands it on under its own key (grouping.range_key), so ranges meet different workers
after a GroupByKey. Each range is cut into files within --max_file_bytes exactly as a whole partition
is (sharding.shard_rows); its encoded files wait in the spill folder as staged files, and only their
descriptors travel on. A second GroupByKey brings a partition's descriptors together; ordered by
(range, file within range) they take the file indices 1..n-1, and each staged file's bytes are PUT at
its final key (the customer's key may only list and put: no copy).

A range edge ends a file: so a range holds a whole number of files' worth of rows (RANGE_FILES, or more
to reach MIN_RANGE_ROWS), counted in the first file's rows, and a little less (RANGE_FILL), so that its
last file ends a little under full instead of a few rows spilling into a file of their own; the last
range takes what is left, as a whole partition's last file does. So a split partition has about as
many files as one writer gives it: each range's last file is ~90% as full as the others, and rows that
encode more than ~5% larger later in the day than at its start cost one short file per range. Its rows
also cross the spill folder once more, as Arrow and as encoded files. A partition that is not split
is written exactly as before: its writer simply goes on after the first file.

Everything is a function of the rows: the first file, which partitions split, where ranges begin, the
files of each range, and every spilled name (from the partition, range and file number, never a random
one). A retried bundle rewrites the same paths with the same bytes, and a rerun writes the same keys.
"""

import hashlib

import apache_beam as beam
import orjson

from transforms.runtime.base_dofn import ConfiguredDoFn, ConfiguredTransform, report_object
from transforms.errors import GroupingError
from transforms.formats import encoder_for
from transforms.shuffle.grouping import partition_key, range_key
from transforms.sinks.naming import object_key
from transforms.sinks.sharding import FILL, SAMPLE_ROWS, shard_rows
from transforms.shuffle.sorted_rows import SortedRows
from transforms.shuffle.spill import open_staged, read_piece, stage_file, write_batches

__all__ = ["plan_ranges", "spill_ranges", "WriteHeavy", "RANGE_FILES", "RANGE_FILL", "MIN_RANGE_ROWS"]

RANGE_FILES = 2                   # files a range holds, at least: its edge ends at most one file in this many
RANGE_FILL = 0.95                 # a range's share of those files' rows: room for rows that grow over the day
MIN_RANGE_ROWS = 2 * SAMPLE_ROWS  # below this a range's fixed costs (a piece, a task, a GroupByKey) weigh
COPY_ROWS = 65536                 # rows copied into a range's piece at a time: memory follows this
FIRST_STAGED_INDEX = 1            # file 0000 is the one the partition's writer wrote itself


def plan_ranges(rows, per_file, limit):
    """[(begin, end), ...]: the row ranges, in order, of what follows a partition's first file, which
    held `per_file` of `rows` (SortedRows); [] when its writer should simply go on (the partition is
    written whole, as before). Its rows' Arrow size decides first (encoded and compressed, rows are
    nearly always smaller, as sharding.py assumes), so small partitions cost nothing more."""
    total = rows.num_rows
    if total - per_file <= MIN_RANGE_ROWS or rows.nbytes <= RANGE_FILES * limit * FILL:
        return []
    files = max(RANGE_FILES, -(-MIN_RANGE_ROWS // per_file))
    per_range = max(1, int(files * per_file * RANGE_FILL))
    if total - per_file <= per_range:
        return []
    return [(begin, min(begin + per_range, total)) for begin in range(per_file, total, per_range)]


def _partition_id(name, day):
    """The partition's part of its spilled names: a digest, since an event name may hold any character."""
    return hashlib.blake2b(orjson.dumps([name, day]), digest_size=12).hexdigest()


def spill_ranges(config, rows, name, day, ranges, per_file):
    """Copy each range of `rows` to its own piece; yield (range key, (name, day, range number, number of
    ranges, piece path, rows per file)) for each."""
    partition = _partition_id(name, day)
    for number, (begin, end) in enumerate(ranges):
        part = rows.slice(begin, end - begin)
        tables = (part.slice(offset, COPY_ROWS).table() for offset in range(0, part.num_rows, COPY_ROWS))
        path = write_batches(config.spill_dir, f"ranges/{partition}-{number:05d}.arrow", rows.schema, tables)
        yield range_key(name, day, number), (name, day, number, len(ranges), path, per_file)


class _StageRange(ConfiguredDoFn):
    """A range's rows -> its files, encoded and staged -> (partition key, (name, day, range number,
    number of ranges, file number in the range, rows, staged path)) for each."""

    def process(self, element):
        config = self.config
        encoder = encoder_for(config.format, config.shape, config.parquet_codec)
        for name, day, number, ranges, path, per_file in sorted(element[1]):   # two keys may share a group
            partition = _partition_id(name, day)
            rows = SortedRows.of_sorted_piece(read_piece(path))
            for shard_number, shard in enumerate(shard_rows(encoder, rows, name, config.max_file_bytes, per_file)):
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
    """A heavy partition's staged files -> file indices in (range, file) order, after the writer's own
    first file -> PutObject at the final keys -> one manifest descriptor each."""

    def process(self, element):
        config = self.config
        encoder = encoder_for(config.format, config.shape, config.parquet_codec)
        partitions = {}
        for name, day, *described in element[1]:
            partitions.setdefault((name, day), []).append(tuple(described))
        for (name, day), files in sorted(partitions.items()):
            for index, (_, _, _, rows, path) in enumerate(_in_order(name, day, files), FIRST_STAGED_INDEX):
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
