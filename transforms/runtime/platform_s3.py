"""The platform's own S3 (the event and profile stores, their mark, the spill), reached with Beam's S3Options
alone, never with anything of the customer's.

The options are the ones Beam's FileSystems holds in this process: the launcher sets them from the
pipeline's own options, Beam's SDK worker (multi_processing) from the job's, a Dask worker from the
launcher's flags (worker_filesystems.py). So the client here is the one Beam's S3 filesystem would build
(`--s3_endpoint_url`, `--s3_region_name`, `--s3_access_key_id` and secret, else boto3's standard chain).

Beam's S3 filesystem builds a new boto3 client for every call (0.12 s of CPU each on this machine) and
reads an object as one stream, reopened at every seek. Here one client serves the process, and an
object is read in parts of PART_BYTES fetched ahead of the reader on FETCH_THREADS threads: at most
READ_AHEAD parts per open object are asked for or held, so memory stays bounded whatever the object's
size, a large Parquet file's column chunks arrive while the last ones are decoded, and a reader's jump
(Parquet reads its footer first) costs one ranged GET.
"""

import concurrent.futures
import errno
import functools
import io
import re

import boto3
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, S3Options
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

__all__ = ["open_object", "open_ranged", "read_range", "put_object", "is_s3", "PART_BYTES", "READ_AHEAD", "FETCH_THREADS"]

# 8 MiB parts, 4 ahead: 32 MiB at most per open object. A store file is read by two threads at once
# (transforms/runtime/prefetch.py), so reading holds 64 MiB at most, within the 500 MiB a worker may use.
PART_BYTES = 8 << 20
READ_AHEAD = 4
# Requests in flight per process: two open objects' read-ahead, and the botocore pool holds as many.
FETCH_THREADS = 2 * READ_AHEAD
_S3_PATH = re.compile(r"s3://([^/]+)/(.+)", re.DOTALL)
_MISSING = ("404", "NoSuchKey", "NoSuchBucket", "NotFound")
_DENIED = ("403", "AccessDenied", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch")


def is_s3(path):
    return path.startswith("s3://")


def _split(path):
    found = _S3_PATH.fullmatch(path)
    if not found:
        raise ValueError(f"{path!r} is not s3://bucket/key")
    return found.group(1), found.group(2)


def _settings():
    """The S3Options FileSystems holds here, as a hashable tuple (no options: boto3's standard chain)."""
    options = FileSystems._pipeline_options or PipelineOptions([])  # pylint: disable=protected-access; no getter
    s3 = options.view_as(S3Options)
    return (s3.s3_endpoint_url, s3.s3_region_name, s3.s3_api_version, s3.s3_verify, bool(s3.s3_disable_ssl),
            s3.s3_access_key_id, s3.s3_secret_access_key, s3.s3_session_token)


@functools.lru_cache(maxsize=4)
def _client_for(settings):
    endpoint, region, api_version, verify, no_ssl, key_id, secret, token = settings
    config = Config(retries={"mode": "standard", "max_attempts": 8}, max_pool_connections=FETCH_THREADS + 2,
                    connect_timeout=10, read_timeout=60)
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint, region_name=region, api_version=api_version, verify=verify,
        use_ssl=not no_ssl, aws_access_key_id=key_id, aws_secret_access_key=secret, aws_session_token=token,
        config=config)


def _client():
    return _client_for(_settings())


@functools.lru_cache(maxsize=1)
def _pool():
    return concurrent.futures.ThreadPoolExecutor(max_workers=FETCH_THREADS, thread_name_prefix="platform-s3")


