"""Where objects go, and the one thing the exporter does there: write a final key, once.

No temp keys, no rename, no copy, no delete, no read: the customer's key may only list and put
(DESIGN.md). A retry simply writes the same key with the same bytes. A PutObject is all or nothing, and a
multipart upload shows nothing until it is completed, so a killed run never leaves a torn object in S3.
A local folder has no such guarantee, so there each object is written to a hidden `.partial-<digest of
its name>` file beside it (a name may already take all 255 bytes a file name can) and renamed into place:
a kill leaves at most that hidden file, which the rerun, writing the same name, overwrites and renames.
"""

import dataclasses
import hashlib
import os
import re

from transforms.errors import ConfigError
from transforms.sinks.s3 import S3Settings, put_object

__all__ = ["Destination", "ObjectDigest", "Hashes", "parse_destination", "MAX_PREFIX_BYTES"]

_COPY_CHUNK = 8 << 20
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# S3 keys hold at most 1024 bytes and an object's own name up to 255 (naming.MAX_BASENAME_BYTES).
MAX_PREFIX_BYTES = 1024 - 255 - 1
_UNSAFE_PREFIX = re.compile(r"[\x00-\x1f\x7f\\]")


@dataclasses.dataclass(frozen=True)
class ObjectDigest:
    """What the manifest records of an object; `etag` is what a bucket listing will show for it, of the
    kind `etag_kind` (s3.ETAG_KINDS)."""

    bytes: int
    sha256: str
    etag: str
    etag_kind: str = "md5"


@dataclasses.dataclass(frozen=True)
class Destination:
    """`root` is a local folder or s3://bucket/ (ending in '/'); keys are relative to it, prefix included."""

    root: str
    prefix: str = ""
    s3: S3Settings = S3Settings()

    @property
    def is_s3(self):
        return self.root.startswith("s3://")

    @property
    def bucket(self):
        return self.root[len("s3://"):-1] if self.is_s3 else None

    def uri(self, key):
        return self.root + key

    def describe(self):
        return self.uri(self.prefix)

    def put(self, key, stream, hashes=None):
        """Write seekable binary `stream` (at 0) as `key`, once; return its size and digests. `hashes`: the
        stream's `Hashes`, when its writer took them as it wrote (the stream is then only copied)."""
        if self.is_s3:
            if hashes is None:
                hashes = Hashes()
                while chunk := stream.read(_COPY_CHUNK):
                    hashes.update(chunk)
                stream.seek(0)
            etag, kind = put_object(self.s3, self.bucket, key, stream, hashes.size, hashes.md5)
            return ObjectDigest(hashes.size, hashes.sha256.hexdigest(), etag, kind)
        taking, hashes = hashes is None, hashes or Hashes()
        path = self.uri(key)
        folder, name = os.path.split(path)
        partial = os.path.join(folder, f".partial-{hashlib.sha256(name.encode()).hexdigest()[:20]}")
        os.makedirs(folder, exist_ok=True)
        with open(partial, "wb") as out:
            while chunk := stream.read(_COPY_CHUNK):
                out.write(chunk)
                if taking:
                    hashes.update(chunk)
        os.replace(partial, path)
        return ObjectDigest(hashes.size, hashes.sha256.hexdigest(), hashes.md5.hexdigest())


class Hashes:
    """What put records of an object's bytes, taken as they pass: size, SHA-256 (the manifest's) and MD5
    (S3's Content-MD5 and, for a single-part object, its ETag)."""

    def __init__(self):
        self.sha256, self.md5, self.size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0

    def update(self, chunk):
        self.sha256.update(chunk)
        self.md5.update(chunk)
        self.size += len(chunk)


def _checked_prefix(text, prefix):
    """S3 takes any key, but tools that copy a bucket to disk (aws s3 sync, rclone) turn '..', '/x' and '\\'
    into paths, which could then land outside the customer's folder: such prefixes are refused."""
    folders = prefix.split("/") if prefix else []
    if any(folder in ("", ".", "..") for folder in folders) or _UNSAFE_PREFIX.search(prefix):
        raise ConfigError(f"--destination {text!r}: the prefix may not start with '/' or hold '.' or '..' folders, "
                          "'//', backslashes or control characters; e.g. s3://bucket/exports/team-a")
    if len(prefix.encode("utf-8")) > MAX_PREFIX_BYTES:
        raise ConfigError(f"--destination {text[:80]!r}...: the prefix may hold at most {MAX_PREFIX_BYTES} bytes, "
                          "so that every key fits S3's 1024")
    return prefix


def parse_destination(text, s3=S3Settings()):
    """'s3://bucket[/prefix]' or a local folder (made absolute, so workers elsewhere agree on it)."""
    if not text:
        raise ConfigError("--destination is required: a local folder or s3://bucket[/prefix]")
    if text.startswith("s3://"):
        bucket, _, prefix = text[len("s3://"):].partition("/")
        if not _BUCKET.fullmatch(bucket):
            raise ConfigError(f"--destination {text!r}: {bucket!r} is not a valid S3 bucket name")
        prefix = _checked_prefix(text, prefix.rstrip("/"))
        return Destination(f"s3://{bucket}/", prefix + "/" if prefix else "", s3)
    if "://" in text:
        raise ConfigError(f"--destination {text!r}: use a local folder or s3://bucket[/prefix]")
    path = os.path.abspath(text)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ConfigError(f"--destination {text!r} is a file; name a folder")
    return Destination(path.rstrip("/") + "/")
