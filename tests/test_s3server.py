"""What the local IAM-enforcing S3 (devtools/local_s3.py) does and does not enforce.

These tests pin moto 5.2.5's observed behaviour, so a moto upgrade that changes
it fails here first instead of silently weakening the export tests.  Where moto
differs from real AWS the assertion states what moto does and a comment says
what AWS would do.
"""
import os
import signal
import subprocess
import sys
import threading
import uuid

import pytest
from botocore.exceptions import ClientError

from devtools.local_s3 import (Credentials, LocalS3Server, least_privilege_policy,
                            provision_least_privilege)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def server():
    with LocalS3Server(region="us-east-1") as srv:
        yield srv


@pytest.fixture
def bucket(server):
    name = f"export-{uuid.uuid4().hex[:12]}"
    creds = provision_least_privilege(server, name)
    return name, creds, server.client("s3", creds)


@pytest.fixture(scope="module")
def other_bucket(server):
    server.admin_client().create_bucket(Bucket="someone-else")
    server.admin_client().put_object(Bucket="someone-else", Key="secret.txt", Body=b"secret")
    return "someone-else"


def error_code(call, *args, **kwargs):
    with pytest.raises(ClientError) as exc:
        call(*args, **kwargs)
    return exc.value.response["Error"]["Code"]


def test_policy_is_exactly_the_least_privilege_one(server, bucket):
    name, creds, _ = bucket
    iam = server.admin_client("iam")
    user = f"export-{name}"
    attached = iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]
    assert len(attached) == 1 and iam.list_user_policies(UserName=user)["PolicyNames"] == []
    pol = iam.get_policy(PolicyArn=attached[0]["PolicyArn"])["Policy"]
    doc = iam.get_policy_version(PolicyArn=pol["Arn"], VersionId=pol["DefaultVersionId"])
    assert doc["PolicyVersion"]["Document"] == least_privilege_policy(name)


def test_restricted_key_can_list_and_put(server, bucket):
    name, _, s3 = bucket
    s3.put_object(Bucket=name, Key="events/2024/part-0.jsonl", Body=b'{"a":1}\n')
    listed = s3.list_objects_v2(Bucket=name, Prefix="events/")
    assert [o["Key"] for o in listed["Contents"]] == ["events/2024/part-0.jsonl"]
    body = server.admin_client().get_object(Bucket=name, Key="events/2024/part-0.jsonl")["Body"]
    assert body.read() == b'{"a":1}\n'


