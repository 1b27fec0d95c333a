"""S3 faults between the exporter and the bucket, injected by a seeded proxy (tests/support/s3_faults.py) in front of
the local S3 server: transient ones end in a complete export, byte for byte the one a calm run writes;
persistent ones fail the run naming the cause, leave no manifest, and a later retry succeeds."""

import uuid

import pytest

from devtools.local_s3 import provision_least_privilege
from pipelines.options import SECRET_ENV
from tests.support import reliability
from tests.support.expected import manifest_name
from tests.support.exports import export
from tests.support.fault_fixtures import FAULT_END, FAULT_START, SMALL_PART
from tests.support.s3_faults import FaultProxy
from transforms.sinks import s3

pytestmark = pytest.mark.slow   # exports through the fault-injecting proxy, retried to the end

PREFIX = "faults/"
WRITES = ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload")
RETRY_KINDS = {"500": "server_error", "503": "throttled", "reset": "connection", "reset-after": "connection",
               "hang": "timeout"}   # a fault of the proxy -> the kind of retry it costs (s3.retry_kind)


@pytest.fixture
def bucket(small_parts_server, monkeypatch):
    """A fresh bucket and least-privilege key; small parts and short timeouts, so faults cost little time."""
    monkeypatch.setattr(s3, "MULTIPART_THRESHOLD", SMALL_PART)
    monkeypatch.setattr(s3, "PART_BYTES", SMALL_PART)
    monkeypatch.setattr(s3, "MAX_ATTEMPTS", 5)
    monkeypatch.setattr(s3, "READ_TIMEOUT", 3)   # seconds: a hang costs little, a busy server is not a hang
    name = f"faults-{uuid.uuid4().hex[:12]}"
    key = provision_least_privilege(small_parts_server, name)
    monkeypatch.setenv(SECRET_ENV, key.secret_access_key)
    return name, key


def _run(store, bucket_name, key, endpoint):
    return export(store, f"s3://{bucket_name}/{PREFIX}", "json", FAULT_START, FAULT_END,
                  "--destination_endpoint_url", endpoint, "--destination_path_style",
                  "--destination_access_key_id", key.access_key_id)


def _check_complete(server, bucket_name, calm, ids, case):
    files = reliability.bucket_files(server, bucket_name, PREFIX)
    reliability.account_export("S3 faults", case, files, calm, ids, same_manifest=False)


