"""A heavy (event, date) partition is encoded in row ranges by many workers, then numbered in one pass
(transforms/heavy_partitions.py): its ranges are separate work items, the ranges depend only on the rows, and
the objects and manifest are byte-identical with one worker, two worker processes, a rerun and Dask,
with every row once, in order, read back by independent readers (tests/support/exports.py: verify_export)."""

import datetime as dt
import glob
import re
import shutil

import pyarrow.parquet as pq
import pytest
from distributed import get_task_stream

from devtools.generate import generate
from tests.support.exports import export_ok, folder_bytes, verify_export
from tests.support.stores import in_window, read_generated_events
from transforms import heavy_partitions as staging
from transforms.formats import encoder_for
from transforms.shuffle.partition import add_time_parts, split_by_partition
from transforms.records import EVENTS
from transforms.sinks.sharding import shard_rows
from transforms.shuffle.sorted_rows import SortedRows
from transforms.shuffle.spill import read_piece, write_pieces

pytestmark = pytest.mark.slow   # a 60,000-event day exported several times, on two workers and on Dask

STORE_PARTS, EVENTS_PER_PART = 3, 20_000   # one day; "App Launched" is ~30%: ~18,000 rows, two ranges
DAY = dt.date(2024, 3, 10)
START, END = "2024-03-10T00:00:00Z", "2024-03-11T00:00:00Z"
LIMIT = 200_000                            # a few thousand rows a file: the heavy partition makes a dozen
HEAVY = "App Launched"
TWO_WORKERS = ("--direct_num_workers=2", "--direct_running_mode=multi_processing")
_STAGED = re.compile(r"staged/([0-9a-f]+)-(\d{5})-(\d{5})$")


@pytest.fixture(scope="module")
def heavy_store(tmp_path_factory):
    """(events root, rows in the window) of STORE_PARTS generated one-day stores in one, so the day is
    several store files (and several Dask partitions)."""
    base = tmp_path_factory.mktemp("heavy-store")
    events = base / "events"
    for part in range(STORE_PARTS):
        generate(base / f"g{part}", EVENTS_PER_PART, 1, "parquet", seed=60 + part, end=DAY)
        for path in sorted((base / f"g{part}" / "events").glob("*/*.parquet")):
            (events / path.parent.name).mkdir(parents=True, exist_ok=True)
            shutil.move(path, events / path.parent.name / f"part-{part}-{path.name}")
    rows = in_window(read_generated_events(events), START, END)
    assert 2 * staging.MIN_RANGE_ROWS <= sum(r["event_name"] == HEAVY for r in rows)
    return str(events), rows


def _partitions(store, tmp_path, batch_rows):
    """{(name, day): SortedRows} of the store's rows cut into batches of `batch_rows` before partitioning,
    as the readers of different runners might hand them over."""
    paths = {}
    for path in sorted(glob.glob(f"{store}/*/*.parquet"), reverse=batch_rows % 2 == 1):
        table = add_time_parts(pq.read_table(path).cast(EVENTS.store_schema), "event_time", "UTC")
        for offset in range(0, table.num_rows, batch_rows):
            parts = list(split_by_partition(table.slice(offset, batch_rows), EVENTS))
            for (key, _), reference in zip(parts, write_pieces(str(tmp_path), [piece for _, piece in parts])):
                paths.setdefault(key, []).append(reference)
    return {key: SortedRows.of_pieces([read_piece(p) for p in found], EVENTS) for key, found in paths.items()}


