"""The customer's bucket, reached with the customer's least-privilege key: list and put, nothing else.

Its client is built from the destination's settings alone (--destination_endpoint_url, --destination_region,
--destination_path_style, the destination's key); Beam's S3 options are the platform's S3
(transforms/runtime/platform_s3.py) and never reach it (DESIGN.md, "Two S3 worlds").

One client per settings per process (botocore clients are thread-safe and costly to build). Every S3
error is sorted here, once, into "retry" (throttling, 5xx, dropped connections: botocore's standard
retry mode has already tried) and "give up" (bad key, denied, no bucket), each with a message that
names the fix. Key ids and secrets never enter a message, a log line or a repr.
"""

import base64
import dataclasses
import functools
import hashlib
import re

import boto3
from botocore.config import Config
from apache_beam.metrics import Metrics
from botocore.exceptions import (BotoCoreError, ClientError, ConnectionError as BotoConnectionError,
                                 ConnectTimeoutError, NoCredentialsError, ReadTimeoutError)

from transforms.errors import ConfigError, DestinationError, TransientDestinationError
from transforms.sinks.credentials import RoleSettings, role_error, role_session
from transforms.sinks.endpoint_guard import guard_client, private_allowed

__all__ = ["SECRET_ENV", "KEY_ID_ENV", "Secret", "S3Settings", "client_for", "put_object", "classify", "region_name",
           "SSE_MODES", "ETAG_KINDS", "MULTIPART_THRESHOLD", "PART_BYTES", "MAX_ATTEMPTS", "CONNECT_TIMEOUT",
           "READ_TIMEOUT", "S3_RETRY_NAMESPACE", "RETRY_KINDS", "retry_kind"]

SSE_MODES = ("none", "AES256", "aws:kms")
# What an object's ETag is, which decides what a listing can prove about it (transforms/sinks/verification.py):
# "md5", the MD5 of its bytes (one PutObject, no encryption or SSE-S3); "multipart", the MD5 of its parts'
# MD5s and "-<parts>"; "opaque", a value S3 chose (SSE-KMS, single-part or "-<parts>").
ETAG_KINDS = ("md5", "multipart", "opaque")
# The destination key's secret reaches the exporter from here (never from a command line, where `ps`
# would show it); the key id may too, which is how the control plane hands a stored key to a run.
SECRET_ENV = "EVENTEXPORT_DESTINATION_SECRET_ACCESS_KEY"  # nosec B105  # a variable's name, not a secret
KEY_ID_ENV = "EVENTEXPORT_DESTINATION_ACCESS_KEY_ID"
MULTIPART_THRESHOLD = 64 << 20  # below: one PutObject; above: parts, so a retry resends 16 MiB, not 100
PART_BYTES = 16 << 20
# botocore's standard retry mode retries throttling (SlowDown), 5xx, dropped connections and timeouts,
# with jittered exponential backoff; each retry resends one request (one part of a multipart upload).
MAX_ATTEMPTS = 8
S3_RETRY_NAMESPACE = "eventexport.s3_retries"   # Beam counters, one per retry_kind
RETRY_KINDS = ("throttled", "timeout", "server_error", "connection")
# Seconds. A connect to S3 takes milliseconds: 10 s without one means the route is gone. A read timeout is
# the silence allowed while waiting for an answer; S3 answers a 16 MiB part within seconds, so a minute of
# silence is a response that will never come, and the request is retried rather than waited on forever.
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 60


class Secret(str):
    """A string that prints as *** so it cannot leak through a repr, a log line or an f-string's !r."""

    def __repr__(self):
        return "Secret('***')"


@dataclasses.dataclass(frozen=True)
class S3Settings:
    """How to reach the bucket: the customer's key, or the customer's `role` (transforms/sinks/credentials.py);
    neither: boto3's standard chain (environment, profile, instance role).
    `allow_private_endpoints` is the deployment's EVENTEXPORT_ALLOW_PRIVATE_ENDPOINTS where the settings are
    made (transforms/sinks/endpoint_guard.py); it travels with them to every worker."""

    region: str = None
    endpoint_url: str = None
    path_style: bool = False
    access_key_id: Secret = None
    secret_access_key: Secret = None
    session_token: Secret = None
    sse: str = "none"
    sse_kms_key_id: str = None
    role: RoleSettings = None
    allow_private_endpoints: bool = dataclasses.field(default_factory=private_allowed)

    def __post_init__(self):
        if self.sse not in SSE_MODES:
            raise ConfigError(f"--sse {self.sse!r} is not one of {', '.join(SSE_MODES)}")
        if self.sse_kms_key_id and self.sse != "aws:kms":
            raise ConfigError("--sse_kms_key_id needs --sse aws:kms")
        if bool(self.access_key_id) != bool(self.secret_access_key):
            raise ConfigError("give both an access key id and its secret, or neither to use the standard chain")
        if self.role and self.access_key_id:
            raise ConfigError("give the destination a key or a role to assume, not both")

    def encryption_args(self):
        if self.sse == "none":
            return {}
        args = {"ServerSideEncryption": self.sse}
        if self.sse_kms_key_id:
            args["SSEKMSKeyId"] = self.sse_kms_key_id
        return args


