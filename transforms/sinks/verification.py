"""Checking a finished run against its manifest by listing the bucket alone (the customer's key may not
read an object, so a listing's size and ETag are all there is to compare).

What an ETag proves depends on its kind, which the manifest records for each object (`etag_kind`,
transforms/sinks/s3.py ETAG_KINDS), and each object gets the strongest check its kind allows:

- "md5": one PutObject without encryption or with SSE-S3: the ETag is the MD5 of the bytes. Check:
  size and MD5.
- a multipart ETag (`<hex>-<parts>`, with or without SSE-KMS): S3's own value for the upload, recorded
  when the upload completed. Check: size and that multipart ETag.
- an SSE-KMS object written in one PutObject: its ETag is S3's and not an MD5 (even the same bytes
  written again get another). Check: size.

The manifest itself is checked by MD5, or by size when the run's objects show SSE-KMS (or it asked for
it), since it was written the same way. Manifests from before `etag_kind` hold MD5s and multipart ETags.
"""

import dataclasses
import hashlib

from transforms.sinks.naming import manifest_key

__all__ = ["CHECKS", "Expected", "Finding", "Verification", "expected_objects", "verify_objects"]

CHECKS = {"md5": "size and MD5", "multipart": "size and multipart ETag",
          "size": "size alone (SSE-KMS: its ETag is not an MD5)"}


@dataclasses.dataclass(frozen=True)
class Expected:
    bytes: int
    etag: str
    check: str   # a key of CHECKS


@dataclasses.dataclass(frozen=True)
class Finding:
    problem: str   # missing | size | etag | unlisted
    key: str
    detail: str = ""


@dataclasses.dataclass(frozen=True)
class Verification:
    """`findings`: what differs; `checked`: {key: check} of each object of the manifest found as recorded."""

    findings: list
    checked: dict

    @property
    def ok(self):
        return not [f for f in self.findings if f.problem != "unlisted"]

    def counts(self):
        """{check: objects checked so}, in CHECKS order."""
        return {check: n for check in CHECKS if (n := sum(1 for c in self.checked.values() if c == check))}


def _check(etag, kind):
    if etag and "-" in etag:
        return "multipart"
    return "md5" if etag and kind in (None, "md5") else "size"


def expected_objects(manifest, manifest_bytes, prefix):
    """{key: Expected} the bucket must hold for this run: data, rejects and the manifest itself."""
    items = manifest["objects"] + manifest["rejects"]["objects"]
    expected = {o["key"]: Expected(o["bytes"], o.get("etag"), _check(o.get("etag"), o.get("etag_kind")))
                for o in items}
    kms = manifest.get("server_side_encryption") == "aws:kms" or any(o.get("etag_kind") == "opaque" for o in items)
    key = manifest_key(prefix, manifest["request_id"], manifest["run_timestamp"])
    expected[key] = Expected(len(manifest_bytes), hashlib.md5(manifest_bytes, usedforsecurity=False).hexdigest(),
                             "size" if kms else "md5")
    return expected


def verify_objects(expected, listed):
    """Compare {key: Expected} with a listing {key: (size, etag)}; return a Verification."""
    findings, checked = [], {}
    for key, want in sorted(expected.items()):
        if key not in listed:
            findings.append(Finding("missing", key))
        elif listed[key][0] != want.bytes:
            findings.append(Finding("size", key, f"listed {listed[key][0]} bytes, manifest says {want.bytes}"))
        elif want.check != "size" and listed[key][1] != want.etag:
            findings.append(Finding("etag", key, f"listed ETag {listed[key][1]}, manifest says {want.etag} "
                                                 f"(checked by {CHECKS[want.check]})"))
        else:
            checked[key] = want.check
    findings += [Finding("unlisted", key, "not in the manifest") for key in sorted(set(listed) - set(expected))]
    return Verification(findings, checked)
