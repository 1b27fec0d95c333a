"""The pipeline's steps as PTransforms, in the order DESIGN.md draws them.

Only Create, ParDo, GroupByKey and Flatten are used, so the same graph runs on every runner,
Beam's DaskRunner included. Elements are Arrow tables (thousands of rows each); what crosses a
GroupByKey is the path of a spilled piece (transforms/shuffle/spill.py) or a small object descriptor, under
an integer key (transforms/shuffle/grouping.py). No ParDo has a second, tagged output: the DaskRunner hands
every output of a ParDo to every consumer, so a step with two kinds of result emits (kind, value)
pairs and plain ParDos pick their kind out. A heavy partition is written by many workers, in row ranges
(transforms/heavy_partitions.py).
"""

import io
import zlib

import apache_beam as beam
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindows

from transforms.runtime.base_dofn import METRIC_NAMESPACES, ConfiguredDoFn, ConfiguredTransform, report_object
from transforms.sinks.target import parse_destination
from transforms.errors import TooManyRejectsError
from transforms.formats import Encoder, encoder_for
from transforms.shuffle.grouping import SINGLE_GROUP, partition_key
from transforms.sinks.manifest import build_manifest, check_objects
from transforms.sinks.reconciliation import reconcile
from transforms.sinks.naming import manifest_key, object_key, rejects_key
from transforms.runtime.prefetch import OverlappedDoFn
from transforms.shuffle.partition import add_time_parts, split_by_partition
from transforms.sources.later_data import count_later
from transforms.sources.placement import latest_ms
from transforms.sources.readers import read_split
from transforms.sinks.sharding import shard_rows, start_encoding, tried_whole
from transforms.shuffle.sorted_rows import SortedRows
from transforms.shuffle.spill import read_piece, write_pieces
from transforms.heavy_partitions import WriteHeavy, plan_ranges, spill_ranges
from transforms.shuffle.table_coder import KindAndTable

__all__ = ["ReadStore", "PartitionRows", "LatestProfiles", "WriteObjects", "WriteRejects", "WriteManifest",
           "METRIC_NAMESPACES"]

ROWS, REJECTS, COUNTS, OBJECT, RANGE = "rows", "rejects", "counts", "object", "range"
REJECT_SCHEMA = pa.schema([("source", pa.string()), ("reason", pa.string()), ("record", pa.string()),
                           ("code", pa.string())])
SHOWN_REJECT = ("source", "reason", "record")   # what a rejects object holds of a reject
COUNT_NAMES = ("read", "later", "rows")         # a store file's counts (transforms/sinks/reconciliation.py)
PROFILE_BUCKETS = 16  # spreads the latest-version step over workers; any fixed number is deterministic


def _put_shards(config, encoder, rows, name, key_for, started=None):
    """Cut `rows` into shards within --max_file_bytes and write shard i at key_for(i), in order;
    yield (index, key, rows in the shard, digest). `started`: see sharding.shard_rows."""
    for index, shard in enumerate(shard_rows(encoder, rows, name, config.max_file_bytes, started=started)):
        key = key_for(index)
        with shard.spool:
            digest = config.destination.put(key, shard.spool, shard.spool.hashes)
        yield index, key, shard.count, digest


class _ReadSplit(OverlappedDoFn):
    """The next file is read on a thread while the last one's rows are partitioned (transforms/runtime/prefetch.py)."""

    uses_event_names = True

    def produce(self, path):
        config, rejects, counts = self.config, [], {"rows": 0}
        shape, window = config.shape, config.window
        for table in read_split(path, shape, shape.window_column(window.basis), window.start_ms, window.end_ms,
                                rejects, config.events, window.captured_before_ms, window.series_start_ms,
                                latest_ms(config.timezone), counts):
            counts["rows"] += table.num_rows
            yield ROWS, table
        if rejects:
            yield REJECTS, pa.Table.from_pylist(rejects, REJECT_SCHEMA)
        # A table, as every output of this step is (KindAndTable); the manifest step sums them.
        yield COUNTS, pa.table({name: [counts[name]] for name in COUNT_NAMES})

    def emitted(self, item):
        kind, table = item
        if kind == ROWS:
            self.progress.add(rows_read=table.num_rows)
        elif kind == REJECTS:
            Metrics.counter("eventexport", "rejected_rows").inc(table.num_rows)
        return item