def _os_error(error, path):
    """A botocore error as the OSError a file would raise: FileNotFoundError, PermissionError or OSError,
    with S3's code and the path (never a key id: botocore's messages do not hold one)."""
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = str(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        if code in _MISSING or status == "404":
            return FileNotFoundError(errno.ENOENT, f"no such object ({code or status})", path)
        if code in _DENIED or status == "403":
            return PermissionError(errno.EACCES, f"access denied ({code or status})", path)
        return OSError(errno.EIO, f"S3 refused the request ({code or status})", path)
    return OSError(errno.EIO, f"cannot reach S3 ({type(error).__name__})", path)


def _get(bucket, key, path, start, end):
    """Bytes [start, end) of the object."""
    try:
        body = _client().get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{end - 1}")["Body"]
        with body:
            data = body.read()
    except (ClientError, BotoCoreError) as error:
        raise _os_error(error, path) from None
    if len(data) != end - start:   # the object changed under us, or the connection dropped mid-body
        raise OSError(errno.EIO, f"S3 sent {len(data)} bytes of {end - start} at {start}", path)
    return data


def read_range(path, start, length):
    """`length` bytes of s3://bucket/key from `start`, in one ranged GET."""
    bucket, key = _split(path)
    return _get(bucket, key, path, start, start + length) if length else b""


def put_object(path, data):
    """Write bytes-like `data` as the object at `path`, in one PutObject."""
    bucket, key = _split(path)
    try:
        _client().put_object(Bucket=bucket, Key=key, Body=bytes(data))
    except (ClientError, BotoCoreError) as error:
        raise _os_error(error, path) from None


class _ObjectFile(io.RawIOBase):
    """A read-only, seekable file over the S3 object at `path` of `size` bytes; a subclass says how its
    bytes are fetched (`read`)."""

    def __init__(self, path, size):
        super().__init__()
        self.name, self._size, self._position = path, size, 0
        self._bucket, self._key = _split(path)

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self._position

    def seek(self, offset, whence=io.SEEK_SET):
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        self._position = base + offset
        return self._position

    def _end(self, size):
        """Where a read of `size` bytes (all, when None or negative) from here stops."""
        return self._size if size is None or size < 0 else min(self._size, self._position + size)

    def readall(self):
        return self.read()

    def readinto(self, buffer):
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


class _ObjectReader(_ObjectFile):
    """An object read whole, in parts fetched ahead of the reader; see the module's docstring."""

    def __init__(self, path):
        bucket, key = _split(path)
        try:
            size = _client().head_object(Bucket=bucket, Key=key)["ContentLength"]
        except (ClientError, BotoCoreError) as error:
            raise _os_error(error, path) from None
        super().__init__(path, size)
        self._parts = {}

    def _part(self, index):
        """Part `index`'s bytes; asks for the READ_AHEAD parts from it on, lets go of every other."""
        wanted = range(index, min(index + READ_AHEAD, -(-self._size // PART_BYTES)))
        for stale in [i for i in self._parts if i not in wanted]:
            self._parts.pop(stale).cancel()
        for i in wanted:
            if i not in self._parts:
                start = i * PART_BYTES
                self._parts[i] = _pool().submit(_get, self._bucket, self._key, self.name, start,
                                                min(start + PART_BYTES, self._size))
        return self._parts[index].result()

    def read(self, size=-1):
        """Exactly `size` bytes (fewer only at the end): Parquet's reader takes a short read for a fault."""
        end, pieces = self._end(size), []
        while self._position < end:
            index, offset = divmod(self._position, PART_BYTES)
            data = self._part(index)
            piece = memoryview(data)[offset:offset + end - self._position]
            pieces.append(piece)
            self._position += len(piece)
        if len(pieces) == 1 and len(pieces[0]) == len(pieces[0].obj):
            return pieces[0].obj
        return b"".join(pieces)

    def close(self):
        for future in self._parts.values():
            future.cancel()
        self._parts = {}
        super().close()


def open_object(path):
    """s3://bucket/key as a seekable binary file; FileNotFoundError or PermissionError if it cannot be read."""
    return _ObjectReader(path)


class _RangedReader(_ObjectFile):
    """An object of which a few small pieces are read (a Parquet footer and a column or two): each read is
    one ranged GET of just what is asked, never a part ahead."""

    def read(self, size=-1):
        end = self._end(size)
        data = _get(self._bucket, self._key, self.name, self._position, end) if end > self._position else b""
        self._position += len(data)
        return data


def open_ranged(path, size):
    """s3://bucket/key, of `size` bytes, as a seekable binary file whose every read is one ranged GET."""
    return _RangedReader(path, size)
