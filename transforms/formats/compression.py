"""Output compression: one enum that carries its suffix, so no other code hard-codes '.gz'.

Gzip goes through ISA-L (`isal`), which writes standard gzip several times faster than zlib; the
header's mtime is fixed at 0 and its file name left empty so the same rows always give the same bytes.
It runs on a thread of its own, one chunk behind the encoder: ISA-L releases the GIL while it
compresses, so a worker encodes the next chunk while the last one is compressed and spooled, as
DuckDB's single-threaded COPY also does on a second core. The bytes are the same as written inline.
"""

import collections
import concurrent.futures
import contextlib
import enum
import io

from isal import igzip

__all__ = ["Compression", "GZIP_LEVEL", "Background"]

# ISA-L level 2: many times zlib's speed for somewhat larger output (docs/performance.md, benchmarks/README.md).
GZIP_LEVEL = 2
# Gzip chunks handed over but not yet compressed: one being compressed, two waiting, so XML's file of
# header, one slice and footer is handed over whole and the encoder goes on to the next file. The
# encoders write a few MB to ~25 MB at a time, so this bounds what is held to a few of them.
_IN_FLIGHT = 3


class Compression(enum.Enum):
    GZIP = ".gz"
    NONE = ""   # formats that compress inside the file (Parquet, Avro)

    @property
    def suffix(self):
        return self.value

    def open(self, raw):
        """A context manager giving a writable stream over `raw`; leaving it finishes the stream, not `raw`."""
        if self is Compression.GZIP:
            return Background(igzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=GZIP_LEVEL, mtime=0))
        return contextlib.nullcontext(raw)


class Background(io.BufferedIOBase):
    """A write-only stream that hands each write to `stream` on one worker thread, in order. A failure
    there is raised by a later write or by leaving the block. The caller must not change a buffer it
    has written (the encoders hand over bytes and Arrow buffers, which nobody changes). Leaving the block
    closes `stream` (a gzip stream, which that finishes) only when `owns` says so. `in_flight`: writes
    handed over and not yet done before a write waits."""

    def __init__(self, stream, owns=True, in_flight=_IN_FLIGHT):
        super().__init__()
        self._stream, self._owns, self._in_flight = stream, owns, in_flight
        self._pending = collections.deque()
        self._worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="compress")

    def writable(self):
        return True

    def write(self, data):
        self._submit(self._stream.write, data)
        return len(data)

    def write_made(self, make, *args):
        """Write what `make(*args)` returns, made on the worker thread too (Avro's deflated blocks)."""
        self._submit(lambda: self._stream.write(make(*args)))

    def _submit(self, function, *args):
        while len(self._pending) >= self._in_flight:
            self._pending.popleft().result()
        self._pending.append(self._worker.submit(function, *args))

    def close(self):
        """Wait for every write, then close `stream` if it is ours."""
        if not self.closed:
            try:
                self._drain()
                if self._owns:
                    self._stream.close()
            finally:
                super().close()

    def __exit__(self, kind, error, trace):
        if error is None:
            self.close()
            return
        self._worker.shutdown(wait=True, cancel_futures=True)   # the file is abandoned: stop, without finishing it
        self._pending.clear()
        super().close()

    def _drain(self):
        try:
            while self._pending:
                self._pending.popleft().result()
        finally:
            self._worker.shutdown(wait=True, cancel_futures=True)