# What botocore retries, by kind: the S3 errors a retry may cure (the rest give up at once, see classify).
_THROTTLED = frozenset({"SlowDown", "Throttling", "ThrottlingException", "RequestThrottled", "TooManyRequestsException",
                        "RequestLimitExceeded", "ProvisionedThroughputExceededException", "BandwidthLimitExceeded"})
_TIMED_OUT = frozenset({"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"})


def retry_kind(response=None, caught_exception=None):
    """The kind of a failed attempt botocore retries (throttled, timeout, server_error, connection), or None
    for an answer no retry cures. Kinds are a fixed few, so they can label a metric."""
    if caught_exception is not None:
        timeouts = (ReadTimeoutError, ConnectTimeoutError)
        return "timeout" if isinstance(caught_exception, timeouts) else "connection"
    if response is None:
        return None
    http, parsed = response
    code, status = (parsed or {}).get("Error", {}).get("Code", ""), http.status_code
    if code in _THROTTLED or status == 429:
        return "throttled"
    if code in _TIMED_OUT:
        return "timeout"
    return "server_error" if status >= 500 else None


def _count_retry(response=None, caught_exception=None, attempts=0, **_):
    """botocore's needs-retry event, observed: a retry botocore is about to make is counted in a Beam
    counter (the run's summary reports them); the handler decides nothing."""
    kind = retry_kind(response, caught_exception)
    if kind and attempts < MAX_ATTEMPTS:
        Metrics.counter(S3_RETRY_NAMESPACE, kind).inc()


@functools.lru_cache(maxsize=8)
def client_for(settings):
    """The destination's client, from `settings` alone (an endpoint the environment configures, AWS_ENDPOINT_URL,
    AWS_ENDPOINT_URL_S3 or a profile's endpoint_url, is the platform's and is ignored here), every connection of
    it held to endpoint_guard's rule unless the deployment allows private endpoints."""
    config = Config(retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS}, connect_timeout=CONNECT_TIMEOUT,
                    read_timeout=READ_TIMEOUT, s3={"addressing_style": "path" if settings.path_style else "auto"},
                    request_checksum_calculation="when_required", response_checksum_validation="when_required",
                    ignore_configured_endpoint_urls=True)
    session = role_session(settings.role, settings.region) if settings.role else boto3.session.Session()
    client = session.client(
        "s3", region_name=settings.region, endpoint_url=settings.endpoint_url, config=config,
        aws_access_key_id=settings.access_key_id or None, aws_secret_access_key=settings.secret_access_key or None,
        aws_session_token=settings.session_token or None)
    client.meta.events.register("needs-retry.s3", _count_retry)
    return client if settings.allow_private_endpoints else guard_client(client)


_GIVE_UP = {
    "InvalidAccessKeyId": "S3 does not know the access key id; check the key id (was the key deleted?)",
    "SignatureDoesNotMatch": "the secret access key does not match the access key id; re-enter the secret",
    "NoSuchBucket": "bucket {bucket!r} does not exist; create it or fix the bucket name",
    "AccessDenied:list": ("the key may not list bucket {bucket!r} (or no such bucket is visible to it): "
                          "grant s3:ListBucket on arn:aws:s3:::{bucket}"),
    "AccessDenied:put": ("the key may not put objects in bucket {bucket!r}: grant s3:PutObject on "
                         "arn:aws:s3:::{bucket}/*"),
    "KMS.AccessDenied": "the key may not use the KMS key of the aws:kms server-side encryption; grant kms:GenerateDataKey",
    "InvalidDigest": "S3 rejected the upload's Content-MD5 (corrupted in transit); run the export again",
    "BadDigest": "S3 rejected the upload's Content-MD5 (corrupted in transit); run the export again",
}
_REGION_CODES = ("PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException")
_TRANSIENT_CODES = ("SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable")
_REGION_NAME = re.compile(r"[a-z0-9-]{1,32}")


def region_name(text):
    """`text` when it is shaped like a region name (an endpoint's answer may hold anything), else None."""
    return text if isinstance(text, str) and _REGION_NAME.fullmatch(text) else None


_NO_CREDENTIALS = ("no credentials for bucket {bucket!r}: give the destination key with --destination_access_key_id "
                   f"(or ${KEY_ID_ENV}) and its secret in ${SECRET_ENV}, or set up boto3's standard chain "
                   "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or an instance role)")


