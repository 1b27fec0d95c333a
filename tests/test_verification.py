"""Verifying a run by listing alone (transforms/sinks/verification.py, pipelines/verify_export.py): each
object gets the check its ETag allows, with the ETag forms S3 returns: an MD5 (single part, no encryption
or SSE-S3), a multipart ETag (`<hex>-<parts>`), and SSE-KMS's ETags, which S3 makes up at each write.

moto gives every object an MD5-based ETag, SSE-KMS or not, so the end-to-end test puts a proxy in front
of it that answers for SSE-KMS objects as AWS does: a new made-up ETag at each PutObject and multipart
completion, and the same one in listings."""

import contextlib
import hashlib
import html
import io
import json
import re
import urllib.parse
import uuid

import pytest

from devtools.local_s3 import provision_least_privilege
from pipelines import verify_export
from pipelines.options import SECRET_ENV
from tests.support import reliability
from tests.support.exports import export
from tests.support.fault_fixtures import FAULT_END, FAULT_START, SMALL_PART
from tests.support.s3_faults import FaultProxy
from transforms.sinks import s3
from transforms.sinks.verification import CHECKS, expected_objects, verify_objects

MD5 = hashlib.md5(b"data").hexdigest()
MANIFEST = b'{"a manifest": 1}'


def _manifest(*objects, sse="none"):
    return {"request_id": "r", "run_timestamp": "20261120000000", "server_side_encryption": sse,
            "objects": list(objects), "rejects": {"rows": 0, "objects": [], "sample": None}}


def _object(key, etag, kind, size=4):
    return {"key": key, "bytes": size, "etag": etag, "etag_kind": kind}


MANIFEST_KEY = "r-20261120000000-manifest.json"
MANIFEST_MD5 = hashlib.md5(MANIFEST).hexdigest()


@pytest.mark.parametrize("recorded, listed, check, problem", [
    (_object("a", MD5, "md5"), (4, MD5), "md5", None),
    (_object("a", MD5, "md5"), (4, "0" * 32), "md5", "etag"),                      # same size, other bytes
    (_object("a", "1f" * 16 + "-3", "multipart"), (4, "1f" * 16 + "-3"), "multipart", None),
    (_object("a", "1f" * 16 + "-3", "multipart"), (4, "2e" * 16 + "-3"), "multipart", "etag"),
    (_object("a", "9a" * 16, "opaque"), (4, "7b" * 16), "size", None),              # SSE-KMS: rewritten, same size
    (_object("a", "9a" * 16, "opaque"), (5, "9a" * 16), "size", "size"),
    (_object("a", "9a" * 16 + "-2", "opaque"), (4, "9a" * 16 + "-2"), "multipart", None),   # SSE-KMS multipart
    (_object("a", "9a" * 16 + "-2", "opaque"), (4, "8c" * 16 + "-2"), "multipart", "etag"),
    ({"key": "a", "bytes": 4, "etag": MD5}, (4, MD5), "md5", None),                 # a manifest before etag_kind
])
def test_each_object_gets_the_check_its_etag_allows(recorded, listed, check, problem):
    expected = expected_objects(_manifest(recorded), MANIFEST, "")
    assert expected["a"].check == check
    result = verify_objects(expected, {"a": listed, MANIFEST_KEY: (len(MANIFEST), MANIFEST_MD5)})
    assert [f.problem for f in result.findings] == ([problem] if problem else [])
    manifest_check = "size" if recorded.get("etag_kind") == "opaque" else "md5"   # written with SSE-KMS too
    assert result.checked == ({"a": check} if problem is None else {}) | {MANIFEST_KEY: manifest_check}


@pytest.mark.parametrize("objects, sse", [((_object("a", "9a" * 16, "opaque"),), "none"), ((), "aws:kms")])
def test_the_manifest_of_an_sse_kms_run_is_checked_by_size(objects, sse):
    expected = expected_objects(_manifest(*objects, sse=sse), MANIFEST, "")
    listed = {"a": (4, "7b" * 16), MANIFEST_KEY: (len(MANIFEST), "5d" * 16)}
    result = verify_objects(expected, {k: v for k, v in listed.items() if k in expected})
    assert result.ok and result.checked[MANIFEST_KEY] == "size"