@pytest.mark.parametrize("fmt,limit", [("json", LIMIT), ("parquet", LIMIT // 2)])
def test_ranges_depend_only_on_the_rows(heavy_store, tmp_path, fmt, limit):
    encoder = encoder_for(fmt, EVENTS, "gzip")
    plans = []
    for batch_rows in (50_000, 7_001):
        partitions = _partitions(heavy_store[0], tmp_path / str(batch_rows), batch_rows)
        plan = {}
        for key, rows in partitions.items():
            first = next(shard_rows(encoder, rows, key[0], limit))   # what the partition's writer writes first
            first.spool.close()
            plan[key] = (first.count, staging.plan_ranges(rows, first.count, limit))
        plans.append(plan)
    assert plans[0] == plans[1]
    for key, (first, ranges) in plans[0].items():
        total = partitions[key].num_rows
        if total <= staging.MIN_RANGE_ROWS:
            assert ranges == [], key          # small partitions are written whole, as before
        elif ranges:
            assert ranges[0][0] == first and ranges[-1][1] == total
            assert all(end == begin for (_, end), (begin, _) in zip(ranges, ranges[1:]))
            assert len({end - begin for begin, end in ranges[:-1]}) == 1   # all alike but the last
            assert ranges[0][1] - first >= staging.MIN_RANGE_ROWS * staging.RANGE_FILL
    assert len(plans[0][(HEAVY, 20240310)][1]) >= 2


def _by_partition(objects):
    found = {}
    for item in objects:
        found.setdefault(staging._partition_id(item["event_name"], int(item["date"])), []).append(item)
    return found


def test_a_heavy_partition_is_encoded_in_ranges_and_numbered_after(heavy_store, tmp_path, monkeypatch):
    """In-process, so the staged files can be watched: each range of a heavy partition stages its own
    files, numbered after the writer's own first file, and a range edge does not cut a file short."""
    source, want = heavy_store
    staged, stage_file = [], staging.stage_file

    def watched(folder, name, stream):
        staged.append(_STAGED.fullmatch(name).groups())
        return stage_file(folder, name, stream)

    monkeypatch.setattr(staging, "stage_file", watched)
    dest = export_ok(source, tmp_path / "out", "json", START, END, "--max_file_bytes", LIMIT)
    manifest = verify_export(dest, "json", want, max_file_bytes=LIMIT)
    partitions = _by_partition(manifest["objects"])
    ranges = {}
    for partition, number, _ in staged:
        ranges.setdefault(partition, set()).add(number)
    assert len(ranges[staging._partition_id(HEAVY, 20240310)]) >= 2, staged
    assert 0 < len(ranges) < len(partitions)   # small partitions were written whole
    for partition in ranges:
        objects = sorted(partitions[partition], key=lambda o: o["index"])
        assert len(objects) == 1 + sum(1 for found, _, _ in staged if found == partition)
        assert all(o["bytes"] > LIMIT / 3 for o in objects[:-1]), [o["bytes"] for o in objects]
    assert not list(tmp_path.glob("out/.partial-*"))


def test_two_workers_and_a_rerun_write_the_same_bytes(heavy_store, tmp_path):
    """CSV, read back with the csv module and a strict RFC 4180 reader."""
    source, want = heavy_store
    one = export_ok(source, tmp_path / "one", "csv", START, END, "--max_file_bytes", LIMIT)
    first = folder_bytes(one)
    two = export_ok(source, tmp_path / "two", "csv", START, END, "--max_file_bytes", LIMIT, *TWO_WORKERS)
    assert folder_bytes(two) == first
    export_ok(source, one, "csv", START, END, "--max_file_bytes", LIMIT, *TWO_WORKERS)   # a rerun, same keys
    assert folder_bytes(one) == first
    manifest = verify_export(one, "csv", want, max_file_bytes=LIMIT)
    assert sum(o["event_name"] == HEAVY for o in manifest["objects"]) >= 4


def test_dask_writes_a_heavy_partition_from_ranges_staged_in_the_platform_bucket(
        heavy_store, dask_cluster, server, tmp_path, monkeypatch):
    source, _ = heavy_store
    local = export_ok(source, tmp_path / "local", "json", START, END, "--max_file_bytes", LIMIT)
    for name, value in dask_cluster.platform_env.items():   # the launcher, like the workers, is the platform
        monkeypatch.setenv(name, value)
    platform, mark = dask_cluster.platform_bucket, server.mark()
    with dask_cluster.client() as client, get_task_stream(client) as tasks:
        on_dask = export_ok(source, tmp_path / "dask", "json", START, END, "--max_file_bytes", LIMIT,
                            "--temp_location", f"s3://{platform}/spill/heavy", "--s3_endpoint_url", server.endpoint_url,
                            "--runner", "DaskRunner",
                            "--dask_client_address", dask_cluster.address)
    assert folder_bytes(on_dask) == folder_bytes(local)
    puts = {r.path for r in server.requests_since(mark) if r.method == "PUT" and f"/{platform}/spill/heavy/" in r.path}
    staged = {_STAGED.search(path).groups() for path in puts if "/staged/" in path}
    assert {number for _, number, _ in staged} >= {"00000", "00001"}, puts
    listing = server.admin_client().list_objects_v2(Bucket=platform, Prefix="spill/heavy/")
    assert listing.get("Contents", []) == []   # ranges and staged files removed after the run
    assert len({task["worker"] for task in tasks.data}) == 2
