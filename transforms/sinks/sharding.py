"""Cutting a partition's sorted rows into contiguous files, each at most `limit` bytes as stored.

Sizes are measured, never guessed: a candidate file is encoded and compressed into a spool, and its
real size decides. Rows whose Arrow buffers are smaller than the limit are first tried whole (encoded
and compressed they are nearly always smaller still, so most partitions are encoded once); otherwise
the first candidate is a small sample that sets the rows-per-byte estimate. A candidate that turns out
too big is shrunk in proportion and encoded again. The result depends only on the rows, so a rerun cuts
the same files. Spools live in memory up to SPOOL_MEMORY_BYTES, then on disk.
"""

import contextlib
import tempfile

from transforms.sinks.target import Hashes
from transforms.errors import RowTooLargeError

__all__ = ["Shard", "shard_rows", "encode_to_spool", "start_encoding", "tried_whole"]

SAMPLE_ROWS = 4096          # first candidate: enough rows for a stable bytes-per-row estimate
FILL = 0.97                 # aim a little under the limit, since compression ratios wander
GROW_BELOW = 0.85           # a candidate smaller than this share of the limit is grown, if rows remain
SPOOL_MEMORY_BYTES = 16 << 20


class Shard:
    """Rows [start, start + count) of the partition, encoded in `spool` (positioned at 0), `size` bytes;
    `spool.hashes` are its digests, for Destination.put."""

    def __init__(self, start, count, spool, size):
        self.start, self.count, self.spool, self.size = start, count, spool, size


class _Spool(tempfile.SpooledTemporaryFile):
    """A spool that hashes what is written to it: for gzip formats that is done on the compressing thread
    (transforms/formats/compression.py), beside the encoder, instead of by the uploader after it."""

    def __init__(self):
        super().__init__(max_size=SPOOL_MEMORY_BYTES)
        self.hashes = Hashes()

    def write(self, data):
        self.hashes.update(data)
        return super().write(data)


def start_encoding(encoder, rows, name):
    """Encode `rows` into a spool and return while its last writes may still be compressed on their
    thread; the function returned waits for them and gives (spool, size). A writer encodes its next file
    meanwhile (steps._WriteGroup), so one file's compression runs beside the next one's encoding, where
    the end of every file held the encoder up."""
    spool = _Spool()
    compressing = contextlib.ExitStack()
    try:
        encoder.write_file(rows, name, compressing.enter_context(encoder.compression.open(spool)))
    except BaseException:
        compressing.close()
        spool.close()
        raise

    def finish():
        try:
            compressing.close()
        except BaseException:
            spool.close()
            raise
        size = spool.tell()
        spool.seek(0)
        return spool, size

    return finish


def encode_to_spool(encoder, rows, name):
    return start_encoding(encoder, rows, name)()


def tried_whole(rows, limit):
    """Are `rows` first encoded whole as one file? They are when smaller in memory than the limit."""
    return rows.nbytes <= limit * FILL


def shard_rows(encoder, rows, name, limit, first_count=SAMPLE_ROWS, started=None):
    """Yield `Shard`s covering all of `rows` in order; the caller closes each spool. `first_count`: the
    first candidate's rows, when the rows are larger than the limit (a caller that already knows about
    how many rows fill a file passes that, and saves the sample: transforms/heavy_partitions.py).
    `started`: the whole rows' encoding, begun by start_encoding when `tried_whole` says so."""
    total = rows.num_rows
    start, count = 0, first_count
    while start < total:
        if rows.nbytes * (total - start) / total <= limit * FILL:
            count = total   # what remains is smaller in memory than the limit: try it whole first
        count, shrunk = min(count, total - start), False
        while True:
            if started:
                spool, size = started()
                started = None
            else:
                spool, size = encode_to_spool(encoder, rows.slice(start, count), name)
            if size <= limit:
                target = min(total - start, int(count * limit * FILL / size))
                if shrunk or size >= limit * GROW_BELOW or target <= count:
                    break
                count = target
            else:
                if count == 1:
                    raise RowTooLargeError(
                        f"one {name!r} record takes {size} bytes encoded, more than --max_file_bytes {limit}; "
                        "raise --max_file_bytes")
                count, shrunk = max(1, min(count - 1, int(count * limit * FILL / size))), True
            spool.close()
        yield Shard(start, count, spool, size)
        start += count
