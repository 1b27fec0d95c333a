"""Exports to a real S3 server (moto, IAM enforced) with exactly the customer's least-privilege key."""

import datetime as dt
import json
import os
import subprocess
import sys
import uuid

import pytest

from pipelines import export
from devtools.local_s3 import least_privilege_policy, provision_least_privilege
from devtools.generate import generate
from pipelines.options import SECRET_ENV
from transforms.sinks import s3
from transforms.formats import FORMATS

END = dt.date(2026, 11, 20)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    generate(str(root), 3000, 2, "parquet", seed=3, end=END, hostile=True)
    return str(root / "events")


def _bucket(server, **kwargs):
    name = f"cust-{uuid.uuid4().hex[:12]}"
    return name, provision_least_privilege(server, name, **kwargs)


def _args(store, destination, fmt="json", request_id="req1", extra=()):
    return ["--source", store, "--destination", destination, "--format", fmt, "--request_id", request_id,
            "--start", f"{END - dt.timedelta(days=1)}T00:00:00Z", "--end", f"{END + dt.timedelta(days=1)}T00:00:00Z",
            "--run_timestamp", "20261121000000", "--database_id", "db7", *extra]


def _s3_args(server, key):
    return ["--destination_endpoint_url", server.endpoint_url, "--destination_path_style",
            "--destination_access_key_id", key.access_key_id]


