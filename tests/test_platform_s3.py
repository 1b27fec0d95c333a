"""The platform's S3 client (transforms/runtime/platform_s3.py) against the local S3 server: every byte read back
however the reader seeks, each part fetched once and at most READ_AHEAD of them held, Parquet read through it,
and a missing or denied object raised as the file error it is."""

import io
import os
import random
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from devtools.local_s3 import platform_policy, provision_least_privilege
from transforms.runtime import platform_s3

PART = 1000


@pytest.fixture
def platform(server, monkeypatch):
    """A platform bucket, its key in Beam's options (as the launcher sets them), and small parts."""
    bucket = f"platform-{uuid.uuid4().hex[:10]}"
    key = provision_least_privilege(server, bucket, policy=platform_policy(bucket))
    FileSystems.set_options(PipelineOptions([
        "--s3_endpoint_url", server.endpoint_url, "--s3_region_name", server.region,
        "--s3_access_key_id", key.access_key_id, "--s3_secret_access_key", key.secret_access_key]))
    monkeypatch.setattr(platform_s3, "PART_BYTES", PART)
    monkeypatch.setattr(platform_s3, "READ_AHEAD", 2)
    yield bucket
    FileSystems.set_options(None)


def _put(server, bucket, key, data):
    server.admin_client().put_object(Bucket=bucket, Key=key, Body=data)
    return f"s3://{bucket}/{key}"


def test_every_byte_comes_back_however_the_reader_seeks(server, platform):
    data = os.urandom(3 * PART + PART // 2)
    path = _put(server, platform, "store/a b/part=1.bin", data)
    shuffled = random.Random(7)
    with platform_s3.open_object(path) as reader:
        assert reader.seek(0, io.SEEK_END) == len(data)
        for _ in range(200):
            start, size = shuffled.randrange(len(data) + 10), shuffled.choice([1, 10, PART - 1, PART, 2 * PART + 3])
            reader.seek(start)
            assert reader.read(size) == data[start:start + size]
            assert reader.tell() == min(len(data), max(start, start + min(size, len(data) - start)))
            assert len(reader._parts) <= platform_s3.READ_AHEAD
        reader.seek(-5, io.SEEK_END)
        assert reader.read() == data[-5:]
        reader.seek(0)
        assert reader.read() == data
        buffer = bytearray(10)
        reader.seek(PART - 5)
        assert reader.readinto(buffer) == 10 and bytes(buffer) == data[PART - 5:PART + 5]


def test_a_sequential_read_asks_for_each_part_once(server, platform):
    data = os.urandom(5 * PART)
    path = _put(server, platform, "store/sequential.bin", data)
    mark = server.mark()
    with platform_s3.open_object(path) as reader:
        assert b"".join(iter(lambda: reader.read(300), b"")) == data
    requests = [r for r in server.recorded_since(mark) if r.path.endswith("/sequential.bin")]
    assert [r.method for r in requests].count("HEAD") == 1
    ranges = sorted(r.headers["range"] for r in requests if r.method == "GET")
    assert ranges == sorted(f"bytes={i * PART}-{(i + 1) * PART - 1}" for i in range(5))


def test_parquet_reads_through_it(server, platform):
    table = pa.table({"n": list(range(5000)), "text": [f"row {i} " * (i % 7) for i in range(5000)]})
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=700)
    path = _put(server, platform, "store/events.parquet", sink.getvalue())
    assert len(sink.getvalue()) > 10 * PART
    with platform_s3.open_object(path) as reader:
        assert pq.ParquetFile(reader).read().equals(table)


def test_a_ranged_file_asks_for_just_what_is_read(server, platform):
    table = pa.table({"n": list(range(5000)), "text": [os.urandom(200).hex() for _ in range(5000)]})
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=700)
    path = _put(server, platform, "store/footer.parquet", sink.getvalue())
    mark = server.mark()
    with platform_s3.open_ranged(path, len(sink.getvalue())) as reader:
        assert pq.ParquetFile(reader).read(columns=["n"]).equals(table.select(["n"]))
    requests = [r for r in server.recorded_since(mark) if r.path.endswith("/footer.parquet")]
    asked = sum(int(end) - int(start) + 1 for start, end in
                (r.headers["range"].removeprefix("bytes=").split("-") for r in requests))
    assert len(sink.getvalue()) > PART and all(r.method == "GET" for r in requests)
    assert asked < len(sink.getvalue()) // 10   # the footer and the numbers, never the text nor a part ahead


def test_a_missing_or_denied_object_is_the_file_error_it_is(server, platform):
    with pytest.raises(FileNotFoundError, match="no such object") as missing:
        platform_s3.open_object(f"s3://{platform}/store/nothing.parquet")
    assert missing.value.filename == f"s3://{platform}/store/nothing.parquet"
    outside = _put(server, platform, "elsewhere/x.parquet", b"x")   # the platform key reads store/ alone
    with pytest.raises(PermissionError, match="access denied"):
        platform_s3.open_object(outside)
    with pytest.raises(PermissionError):
        platform_s3.read_range(outside, 0, 1)


def test_ranges_and_puts(server, platform):
    path = f"s3://{platform}/spill/piece.arrow"
    platform_s3.put_object(path, b"0123456789")
    assert platform_s3.read_range(path, 3, 4) == b"3456" and platform_s3.read_range(path, 3, 0) == b""
    with pytest.raises(PermissionError):
        platform_s3.put_object(f"s3://{platform}/store/written.bin", b"no")   # the store is read-only to it
