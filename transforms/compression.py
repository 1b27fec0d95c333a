"""Output compression: one enum that carries its suffix, so no other code hard-codes '.gz'.

Gzip goes through ISA-L (`isal`), which writes standard gzip several times faster than zlib; the
header's mtime is fixed at 0 and its file name left empty so the same rows always give the same bytes.
"""

import contextlib
import enum

from isal import igzip

__all__ = ["Compression", "GZIP_LEVEL"]

# ISA-L level 2: ~800 MB/s. DESIGN.md expects output ~14% larger than zlib level 6; on stores full of
# random ids it is ~25% larger at every ISA-L level (benchmarks/README.md has the measurement).
GZIP_LEVEL = 2


class Compression(enum.Enum):
    GZIP = ".gz"
    NONE = ""   # formats that compress inside the file (Parquet, Avro)

    @property
    def suffix(self):
        return self.value

    def open(self, raw):
        """A context manager giving a writable stream over `raw`; leaving it finishes the stream, not `raw`."""
        if self is Compression.GZIP:
            return igzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=GZIP_LEVEL, mtime=0)
        return contextlib.nullcontext(raw)