def classify(error, action, bucket, settings=None, prefix=""):
    """botocore error -> DestinationError (give up) or TransientDestinationError (retry later). A message
    names only codes we know: an endpoint's own words (an unknown code, a connection's failure) never reach
    it, so an endpoint cannot be made to talk through our errors. A role's refusals have their own words."""
    if isinstance(error, NoCredentialsError):
        return ConfigError(_NO_CREDENTIALS.format(bucket=bucket))
    if isinstance(error, (BotoConnectionError, BotoCoreError)) and not isinstance(error, ClientError):
        return TransientDestinationError(f"could not connect to S3 for bucket {bucket!r}; check the endpoint, or "
                                         "retry later")
    role = settings.role if settings is not None else None
    said = role and role_error(error, role, bucket, prefix, action)
    if said:
        return said
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in _REGION_CODES:
        actual = region_name(error.response.get("Error", {}).get("Region")
                             or error.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
                             .get("x-amz-bucket-region"))
        return DestinationError(f"bucket {bucket!r} is in region {actual or 'another region'}; "
                                "set --destination_region to it")
    if code in ("AccessDenied", "403", "Forbidden"):
        code = f"AccessDenied:{action}"
    if code in _GIVE_UP:
        return DestinationError(_GIVE_UP[code].format(bucket=bucket))
    if code in _TRANSIENT_CODES or status >= 500:
        shown = code if code in _TRANSIENT_CODES else f"HTTP {status}"
        return TransientDestinationError(f"S3 kept failing for bucket {bucket!r} ({shown}); retry later")
    return DestinationError(f"S3 refused {action} on bucket {bucket!r} (HTTP {status})")


def _md5(stream, start, length):
    stream.seek(start)
    digest, left = hashlib.md5(usedforsecurity=False), length
    while left:
        chunk = stream.read(min(left, 8 << 20))
        digest.update(chunk)
        left -= len(chunk)
    stream.seek(start)
    return digest


class _Window:
    """A read-only view of `length` bytes of a seekable stream, so a part is sent without a copy."""

    def __init__(self, stream, start, length):
        self.stream, self.start, self.length, self.position = stream, start, length, 0

    def read(self, size=-1):
        left = self.length - self.position
        size = left if size is None or size < 0 else min(size, left)
        self.stream.seek(self.start + self.position)
        data = self.stream.read(size)
        self.position += len(data)
        return data

    def seek(self, offset, whence=0):
        self.position = {0: offset, 1: self.position + offset, 2: self.length + offset}[whence]
        return self.position

    def tell(self):
        return self.position


def _etag(answer, derived, kind):
    """(ETag, kind) of S3's answer: `kind` when it is the value `derived` from the bytes, else opaque."""
    etag = answer["ETag"].strip('"')
    return etag, kind if etag == derived else "opaque"


def put_object(settings, bucket, key, stream, size, md5=None):
    """PutObject `size` bytes of seekable `stream` (at 0) with Content-MD5 (`md5`: the whole stream's
    hashlib digest, if the caller has it); return the ETag S3 will list and its kind (ETAG_KINDS)."""
    client = client_for(settings)
    try:
        if size <= MULTIPART_THRESHOLD:
            md5 = md5 or _md5(stream, 0, size)
            answer = client.put_object(Bucket=bucket, Key=key, Body=_Window(stream, 0, size), ContentLength=size,
                                       ContentMD5=base64.b64encode(md5.digest()).decode(), **settings.encryption_args())
            return _etag(answer, md5.hexdigest(), "md5")
        upload = client.create_multipart_upload(Bucket=bucket, Key=key, **settings.encryption_args())
        parts, digests = [], []
        for number, start in enumerate(range(0, size, PART_BYTES), start=1):
            length = min(PART_BYTES, size - start)
            md5 = _md5(stream, start, length)
            answer = client.upload_part(Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=number,
                                        Body=_Window(stream, start, length), ContentLength=length,
                                        ContentMD5=base64.b64encode(md5.digest()).decode())
            parts.append({"PartNumber": number, "ETag": answer["ETag"]})
            digests.append(md5.digest())
        etag = f"{hashlib.md5(b''.join(digests), usedforsecurity=False).hexdigest()}-{len(digests)}"
        kms_size = size if settings.sse == "aws:kms" else None
        answer = _complete(client, bucket, key, upload["UploadId"], parts, etag, kms_size)
        return _etag(answer, etag, "multipart")
    except (ClientError, BotoCoreError) as error:
        raise classify(error, "put", bucket, settings, key.rpartition("/")[0] + "/" if "/" in key else "") from None


def _complete(client, bucket, key, upload_id, parts, etag, kms_size=None):
    """CompleteMultipartUpload; returns S3's answer (its ETag). When the answer to a completion that worked
    is lost, botocore's retry finds the upload gone (NoSuchUpload); a listing (all the key may do) then
    shows whether the object is there with this upload's ETag, which means these very bytes (under SSE-KMS,
    whose ETags S3 makes up, with `kms_size` bytes in as many parts: the most a listing can tell)."""
    try:
        return client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                                MultipartUpload={"Parts": parts})
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "NoSuchUpload":
            raise
        listed = client.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("Contents", [])
        found = listed[0] if listed and listed[0]["Key"] == key else {"ETag": "", "Size": -1}
        ours = found["ETag"].strip('"') == etag or (
            kms_size is not None and found["Size"] == kms_size and found["ETag"].strip('"').endswith(f"-{len(parts)}"))
        if not ours:
            raise TransientDestinationError(f"S3 lost the multipart upload of {key!r} in bucket {bucket!r} (a "
                                            "lifecycle rule may have aborted it); run the export again") from None
        return found
