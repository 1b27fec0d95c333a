"""transforms/sinks/sharding.py: a partition whose whole encoding was begun ahead (start_encoding, as the
writer does while the last file is still compressed) is cut into the same files, byte for byte, as one
encoded in turn; also when the whole turns out bigger than a file after all."""

import glob

import pyarrow.parquet as pq
import pytest

from devtools.generate import generate
from transforms.formats import encoder_for
from transforms.formats.compression import Compression
from transforms.formats.json_format import JsonEncoder
from transforms.records import EVENTS
from transforms.shuffle.partition import add_time_parts, split_by_partition
from transforms.sinks.sharding import FILL, shard_rows, start_encoding, tried_whole
from transforms.sources.validation import validate


@pytest.fixture(scope="module")
def partition(tmp_path_factory):
    store = tmp_path_factory.mktemp("store")
    generate(str(store), 3000, 1, "parquet", seed=5)
    table = pq.read_table(sorted(glob.glob(str(store / "events" / "*" / "*.parquet")))[0])
    parts = split_by_partition(add_time_parts(validate("store", table, EVENTS, []), "event_time", "UTC"), EVENTS)
    (name, _), rows = max(parts, key=lambda part: part[1].num_rows)
    return name, rows


def _files(encoder, rows, name, limit, started=None):
    files = []
    for shard in shard_rows(encoder, rows, name, limit, started=started):
        with shard.spool:
            files.append((shard.start, shard.count, shard.size, shard.spool.read()))
    return files


@pytest.mark.parametrize("fmt", ["xml", "json", "parquet"])
def test_a_partition_begun_ahead_fits_one_file_as_before(partition, fmt):
    name, rows = partition
    encoder, limit = encoder_for(fmt, EVENTS), 100 << 20
    assert tried_whole(rows, limit)
    ahead = _files(encoder, rows, name, limit, started=start_encoding(encoder, rows, name))
    assert ahead == _files(encoder, rows, name, limit) and len(ahead) == 1 and ahead[0][1] == rows.num_rows


class _Twice(JsonEncoder):
    """Each row twice, uncompressed: bigger than the rows in Arrow, so a whole tried is too big."""
    compression = Compression.NONE

    def write_file(self, rows, name, out):
        super().write_file(rows, name, out)
        super().write_file(rows, name, out)


def test_a_partition_begun_ahead_that_outgrows_a_file_is_cut_as_before(partition):
    name, rows = partition
    encoder = _Twice(EVENTS)
    limit = int(rows.nbytes / FILL) + 1
    ahead = _files(encoder, rows, name, limit, started=start_encoding(encoder, rows, name))
    assert tried_whole(rows, limit) and len(ahead) > 1   # the whole was tried, found too big, and cut
    assert ahead == _files(encoder, rows, name, limit)