def _of_kind(kind):
    def pick(item):
        if item[0] == kind:
            yield item[1]
    return pick


class _CountLater(ConfiguredDoFn):
    """A store file in a folder the capture ceiling keeps the run from reading -> its counts: the records of
    the window in it, all later data (transforms/sources/later_data.py)."""

    uses_event_names = True

    def process(self, path):
        config = self.config
        later = count_later(path, config.shape, config.window, config.events, latest_ms(config.timezone))
        yield pa.table({"read": [later], "later": [later], "rows": [0]})


class ReadStore(beam.PTransform):
    """Store file paths -> {"rows": canonical tables, "rejects": tables of rejects (REJECT_SCHEMA), "counts":
    one-row tables of a file's counts (COUNT_NAMES)}. `later_splits`: files whose folders start at or after
    the capture ceiling, only counted (their records of the window are later data)."""

    def __init__(self, config, splits, later_splits=()):
        super().__init__()
        self.config, self.splits, self.later_splits = config, splits, later_splits

    def expand(self, pbegin):
        read = (pbegin | "Splits" >> beam.Create(self.splits)
                | "Read" >> beam.ParDo(_ReadSplit(self.config)).with_output_types(KindAndTable))
        outputs = {kind: read | f"Pick {kind}" >> beam.FlatMap(_of_kind(kind)).with_output_types(pa.Table)
                   for kind in (ROWS, REJECTS, COUNTS)}
        if self.later_splits:
            later = (pbegin | "LaterSplits" >> beam.Create(self.later_splits)
                     | "CountLater" >> beam.ParDo(_CountLater(self.config)).with_output_types(pa.Table))
            outputs[COUNTS] = (outputs[COUNTS], later) | "AllCounts" >> beam.Flatten()
        return outputs


def _latest_per_identity(table):
    """Keep each identity's newest version (ties: the larger object_id, then properties text)."""
    table = table.sort_by([("identity", "ascending"), ("updated_at", "descending"),
                           ("object_id", "descending"), ("properties", "descending")])
    identity = table["identity"].combine_chunks()
    first = pc.invert(pc.equal(identity[1:], identity[:-1])) if len(identity) > 1 else pa.array([], pa.bool_())
    return table.filter(pa.concat_arrays([pa.array([True]), first.cast(pa.bool_())]))


class _BucketByIdentity(ConfiguredDoFn):
    def process(self, table):
        table = _latest_per_identity(table)
        buckets = pa.array([zlib.crc32(i.encode()) % PROFILE_BUCKETS for i in table["identity"].to_pylist()])
        chosen = pc.unique(buckets).to_pylist()
        pieces = [table.filter(pc.equal(buckets, bucket)) for bucket in chosen]
        yield from zip(chosen, write_pieces(self.config.spill_dir, pieces))


class LatestProfiles(ConfiguredTransform):
    """A profile store holds every version; an export shows each identity once, at its latest."""

    def expand(self, tables):
        return (tables | "Bucket" >> beam.ParDo(_BucketByIdentity(self.config))
                | "GroupBuckets" >> beam.GroupByKey()
                | "Latest" >> beam.Map(lambda kv: _latest_per_identity(
                    pa.concat_tables([read_piece(path).table for path in kv[1]]))).with_output_types(pa.Table))


