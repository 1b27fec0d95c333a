"""Two S3 servers, as production has two S3 worlds (DESIGN.md): the platform's (the session's `server`:
the store, its mark and the spill, under a platform key that may read `store/` and use `spill/`) and the
customer's (a server of its own: a bucket and the least-privilege key, list and put).

Both servers record every request with its headers (devtools/local_s3.py), so a test can show which key
signed what, that neither server saw a request for the other's bucket, and that the customer's bucket
saw only ListObjectsV2 and PutObject.
"""

import dataclasses
import datetime as dt
import json
import os
import re
import shutil
import uuid

import pytest

from devtools.generate import generate
from devtools.local_s3 import (Credentials, LocalS3Server, platform_policy, provision_least_privilege,
                               upload_tree)
from pipelines.options import SECRET_ENV
from tests.support.exports import export
from tests.support.stores import GEN_END_DATE, HAND_RECORDS, write_store

__all__ = ["customer_server", "local_store", "Platform", "platform", "land_store", "Customer", "new_customer",
           "credential_of", "assert_worlds_apart", "bucket_objects", "export_from_s3", "manifest_of",
           "without_aws_environment", "BAD_LINES", "STORE_PREFIX"]

STORE_PREFIX = "store/"
BAD_LINES = ["this is not json {", "[1, 2, 3]"]
_SHIFT_MS = 3 * 86_400_000   # the hand records moved into the generated store's days
_BAD_FILE_MS = 1_709_985_600_000   # 2024-03-09T12:00:00Z
_FORMATS_BY_HOUR = ("parquet", "avro", "jsonl")
_CREDENTIAL = re.compile(r"Credential=([^/]+)/")


@pytest.fixture(scope="module")
def customer_server():
    """The customer's S3: a server of its own, on its own port."""
    with LocalS3Server() as running:
        yield running


@pytest.fixture(scope="module")
def local_store(tmp_path_factory):
    """A small store as a local folder: generated Parquet (hostile names) in day folders; the hand records in
    captured_hour= folders as Parquet, Avro, .jsonl and .jsonl.gz; a JSON Lines file with bad lines;
    profiles; both completeness marks."""
    base = tmp_path_factory.mktemp("s3-store")
    generate(base, 2500, 3, "parquet", seed=31, end=GEN_END_DATE, hostile=True)
    events = base / "events"
    by_hour = {}
    for record in HAND_RECORDS:
        record = dict(record, event_time=record["event_time"] + _SHIFT_MS,
                      captured_at=record["captured_at"] + _SHIFT_MS)
        stamp = divmod(record["captured_at"] // 3_600_000, 24)
        by_hour.setdefault(stamp, []).append(record)
    for (day, hour), records in sorted(by_hour.items()):
        folder = f"captured_date={_date(day)}/captured_hour={hour:02d}"
        fmt = _FORMATS_BY_HOUR[hour % 3]
        write_store(events, {folder: [records[::2], records[1::2]] if fmt == "jsonl" else [records]}, fmt)
    staging = base / "staging"   # bad lines in a folder the test window holds: its rejects are the run's
    good = dict(HAND_RECORDS[0], event_id="from-bad-file", event_time=_BAD_FILE_MS, captured_at=_BAD_FILE_MS + 1000)
    write_store(staging, {"x": [[good, *BAD_LINES]]}, "jsonl")
    shutil.move(staging / "x" / "part-00000.jsonl.gz", events / "captured_date=2024-03-09" / "with-bad-lines.jsonl.gz")
    shutil.rmtree(staging)
    return base


def _date(days):
    return (dt.date(1970, 1, 1) + dt.timedelta(days=days)).isoformat()


@dataclasses.dataclass
class Platform:
    server: LocalS3Server
    bucket: str
    key: Credentials

    def store(self, kind="events"):
        return f"s3://{self.bucket}/{STORE_PREFIX}{kind}"

    def beam_options(self):
        """Beam's S3 options for this platform, its key included (the launcher's way; workers use env)."""
        return ["--s3_endpoint_url", self.server.endpoint_url, "--s3_region_name", self.server.region,
                "--s3_access_key_id", self.key.access_key_id, "--s3_secret_access_key", self.key.secret_access_key]


def land_store(server, bucket, local_store):
    upload_tree(server, str(local_store), bucket, STORE_PREFIX)


@pytest.fixture(scope="module")
def platform(server, local_store):
    """The store landed in a new platform bucket on the session's server, and the platform key."""
    bucket = f"platform-{uuid.uuid4().hex[:10]}"
    key = provision_least_privilege(server, bucket, policy=platform_policy(bucket))
    land_store(server, bucket, local_store)
    return Platform(server, bucket, key)


@dataclasses.dataclass
class Customer:
    server: LocalS3Server
    bucket: str
    key: Credentials

    def destination_options(self):
        return ["--destination_endpoint_url", self.server.endpoint_url, "--destination_path_style",
                "--destination_access_key_id", self.key.access_key_id]


def new_customer(server, monkeypatch):
    """A new customer bucket with the least-privilege key; its secret in the destination's variable."""
    bucket = f"cust-{uuid.uuid4().hex[:12]}"
    key = provision_least_privilege(server, bucket)
    monkeypatch.setenv(SECRET_ENV, key.secret_access_key)
    return Customer(server, bucket, key)


def credential_of(request):
    """The access key id that signed a recorded request."""
    found = _CREDENTIAL.search(request.headers.get("authorization", ""))
    return found.group(1) if found else None


def assert_worlds_apart(platform, platform_mark, customer, customer_mark):
    """Since the marks: the platform's server saw only the platform key and never the customer's bucket; the
    customer's server saw only the customer's key and bucket, and there only ListObjectsV2 and plain PutObject."""
    on_platform = platform.server.recorded_since(platform_mark)
    assert on_platform, "the store was not read from the platform's server"
    assert {credential_of(r) for r in on_platform} == {platform.key.access_key_id}
    assert not [r for r in on_platform if r.path.split("/")[1] == customer.bucket]
    on_customer = customer.server.recorded_since(customer_mark)
    assert {credential_of(r) for r in on_customer} == {customer.key.access_key_id}
    assert {r.path.split("/")[1] for r in on_customer} == {customer.bucket}
    for r in on_customer:
        listing = r.method == "GET" and r.path == f"/{customer.bucket}" and "list-type=2" in r.query
        put = r.method == "PUT" and not r.query and "x-amz-copy-source" not in r.headers
        assert listing or put, f"{r.method} {r.path}?{r.query}"
    assert all(r.status < 400 for r in customer.server.requests_since(customer_mark))


def bucket_objects(customer, prefix=""):
    """{name: bytes} of the customer's objects under `prefix`, read with the server's admin key."""
    from tests.support.reliability import bucket_files
    return bucket_files(customer.server, customer.bucket, prefix)


def export_from_s3(source, customer, fmt, start, end, *extra):
    """Export `source` (s3://) to the customer's bucket, at its root so the manifest's keys are those of an
    export to a local folder; return (status, text)."""
    return export(source, f"s3://{customer.bucket}", fmt, start, end, *customer.destination_options(),
                  *extra)


def manifest_of(objects):
    (name,) = [name for name in objects if name.endswith("-manifest.json")]
    return json.loads(objects[name])


def without_aws_environment(monkeypatch):
    """No platform key in this process's environment: whatever reaches S3 must come from options."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
