"""Fixtures of the fault cases (tests/test_s3_faults.py, tests/test_kills.py), loaded by tests/conftest.py:
a store whose largest object becomes a multipart upload at small scale, its export without faults, and
a local S3 server that takes small parts."""

import random

import pytest

from tests.support import reliability
from tests.support.exports import export_ok
from tests.support.stores import layout_by_time, ms, write_store

__all__ = ["FAULT_START", "FAULT_END", "SMALL_PART"]

FAULT_START, FAULT_END = "2024-03-05T00:00:00Z", "2024-03-07T00:00:00Z"
SMALL_PART = 64 << 10   # the fault server's smallest part, and the exporter's part size in fault tests


@pytest.fixture(scope="session")
def small_parts_server():
    """A local S3 server that takes 64 KiB parts, so a multipart upload needs only a few hundred KB."""
    from devtools.local_s3 import LocalS3Server
    with LocalS3Server(settings={"S3_UPLOAD_PART_MIN_SIZE": str(SMALL_PART)}) as running:
        yield running


@pytest.fixture(scope="session")
def fault_store(tmp_path_factory):
    """(store root, ids of every record in the window): one 'Big' partition of ~300 KB of gzip JSON (a
    multipart upload when parts are SMALL_PART), small partitions on two days, and a few bad records."""
    rng = random.Random(5)
    day = [ms("2024-03-05T08:00:00Z"), ms("2024-03-06T08:00:00Z")]
    records = [reliability.event(f"big-{i}", day[0] + i * 1000, name="Big",
                                 event_props={reliability.ID_PROP: f"rid:big-{i}", "blob": rng.randbytes(200).hex()})
               for i in range(1300)]
    records += [reliability.event(f"small-{i}", day[i % 2] + i * 1000, name=f"Small {i % 3}") for i in range(300)]
    records += [reliability.event("bad-time", day[0], event_time=None),
                reliability.event("bad-props", day[1], event_props="[\"rid:bad-props\"]")]
    root = write_store(tmp_path_factory.mktemp("fault-store"), layout_by_time(records, parts=3), "parquet")
    return root, [r["event_id"] for r in records]


@pytest.fixture(scope="session")
def fault_calm(fault_store, tmp_path_factory):
    """{name: bytes} of the fault store's export without any fault, to a local folder: what every faulted
    or killed run must end up writing."""
    dest = export_ok(fault_store[0], tmp_path_factory.mktemp("calm"), "json", FAULT_START, FAULT_END)
    return reliability.folder_files(dest)