class _KeyByPartition(ConfiguredDoFn):
    def process(self, table):
        shape = self.config.shape
        table = add_time_parts(table, shape.event_time_column(), self.config.timezone)
        parts = list(split_by_partition(table, shape))
        references = write_pieces(self.config.spill_dir, [piece for _, piece in parts])
        for ((name, day), _), reference in zip(parts, references):
            yield partition_key(name, day), (name, day, reference)


class PartitionRows(ConfiguredTransform):
    """Tables -> (integer key, [(name, yyyymmdd, spilled piece path)]): a file group's rows meet, by
    reference."""

    def expand(self, tables):
        return (tables | "KeyByPartition" >> beam.ParDo(_KeyByPartition(self.config))
                | "GroupPartitions" >> beam.GroupByKey())


class _WriteGroup(ConfiguredDoFn):
    """A group's partitions -> ("object", descriptor) for each object written here, and ("range", (key,
    range)) for each row range of a heavy partition after its first file, which WriteHeavy writes.

    A partition that fits one file is finished (its last writes' compression waited for, its object put)
    after the next partition is encoded, in this element or the next one, or when the bundle ends: one
    file's compression runs beside the next one's encoding, where the end of every file held the
    encoder up. On the DaskRunner, which loses what a bundle's end emits (`config.overlap` False), each
    partition is finished in turn."""

    def setup(self):
        super().setup()
        self._finishing = ()

    def start_bundle(self):
        self._finishing = ()   # left by a bundle that failed, which is retried whole

    def process(self, element):
        partitions = {}
        for name, day, path in element[1]:
            partitions.setdefault((name, day), []).append(path)
        config = self.config
        for (name, day), pieces in sorted(partitions.items()):
            encoder = encoder_for(config.format, config.shape, config.parquet_codec)
            rows = SortedRows.of_pieces([read_piece(path) for path in pieces], config.shape)
            started = start_encoding(encoder, rows, name) if tried_whole(rows, config.max_file_bytes) else None
            yield from self._finish()
            writing = self._write_partition(name, day, encoder, rows, started)
            if started is None or not config.overlap:
                yield from writing
            else:
                self._finishing = writing

    def finish_bundle(self):
        for item in self._finish():
            yield GlobalWindows.windowed_value(item)
        super().finish_bundle()

    def _finish(self):
        finishing, self._finishing = self._finishing, ()
        yield from finishing

    def _write_partition(self, name, day, encoder, rows, started):
        """Write the first file; then the rest, or hand the rest on in row ranges if it is heavy."""
        config = self.config

        def key_for(index):
            return object_key(config.destination.prefix, config.request_id, config.run_timestamp, name, day, index,
                              config.database_id, encoder.suffix)

        for index, key, count, digest in _put_shards(config, encoder, rows, name, key_for, started):
            yield OBJECT, report_object(self.progress, name, day, index, key, count, digest)
            ranges = plan_ranges(rows, count, config.max_file_bytes) if index == 0 else []
            if ranges:
                for item in spill_ranges(config, rows, name, day, ranges, count):
                    yield RANGE, item
                return


class WriteObjects(ConfiguredTransform):
    """Grouped partitions -> data objects at their final keys -> one descriptor dict per object."""

    def expand(self, groups):
        written = groups | "Encode+Put" >> beam.ParDo(_WriteGroup(self.config))
        whole = written | "Pick objects" >> beam.FlatMap(_of_kind(OBJECT))
        heavy = (written | "Pick ranges" >> beam.FlatMap(_of_kind(RANGE))
                 | "WriteHeavy" >> WriteHeavy(self.config))
        return (whole, heavy) | "AllObjects" >> beam.Flatten()


class _RejectsEncoder(Encoder):
    extension = ".jsonl"

    def write_file(self, rows, name, out):
        for record in rows.select(SHOWN_REJECT).to_pylist():
            out.write(orjson.dumps(record) + b"\n")


