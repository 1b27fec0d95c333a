"""Tables kept aside between an encoder's two passes over a file, on disk rather than in memory.

CSV (the header needs every key of the file) and Parquet (a key's type is the whole file's) learn
something from a file's last slice that its first slice's output depends on. Holding a big file's
typed slices would make memory follow the file; typing them twice costs a second parse of every map
text. So the first pass keeps what it typed here, as Arrow IPC in a temporary file, and the second reads
each back memory-mapped; the pages it read go back to the page cache once the slice is written.
"""

import mmap
import tempfile

import pyarrow as pa

__all__ = ["Scratch"]


class Scratch:
    """`add(table)` in the first pass; then `tables()` yields them back in the same order."""

    def __init__(self):
        self._file = tempfile.TemporaryFile()
        self._sink = pa.PythonFile(self._file, mode="w")
        self._spans = []

    def add(self, table):
        begin = self._sink.tell()
        with pa.ipc.new_stream(self._sink, table.schema) as stream:
            stream.write_table(table)
        self._spans.append((begin, self._sink.tell() - begin))

    def tables(self):
        """Each kept table, its buffers in the mapped file: let go of one before asking for the next."""
        self._file.flush()   # PythonFile's flush does not reach the file object's own buffer
        if not self._spans:
            return
        mapping = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            for begin, length in self._spans:
                yield pa.ipc.open_stream(pa.py_buffer(mapping)[begin:begin + length]).read_all()
                mapping.madvise(mmap.MADV_DONTNEED)
        finally:
            try:
                mapping.close()
            except BufferError:   # a caller still holds a table: the mapping goes when it does
                pass

    def close(self):
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
