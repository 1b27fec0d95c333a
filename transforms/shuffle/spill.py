"""Where partition pieces wait between reading and writing, so the shuffle carries only their names.

Beam's in-process runner holds everything that crosses a GroupByKey in memory; a store of millions of
events would not fit. So each (name, date) piece is written here as an Arrow IPC file and only its path
is grouped; the writer reads a partition's pieces back (memory-mapped when local, see sorted_rows.py).
The folder is local for local runners and under --temp_location (shared storage) for distributed ones;
the launcher removes it after the run, with anything a retried bundle left behind. A killed launcher
cannot; so a local folder records the process that made it, and the next run of the same export removes
the folders of its earlier runs whose process is gone (the rows in them are the customer's data).

A heavy partition's row ranges and their encoded files wait here too (transforms/heavy_partitions.py), under
names derived from the partition and range, so a retried bundle rewrites the same paths; a local file
is written beside its name and renamed into place, so a reader never sees half of one.
"""

import contextlib
import glob
import mmap
import os
import shutil
import tempfile
import uuid

import pyarrow as pa

from transforms.runtime import platform_s3

__all__ = ["make_spill_dir", "remove_spill_dir", "write_pieces", "write_batches", "read_piece", "Piece",
           "stage_file", "open_staged"]

_LOCAL_OPTIONS = pa.ipc.IpcWriteOptions()                      # local disk: page cache beats LZ4
_REMOTE_OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4")    # shared storage: fewer bytes to move
_OWNER = "owner.pid"


def _is_local(folder):
    return "://" not in folder


def make_spill_dir(temp_location, run_name):
    if temp_location:
        return f"{temp_location.rstrip('/')}/{run_name}-{uuid.uuid4().hex[:8]}"
    _remove_abandoned(run_name)
    folder = tempfile.mkdtemp(prefix=f"{run_name}-")
    with open(os.path.join(folder, _OWNER), "w", encoding="ascii") as owner:
        owner.write(str(os.getpid()))
    return folder


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # someone else's process: alive
        return True
    return True


def _remove_abandoned(run_name):
    for folder in glob.glob(os.path.join(glob.escape(tempfile.gettempdir()), glob.escape(run_name) + "-*")):
        try:
            with open(os.path.join(folder, _OWNER), encoding="ascii") as owner:
                pid = int(owner.read())
        except (OSError, ValueError):   # not ours, or still being made
            continue
        if not _alive(pid):
            shutil.rmtree(folder, ignore_errors=True)


def remove_spill_dir(folder):
    if _is_local(folder):
        shutil.rmtree(folder, ignore_errors=True)
        return
    from apache_beam.io.filesystems import FileSystems
    try:
        FileSystems.delete([folder.rstrip("/") + "/"])
    except Exception:  # nosec B110  # a leftover temp folder must not fail a finished export; it is only temp data
        pass


def write_pieces(folder, tables):
    """Write `tables` one after another into one new file; return a reference to each (path#offset:length).

    One file per read batch, not per piece: a batch splits into as many pieces as it has (event, date)
    partitions, and creating a file costs more than writing one (ext4 scans for a free inode among the
    ones recently deleted, which after a few runs was a noticeable share of an export; docs/performance.md)."""
    tables = list(tables)
    if not tables:
        return []
    path = f"{folder.rstrip('/')}/{uuid.uuid4().hex}.arrow"
    options, references = _ipc_options(folder), []
    with _created(path, in_memory=True) as sink:
        for table in tables:
            start = sink.tell()
            with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
                writer.write_table(table)
            references.append(f"{path}#{start}:{sink.tell() - start}")
    return references


def _ipc_options(folder):
    return _LOCAL_OPTIONS if _is_local(folder) else _REMOTE_OPTIONS


@contextlib.contextmanager
def _created(path, in_memory=False):
    """A binary sink that becomes the file `path` when the block ends without an error. On shared storage,
    `in_memory` (a read batch's pieces: tens of MB at most) sends it in one PutObject of the process's
    platform S3 client instead of Beam's multipart upload through a client built for the call."""
    if in_memory and platform_s3.is_s3(path):
        sink = pa.BufferOutputStream()
        yield sink
        platform_s3.put_object(path, sink.getvalue())
        return
    if not _is_local(path):
        from apache_beam.io.filesystems import FileSystems
        from apache_beam.io.filesystem import CompressionTypes
        with pa.PythonFile(FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED), mode="w") as sink:
            yield sink
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = f"{path}.{uuid.uuid4().hex[:12]}.partial"
    try:
        with pa.OSFile(partial, "wb") as sink:
            yield sink
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def write_batches(folder, name, schema, tables):
    """Write `tables` (all of `schema`) one after the other as the one piece of the file `name` in
    `folder`; return its reference, as write_pieces does (path#0:length)."""
    path = f"{folder.rstrip('/')}/{name}"
    with _created(path) as sink:
        with pa.ipc.new_stream(sink, schema, options=_ipc_options(folder)) as writer:
            for table in tables:
                writer.write_table(table)
        length = sink.tell()
    return f"{path}#0:{length}"


def stage_file(folder, name, stream):
    """Copy binary `stream` to the file `name` in `folder` (an encoded object waiting for its key); its path."""
    path = f"{folder.rstrip('/')}/{name}"
    with _created(path) as sink:
        shutil.copyfileobj(stream, sink, 8 << 20)
    return path


@contextlib.contextmanager
def open_staged(path):
    """A staged file, as the seekable binary stream Destination.put takes."""
    if _is_local(path):
        with open(path, "rb") as stream:
            yield stream
        return
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.io.filesystem import CompressionTypes
    with tempfile.SpooledTemporaryFile(max_size=16 << 20) as copy:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as source:
            shutil.copyfileobj(source, copy, 8 << 20)
        copy.seek(0)
        yield copy


class Piece:
    """A spilled piece read back: `table`, memory-mapped when local. `release` hands the pages read so far
    back to the page cache (they are read again, from there, if touched again), so a piece costs the
    process memory only while a slice of it is being copied out."""

    def __init__(self, table, mapping=None):
        self.table, self._mapping = table, mapping

    def release(self):
        if self._mapping is not None:
            self._mapping.madvise(mmap.MADV_DONTNEED)


def read_piece(reference):
    path, _, span = reference.rpartition("#")
    offset, length = (int(part) for part in span.split(":"))
    if _is_local(path):
        with open(path, "rb") as handle:
            mapping = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        return Piece(pa.ipc.open_stream(pa.py_buffer(mapping)[offset:offset + length]).read_all(), mapping)
    if platform_s3.is_s3(path):   # one ranged GET
        return Piece(pa.ipc.open_stream(platform_s3.read_range(path, offset, length)).read_all())
    from apache_beam.io.filesystems import FileSystems
    with FileSystems.open(path) as source:
        source.seek(offset)
        return Piece(pa.ipc.open_stream(source.read(length)).read_all())