def _cli(module, args, key, server=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({SECRET_ENV: key.secret_access_key, "PYTHONPATH": ROOT})
    done = subprocess.run([sys.executable, "-m", module, *args], env=env, capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert key.secret_access_key not in done.stdout + done.stderr
    assert key.access_key_id not in done.stdout + done.stderr
    return done


def _download_all(server, bucket, prefix):
    admin = server.admin_client()
    pages = admin.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    return {key[len(prefix):]: admin.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


def _local_files(folder):
    return {name: open(os.path.join(folder, name), "rb").read() for name in os.listdir(folder)}


@pytest.mark.parametrize("fmt", [f if f in ("json", "parquet") else pytest.param(f, marks=pytest.mark.slow) for f in FORMATS])
def test_s3_export_matches_local_export_byte_for_byte(server, store, tmp_path, fmt, monkeypatch):
    bucket, key = _bucket(server)
    monkeypatch.setenv(SECRET_ENV, key.secret_access_key)
    mark = server.mark()
    status, text = export.run(_args(store, f"s3://{bucket}/team/exports", fmt, extra=_s3_args(server, key)))
    assert status == 0, text
    assert server.object_access_violations(mark, bucket) == []
    assert {(r.method, r.path) for r in server.requests_since(mark) if r.method == "GET"} <= {("GET", f"/{bucket}")}
    assert {r.method for r in server.requests_since(mark)} <= {"GET", "PUT", "POST"}  # GET: the one listing
    assert all(r.status < 400 for r in server.requests_since(mark))   # nothing the policy refuses was tried
    status, text = export.run(_args(store, str(tmp_path), fmt))
    assert status == 0, text
    uploaded, local = _download_all(server, bucket, "team/exports/"), _local_files(tmp_path)
    manifest_name = "req1-20261121000000-manifest.json"
    assert uploaded.keys() == local.keys()
    data = [name for name in local if name != manifest_name]
    assert len(data) > 5
    assert all(uploaded[name] == local[name] for name in data)
    remote_keys = {o["key"] for o in json.loads(uploaded[manifest_name])["objects"]}
    assert remote_keys == {"team/exports/" + name for name in data if "-rejects-" not in name}


@pytest.mark.slow
def test_rerun_overwrites_the_same_keys(server, store, monkeypatch):
    bucket, key = _bucket(server)
    monkeypatch.setenv(SECRET_ENV, key.secret_access_key)
    args = _args(store, f"s3://{bucket}", "csv", extra=_s3_args(server, key) + ["--max_file_bytes", "20000"])
    assert export.run(args)[0] == 0
    first = _download_all(server, bucket, "")
    assert export.run(args)[0] == 0
    assert _download_all(server, bucket, "") == first


@pytest.mark.slow
def test_verify_export_by_listing_alone(server, store, tmp_path):
    bucket, key = _bucket(server)
    copies = tmp_path / "manifests"
    done = _cli("pipelines.export", _args(store, f"s3://{bucket}/p", "json", "req9") + _s3_args(server, key)
                + ["--manifest_copy", str(copies)], key)
    assert done.returncode == 0, done.stderr
    manifest = str(copies / "req9-20261121000000-manifest.json")
    verify = ["--manifest", manifest, "--destination", f"s3://{bucket}/p"] + _s3_args(server, key)
    mark = server.mark()
    done = _cli("pipelines.verify_export", verify, key)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [r.method for r in server.requests_since(mark)] == ["GET"] * len(server.requests_since(mark))
    assert all(r.path == f"/{bucket}" for r in server.requests_since(mark))  # listing only, no object read
    victim = json.load(open(manifest))["objects"][0]["key"]
    server.admin_client().delete_object(Bucket=bucket, Key=victim)
    done = _cli("pipelines.verify_export", verify, key)
    assert done.returncode == 1
    assert f"missing: {victim}" in done.stdout


def test_multipart_upload_of_a_large_object(server, monkeypatch, tmp_path):
    bucket, key = _bucket(server)
    monkeypatch.setattr(s3, "MULTIPART_THRESHOLD", 5 << 20)
    monkeypatch.setattr(s3, "PART_BYTES", 5 << 20)
    settings = s3.S3Settings(endpoint_url=server.endpoint_url, path_style=True,
                             access_key_id=s3.Secret(key.access_key_id),
                             secret_access_key=s3.Secret(key.secret_access_key))
    body = os.urandom(12 << 20)
    path = tmp_path / "big"
    path.write_bytes(body)
    with open(path, "rb") as stream:
        etag, kind = s3.put_object(settings, bucket, "big.bin", stream, len(body))
    assert etag.endswith("-3") and kind == "multipart"
    listed = server.admin_client().list_objects_v2(Bucket=bucket)["Contents"][0]
    assert listed["ETag"].strip('"') == etag
    assert server.admin_client().get_object(Bucket=bucket, Key="big.bin")["Body"].read() == body


def test_server_side_encryption_is_requested(server, store, monkeypatch):
    bucket, key = _bucket(server)
    monkeypatch.setenv(SECRET_ENV, key.secret_access_key)
    status, text = export.run(_args(store, f"s3://{bucket}", "json", extra=_s3_args(server, key) + ["--sse", "AES256"]))
    assert status == 0, text
    admin = server.admin_client()
    first = admin.list_objects_v2(Bucket=bucket)["Contents"][0]["Key"]
    assert admin.head_object(Bucket=bucket, Key=first)["ServerSideEncryption"] == "AES256"


def _check(server, bucket, key, *extra):
    return _cli("pipelines.check_destination",
                ["--destination", f"s3://{bucket}/exports"] + _s3_args(server, key) + list(extra), key)


@pytest.mark.slow
def test_connection_test_passes_and_leaves_a_marker(server):
    bucket, key = _bucket(server)
    done = _check(server, bucket, key, "--data_region", "US", "--destination_region", "us-east-1")
    assert done.returncode == 3 and "us-west-2" in done.stderr and "us-east-1" in done.stderr
    bucket, key = _bucket(server, region="eu-west-1")
    done = _check(server, bucket, key, "--data_region", "EU", "--destination_region", "eu-west-1")
    assert done.returncode == 0, done.stderr
    keys = [o["Key"] for o in server.admin_client().list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["exports/eventexport-connection-test.txt"]


def _denied_put_policy(bucket):
    policy = least_privilege_policy(bucket)
    policy["Statement"] = policy["Statement"][:1]
    return policy


def _denied_list_policy(bucket):
    policy = least_privilege_policy(bucket)
    policy["Statement"] = policy["Statement"][1:]
    return policy


@pytest.mark.slow
@pytest.mark.parametrize("case, expected", [
    ("wrong secret", "secret access key does not match"),
    ("unknown key", "does not know the access key id"),
    ("no bucket", "does not exist"),
    ("no put", "may not put objects"),
    ("no list", "may not list bucket"),
])
def test_each_connection_failure_has_its_own_message(server, case, expected):
    bucket = f"cust-{uuid.uuid4().hex[:12]}"
    policy = {"no put": _denied_put_policy, "no list": _denied_list_policy}.get(case)
    key = provision_least_privilege(server, bucket, create_bucket=case != "no bucket",
                                    policy=policy(bucket) if policy else None)
    if case == "wrong secret":
        key = key._replace(secret_access_key="x" * 40)
    if case == "unknown key":
        key = key._replace(access_key_id="AKIA" + "Z" * 16)
    done = _check(server, bucket, key)
    assert done.returncode == 3
    assert expected in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


@pytest.mark.slow
def test_export_with_a_key_that_may_not_put_fails_clearly(server, store):
    bucket = f"cust-{uuid.uuid4().hex[:12]}"
    key = provision_least_privilege(server, bucket, policy=_denied_put_policy(bucket))
    done = _cli("pipelines.export", _args(store, f"s3://{bucket}", "json") + _s3_args(server, key), key)
    assert done.returncode == 3
    assert "may not put objects" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("case, expected", [
    ("wrong secret", "secret access key does not match"),
    ("no bucket", "does not exist"),
    ("no list", "may not list bucket"),
])
def test_export_fails_before_reading_when_the_bucket_or_key_is_wrong(server, store, case, expected):
    bucket = f"cust-{uuid.uuid4().hex[:12]}"
    key = provision_least_privilege(server, bucket, create_bucket=case != "no bucket",
                                    policy=_denied_list_policy(bucket) if case == "no list" else None)
    if case == "wrong secret":
        key = key._replace(secret_access_key="y" * 40)
    mark = server.mark()
    done = _cli("pipelines.export", _args(store, f"s3://{bucket}/p", "csv") + _s3_args(server, key), key)
    assert done.returncode == 3 and expected in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert [r.method for r in server.requests_since(mark)] == ["GET"]   # the listing, then nothing