class AwsKmsEtags:
    """Gives moto's answers for SSE-KMS objects the form AWS's have: a made-up ETag, new at each write
    (`<hex>-<parts>` for a multipart upload), in PutObject's and CompleteMultipartUpload's answers and
    in listings."""

    def __init__(self):
        self.etags, self.uploads = {}, set()

    def __call__(self, operation, path, request, headers, body):
        key = urllib.parse.unquote(urllib.parse.urlsplit(path).path.lstrip("/").partition("/")[2])
        made_up = uuid.uuid4().hex
        if operation == "CreateMultipartUpload" and request.get("x-amz-server-side-encryption") == "aws:kms":
            self.uploads.add(key)
        elif operation == "PutObject" and request.get("x-amz-server-side-encryption") == "aws:kms":
            self.etags[key] = made_up
            headers = [(n, f'"{made_up}"' if n.lower() == "etag" else v) for n, v in headers]
        elif operation == "CompleteMultipartUpload" and key in self.uploads:
            parts = re.search(rb"-(\d+)(?:&quot;|&#34;|\")</ETag>", body).group(1).decode()
            self.etags[key] = f"{made_up}-{parts}"
            body = re.sub(rb"<ETag>.*?</ETag>", f"<ETag>&quot;{self.etags[key]}&quot;</ETag>".encode(), body)
        elif operation == "ListObjects":
            body = re.sub(rb"<Contents>.*?</Contents>", self._listed, body, flags=re.S)
        return headers, body

    def _listed(self, match):
        item = match.group(0)
        key = html.unescape(re.search(rb"<Key>(.*?)</Key>", item).group(1).decode())
        if key not in self.etags:
            return item
        return re.sub(rb"<ETag>.*?</ETag>", f"<ETag>&quot;{self.etags[key]}&quot;</ETag>".encode(), item)


def _verify(argv):
    with contextlib.redirect_stdout(io.StringIO()) as out:
        return verify_export.main(argv), out.getvalue()


@pytest.fixture
def kms_bucket(small_parts_server, monkeypatch):
    """A bucket, its least-privilege key, a KMS key in moto, and parts small enough that the fault store's
    'Big' partition is a multipart upload."""
    monkeypatch.setattr(s3, "MULTIPART_THRESHOLD", SMALL_PART)
    monkeypatch.setattr(s3, "PART_BYTES", SMALL_PART)
    name = f"kms-{uuid.uuid4().hex[:12]}"
    key = provision_least_privilege(small_parts_server, name)
    monkeypatch.setenv(SECRET_ENV, key.secret_access_key)
    kms_key = small_parts_server.admin_client("kms").create_key()["KeyMetadata"]["Arn"]
    return name, key, kms_key


@pytest.mark.slow
@pytest.mark.reliability
@pytest.mark.parametrize("sse", ["aws:kms", "none"])
def test_verify_under_sse_kms_and_multipart(small_parts_server, fault_store, kms_bucket, tmp_path, sse):
    bucket, key, kms_key = kms_bucket
    emulation = AwsKmsEtags()
    encryption = ["--sse", sse] + (["--sse_kms_key_id", kms_key] if sse == "aws:kms" else [])
    with FaultProxy(small_parts_server.endpoint_url, rewrite=emulation) as proxy:
        s3_args = ["--destination_endpoint_url", proxy.endpoint_url, "--destination_path_style",
                   "--destination_access_key_id", key.access_key_id]
        status, text = export(fault_store[0], f"s3://{bucket}/kms", "json", FAULT_START, FAULT_END, *s3_args,
                              *encryption, "--manifest_copy", str(tmp_path))
        assert status == 0, text
        (copy,) = tmp_path.glob("*-manifest.json")
        manifest = json.loads(copy.read_text())
        kinds = {o["etag_kind"] for o in manifest["objects"] + manifest["rejects"]["objects"]}
        assert kinds == ({"opaque"} if sse == "aws:kms" else {"md5", "multipart"})
        files = reliability.bucket_files(small_parts_server, bucket, "kms/")
        reliability.account("verification", f"SSE {sse} and multipart uploads: every object verified by listing",
                            fault_store[1], reliability.exported_ids(files), reliability.rejected_ids(files))
        verify = ["--manifest", str(copy), "--destination", f"s3://{bucket}/kms", *s3_args]
        status, out = _verify(verify)
        assert status == 0, out
        checked = dict(re.findall(r"checked: (\S+) by (.+)", out))
        items = manifest["objects"] + manifest["rejects"]["objects"]
        single = CHECKS["size"] if sse == "aws:kms" else CHECKS["md5"]
        want = {o["key"]: CHECKS["multipart"] if "-" in o["etag"] else single for o in items}
        assert checked == want | {f"kms/{copy.name}": single}
        assert CHECKS["multipart"] in checked.values()
        # an object replaced by other bytes of another size is found, whatever its ETag's kind
        victim = manifest["objects"][0]["key"]
        small_parts_server.admin_client().put_object(Bucket=bucket, Key=victim, Body=b"other bytes")
        status, out = _verify(verify)
        assert status == 1 and f"size: {victim} listed 11 bytes" in out