class _WriteRejectGroup(ConfiguredDoFn):
    def process(self, element):
        config = self.config
        # UTF-8 byte order is code point order: the order Python's sort of these texts gave.
        rows = pa.concat_tables(element[1]).sort_by([(name, "ascending") for name in REJECT_SCHEMA.names])

        def key_for(index):
            return rejects_key(config.destination.prefix, config.request_id, config.run_timestamp, index)

        sample = {name: rows[name][0].as_py() for name in ("source", "reason")}
        counted = rows["code"].value_counts()
        reasons = dict(zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist()))
        for index, key, count, digest in _put_shards(config, _RejectsEncoder(config.shape), rows, "rejects", key_for):
            first = index == 0
            yield {"key": key, "index": index, "rows": count, "bytes": digest.bytes, "sha256": digest.sha256,
                   "etag": digest.etag, "etag_kind": digest.etag_kind, "sample": sample if first else None,
                   "reasons": reasons if first else None}


class WriteRejects(ConfiguredTransform):
    """Bad records, with source file and reason, as JSON Lines beside the export; counted in the manifest."""

    def expand(self, rejects):
        return (rejects | "KeyAll" >> beam.Map(lambda batch: (SINGLE_GROUP, batch))
                | "GroupAll" >> beam.GroupByKey()
                | "Put" >> beam.ParDo(_WriteRejectGroup(self.config)))


def _check_reject_share(config, objects, rejects):
    """No manifest (so no Done) for a run whose records are mostly bad: the store is broken, not a few rows."""
    bad = sum(item["rows"] for item in rejects)
    total = bad + sum(item["rows"] for item in objects)
    if bad and bad > config.max_reject_fraction * total:
        sample = next(item["sample"] for item in rejects if item["index"] == 0)
        reason = " ".join(f"{sample['source']}: {sample['reason']}".split())
        raise TooManyRejectsError(
            f"{bad:,} of {total:,} records ({bad / total:.1%}) were rejected, more than --max_reject_fraction "
            f"{config.max_reject_fraction}; e.g. {reason[:300]}. Fix the store (the rejects objects list each bad "
            "record with its reason) or raise --max_reject_fraction")


class _PutManifest(ConfiguredDoFn):
    uses_event_names = True   # the manifest's header names them

    def process(self, element):
        config = self.config
        items = [item for item in element[1] if item is not None]
        objects = [value for kind, value in items if kind == "object"]
        rejects = [value for kind, value in items if kind == REJECTS]
        counts = [value for kind, value in items if kind == COUNTS]
        check_objects(objects)
        _check_reject_share(config, objects, rejects)
        reconciliation = reconcile(config.shape.kind, counts, objects, rejects)
        document = build_manifest(config.run_description(), objects, rejects, reconciliation)
        key = manifest_key(config.destination.prefix, config.request_id, config.run_timestamp)
        config.destination.put(key, io.BytesIO(document))
        if config.manifest_copy:
            copy = parse_destination(config.manifest_copy)
            copy.put(manifest_key("", config.request_id, config.run_timestamp), io.BytesIO(document))
        yield key


class WriteManifest(ConfiguredTransform):
    """After every object is written: one manifest, once the run's counts add up (reconciliation.py). It
    runs even when the window held no rows. Takes (objects, rejects descriptors, readers' count tables)."""

    def expand(self, pcolls):
        objects, rejects, counts = pcolls
        start = objects.pipeline | "Always" >> beam.Create([None])
        return ((objects | "TagObjects" >> beam.Map(lambda o: ("object", o)),
                 rejects | "TagRejects" >> beam.Map(lambda o: (REJECTS, o)),
                 counts | "TagCounts" >> beam.Map(lambda t: (COUNTS, {k: v[0] for k, v in t.to_pydict().items()})),
                 start)
                | "Everything" >> beam.Flatten()
                | "KeyAll" >> beam.Map(lambda item: (SINGLE_GROUP, item))
                | "GroupAll" >> beam.GroupByKey()
                | "Put" >> beam.ParDo(_PutManifest(self.config)))