def _parts(calm):
    """(multipart objects, their parts) in the calm run at SMALL_PART."""
    sizes = [len(data) for data in calm.values() if len(data) > SMALL_PART]
    return len(sizes), sum(-(-size // SMALL_PART) for size in sizes)


def _uploads(rate, *faults):
    return {"PutObject": (rate, faults), "UploadPart": (rate, faults)}


TRANSIENT = {   # case: (plan, seed)
    "500 InternalError and 503 SlowDown": ({op: (0.4, ("500", "503")) for op in WRITES}, 6),
    "connections reset mid-upload and mid-part": (_uploads(0.5, "reset"), 3),
    "connections reset after S3 wrote": (_uploads(0.4, "reset-after"), 6),
    "responses that never come": (_uploads(0.25, "hang"), 1),
}


@pytest.mark.reliability
@pytest.mark.parametrize("case", TRANSIENT)
def test_transient_faults_end_in_a_complete_byte_identical_export(small_parts_server, fault_store, fault_calm, bucket,
                                                                    case):
    plan, seed = TRANSIENT[case]
    name, key = bucket
    with FaultProxy(small_parts_server.endpoint_url, plan, seed=seed, limit=2) as proxy:
        status, text = _run(fault_store[0], name, key, proxy.endpoint_url)
    assert status == 0, text
    faults = {fault for _, _, fault in proxy.log if fault}
    assert faults == {f for rate, kinds in plan.values() for f in kinds}, proxy.log   # each kind really struck
    # the summary counts the retries by kind: those of the workers' writes (the preflight's are not in it)
    retries = dict(item.rsplit(" ", 1) for item in text.split("S3 retries: ")[1].splitlines()[0].split(", "))
    assert set(retries) == {RETRY_KINDS[fault] for fault in faults}
    assert proxy.faults(operation="UploadPart") <= sum(map(int, retries.values())) <= proxy.faults()
    assert proxy.faults(operation="UploadPart") >= 1
    # a failed part is sent again alone: one upload per multipart object, each part once plus its retries
    objects, parts = _parts(fault_calm)
    assert objects >= 1 and parts >= 3
    assert proxy.count("CreateMultipartUpload") == objects + proxy.faults(operation="CreateMultipartUpload")
    assert proxy.count("UploadPart") == parts + proxy.faults(operation="UploadPart")
    _check_complete(small_parts_server, name, fault_calm, fault_store[1], f"{case} ({proxy.faults()} faults)")


PERSISTENT = {
    "503 SlowDown on every part": ({"UploadPart": (1, ("503",))}, "S3 kept failing", "SlowDown"),
    "every upload reset": (_uploads(1, "reset"), "could not connect", "retry later"),
}


@pytest.mark.reliability
@pytest.mark.parametrize("case", PERSISTENT)
def test_persistent_faults_fail_the_run_naming_the_cause_and_a_retry_succeeds(small_parts_server, fault_store,
                                                                                fault_calm, bucket, monkeypatch, case):
    plan, message, cause = PERSISTENT[case]
    name, key = bucket
    monkeypatch.setattr(s3, "MAX_ATTEMPTS", 3)
    with FaultProxy(small_parts_server.endpoint_url, plan, seed=1, limit=None) as proxy:
        status, text = _run(fault_store[0], name, key, proxy.endpoint_url)
    assert status == 3, text
    assert message in text and cause in text and name in text, text
    assert manifest_name() not in reliability.bucket_files(small_parts_server, name, PREFIX)
    status, text = _run(fault_store[0], name, key, small_parts_server.endpoint_url)
    assert status == 0, text
    _check_complete(small_parts_server, name, fault_calm, fault_store[1], f"{case}, then a retry")


REVOKED = ("key deleted", "permission taken away")


@pytest.mark.reliability
@pytest.mark.parametrize("case", REVOKED)
def test_key_revoked_mid_run_fails_with_the_fix_and_a_retry_succeeds(small_parts_server, fault_store, fault_calm,
                                                                     bucket, monkeypatch, case):
    name, key = bucket
    iam = small_parts_server.admin_client("iam")
    user = f"export-{name}"
    policy = iam.list_attached_user_policies(UserName=user)["AttachedPolicies"][0]["PolicyArn"]

    def revoke(operation, number):
        if operation == "PutObject" and number == 3:   # mid-run: two objects are already written
            if case == "key deleted":
                iam.delete_access_key(UserName=user, AccessKeyId=key.access_key_id)
            else:
                iam.detach_user_policy(UserName=user, PolicyArn=policy)

    with FaultProxy(small_parts_server.endpoint_url, on_request=revoke) as proxy:
        status, text = _run(fault_store[0], name, key, proxy.endpoint_url)
    assert status == 3, text
    expected = "does not know the access key id" if case == "key deleted" else "may not put objects"
    assert expected in text and "\n" not in text.strip(), text
    files = reliability.bucket_files(small_parts_server, name, PREFIX)
    assert len(files) >= 2 and manifest_name() not in files
    if case == "key deleted":   # the customer makes a new key and the run is retried with it
        new = iam.create_access_key(UserName=user)["AccessKey"]
        key = key._replace(access_key_id=new["AccessKeyId"], secret_access_key=new["SecretAccessKey"])
        monkeypatch.setenv(SECRET_ENV, key.secret_access_key)
    else:
        iam.attach_user_policy(UserName=user, PolicyArn=policy)
    status, text = _run(fault_store[0], name, key, small_parts_server.endpoint_url)
    assert status == 0, text
    _check_complete(small_parts_server, name, fault_calm, fault_store[1], f"{case} mid-run (403), then a retry")


@pytest.mark.reliability
@pytest.mark.parametrize("case", ["completed, answer lost", "upload gone"])
def test_no_such_upload_on_completing_is_settled_by_listing(small_parts_server, fault_store, fault_calm, bucket, case):
    """A completion whose answer was lost is retried and finds the upload gone (S3 answers NoSuchUpload):
    the object is listed with this upload's ETag, so the run goes on. If the upload really is gone (no
    such object), the run fails saying so, and a retry succeeds."""
    name, key = bucket
    script = {"completed, answer lost": {1: "reset-after", 2: "404"}, "upload gone": {1: "404"}}[case]
    with FaultProxy(small_parts_server.endpoint_url,
                    on_request=lambda op, n: script.get(n) if op == "CompleteMultipartUpload" else None) as proxy:
        status, text = _run(fault_store[0], name, key, proxy.endpoint_url)
    assert proxy.faults(operation="CompleteMultipartUpload") == len(script)
    if case == "upload gone":
        assert status == 3 and "S3 lost the multipart upload" in text, text
        status, text = _run(fault_store[0], name, key, small_parts_server.endpoint_url)
    assert status == 0, text
    _check_complete(small_parts_server, name, fault_calm, fault_store[1], f"NoSuchUpload on completing: {case}")