def test_restricted_key_multipart_upload_works(server, bucket):
    name, _, s3 = bucket
    upload = s3.create_multipart_upload(Bucket=name, Key="big.bin")
    part = s3.upload_part(Bucket=name, Key="big.bin", UploadId=upload["UploadId"],
                          PartNumber=1, Body=b"x" * 1024)
    s3.complete_multipart_upload(Bucket=name, Key="big.bin", UploadId=upload["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert server.admin_client().head_object(Bucket=name, Key="big.bin")["ContentLength"] == 1024
    # s3:AbortMultipartUpload is not granted (as on AWS): a failed upload cannot be aborted.
    upload = s3.create_multipart_upload(Bucket=name, Key="aborted.bin")
    assert error_code(s3.abort_multipart_upload, Bucket=name, Key="aborted.bin",
                      UploadId=upload["UploadId"]) == "AccessDenied"


def test_restricted_key_cannot_read_delete_or_leave_its_bucket(server, bucket, other_bucket):
    name, _, s3 = bucket
    server.admin_client().put_object(Bucket=name, Key="k", Body=b"v")
    assert error_code(s3.get_object, Bucket=name, Key="k") == "AccessDenied"
    # HEAD responses have no body, so botocore reports the bare status (same on AWS).
    assert error_code(s3.head_object, Bucket=name, Key="k") == "403"
    assert error_code(s3.delete_object, Bucket=name, Key="k") == "AccessDenied"
    assert error_code(s3.list_buckets) == "AccessDenied"
    assert error_code(s3.put_object, Bucket=other_bucket, Key="k", Body=b"x") == "AccessDenied"
    assert error_code(s3.list_objects_v2, Bucket=other_bucket) == "AccessDenied"
    assert error_code(s3.get_bucket_location, Bucket=name) == "AccessDenied"
    # DeleteObjects answers 200 with a per-key AccessDenied, as AWS does.
    result = s3.delete_objects(Bucket=name, Delete={"Objects": [{"Key": "k"}]})
    assert [e["Code"] for e in result["Errors"]] == ["AccessDenied"]
    assert server.admin_client().get_object(Bucket=name, Key="k")["Body"].read() == b"v"


def test_moto_gaps_head_bucket_and_copy_object(server, bucket, other_bucket):
    name, _, s3 = bucket
    server.admin_client().put_object(Bucket=name, Key="src", Body=b"v")
    # MOTO GAP: AWS authorises HeadBucket with s3:ListBucket, so it would succeed
    # here; moto checks a non-existent "s3:HeadBucket" action and denies it.
    assert error_code(s3.head_bucket, Bucket=name) == "403"
    # MOTO GAP: CopyObject is authorised only as s3:PutObject on the destination;
    # the source's s3:GetObject is never checked.  AWS would deny both copies.
    s3.copy_object(Bucket=name, Key="dst", CopySource={"Bucket": name, "Key": "src"})
    s3.copy_object(Bucket=name, Key="stolen",
                   CopySource={"Bucket": other_bucket, "Key": "secret.txt"})
    assert server.admin_client().get_object(Bucket=name, Key="stolen")["Body"].read() == b"secret"


def test_bad_credentials(server, bucket):
    name, creds, _ = bucket
    wrong_secret = server.client("s3", Credentials(creds.access_key_id, "not-the-secret"))
    assert error_code(wrong_secret.list_objects_v2, Bucket=name) == "SignatureDoesNotMatch"
    unknown = server.client("s3", Credentials("AKIAUNKNOWNKEY000000", "whatever"))
    assert error_code(unknown.put_object, Bucket=name, Key="k", Body=b"") == "InvalidAccessKeyId"
    # moto has no root identity: the conventional dummy key is unknown too.
    dummy = server.client("s3", Credentials("testing", "testing"))
    assert error_code(dummy.list_buckets) == "InvalidAccessKeyId"


def test_missing_bucket_gives_no_such_bucket(server):
    creds = provision_least_privilege(server, "never-created", create_bucket=False)
    s3 = server.client("s3", creds)
    assert error_code(s3.list_objects_v2, Bucket="never-created") == "NoSuchBucket"
    assert error_code(s3.put_object, Bucket="never-created", Key="k", Body=b"") == "NoSuchBucket"


def test_bucket_in_another_region(server):
    creds = provision_least_privilege(server, "eu-export-bucket", region="eu-central-1")
    s3 = server.client("s3", creds, region="eu-central-1")
    s3.put_object(Bucket="eu-export-bucket", Key="k", Body=b"v")
    loc = server.admin_client().get_bucket_location(Bucket="eu-export-bucket")
    assert loc["LocationConstraint"] == "eu-central-1"


def test_request_log_shows_calls_and_flags_object_access(server, bucket, other_bucket):
    name, _, s3 = bucket
    mark = server.mark()
    s3.put_object(Bucket=name, Key="a b/1.json", Body=b"{}")
    s3.list_objects_v2(Bucket=name)
    assert server.requests_since(mark) == [
        ("PUT", f"/{name}/a%20b/1.json", "", 200),
        ("GET", f"/{name}", "list-type=2&encoding-type=url", 200)]
    assert server.object_access_violations(mark, name) == []

    error_code(s3.get_object, Bucket=name, Key="a b/1.json")
    s3.copy_object(Bucket=name, Key="copy", CopySource={"Bucket": other_bucket, "Key": "secret.txt"})
    logged = server.requests_since(mark)[2:]
    assert logged == [("GET", f"/{name}/a%20b/1.json", "", 403), ("PUT", f"/{name}/copy", "", 200)]
    # The access log cannot tell the copy from a put; the recorder sees the header.
    recorded = server.recorded_since(mark)[3]
    assert recorded.headers["x-amz-copy-source"] == f"{other_bucket}/secret.txt"
    assert server.object_access_violations(mark, name) == [
        f"GET /{name}/a%20b/1.json", f"PUT /{name}/copy"]


def test_recorder_survives_concurrent_large_puts(server, bucket):
    name, _, s3 = bucket
    mark = server.mark()
    threads = [threading.Thread(target=s3.put_object,
                                kwargs={"Bucket": name, "Key": f"p{i}", "Body": b"z" * 200_000})
               for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.path for r in server.recorded_since(mark)) == sorted(f"/{name}/p{i}" for i in range(8))
    assert {r.status for r in server.requests_since(mark)} == {200}


def test_stop_kills_the_process():
    srv = LocalS3Server().start()
    proc = srv._proc
    srv.stop()
    assert proc.poll() is not None


def _default_ctrl_c():
    """A child inherits its parent's signal dispositions; after some tests of the suite the pytest
    process ignores SIGINT (a library's doing), and a Python started ignoring it never raises
    KeyboardInterrupt. A user's terminal gives the demo the default, so the test does too."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_demo_main_prints_exports_and_stops_on_ctrl_c():
    proc = subprocess.Popen([sys.executable, "-m", "devtools.local_s3", "--bucket", "demo-bucket"],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True, preexec_fn=_default_ctrl_c)
    try:
        lines = []
        while not lines or not lines[-1].startswith("# Ctrl-C"):
            line = proc.stdout.readline()
            assert line, f"demo exited early: {lines}"
            lines.append(line.rstrip("\n"))
        exports = dict(line[len("export "):].split("=", 1) for line in lines if line.startswith("export "))
        assert exports["AWS_ACCESS_KEY_ID"] and exports["AWS_SECRET_ACCESS_KEY"]
        assert exports["AWS_ENDPOINT_URL_S3"].startswith("http://127.0.0.1:")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
