"""A real local S3 endpoint (moto server mode) that enforces IAM, for export tests.

Why a subprocess and not ``mock_aws``: the exporter must be tested the way it
runs in production -- a botocore client talking HTTP to an endpoint with a
least-privilege key.  In-process mocks patch botocore and never sign or
authorise anything; a child ``python -m moto.server`` does both and gives us
an access log of what the client actually sent.

How IAM enforcement is switched on (moto 5.2.5, see moto/core/authorization.py
and moto/iam/access_control.py): moto skips authentication for the first
``INITIAL_NO_AUTH_ACTION_COUNT`` AWS requests (only service calls count, not
``/moto-api``), then checks the SigV4 signature and the caller's IAM policies
on every request.  Moto has *no* root identity: once enforcing, any access key
that does not belong to an IAM user (e.g. the usual ``testing`` dummy) is
rejected with InvalidAccessKeyId.  So we set the count to exactly the
``_BOOTSTRAP_CALLS`` needed to create an admin IAM user with an ``*`` policy
and its key; every later request, setup included, is signed and authorised.
``start()`` proves enforcement is on by checking that a bogus key is refused.

Request log: werkzeug's access log (stderr of the child) gives method, path,
query and status.  It cannot show headers, so a CopyObject looks like a plain
PUT.  Moto's recorder (``MOTO_ENABLE_RECORDING``) additionally writes every
request with its headers to a JSON-lines file before it is handled (denied
requests included), which is what ``object_access_violations`` uses to spot
``x-amz-copy-source``.  Requests sent virtual-host style would show the key
without the bucket; boto3 uses path style for an IP endpoint, so we assume it.
Both logs are written before the response is sent, so once a client call has
returned its request is in them.

Not enforced like AWS (pinned by tests/test_s3server.py): CopyObject and
UploadPartCopy only need s3:PutObject on the destination (the source's
s3:GetObject is never checked, even across buckets); HeadBucket is denied to a
key holding s3:ListBucket (moto checks a fictitious s3:HeadBucket); only
identity policies are evaluated (no bucket policies, ACLs, conditions on S3).

STS: moto holds AssumeRole of an existing role to its trust policy (the caller's
exact ARN or `*` as principal, not an account's root; sts:ExternalId conditions)
but assumes a role that does not exist; the server runs as devtools/moto_trust.py,
which refuses that as AWS does. Temporary credentials never expire here (moto
keeps no clock on them) and DurationSeconds is not bounded (botocore refuses
under 900).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import NamedTuple
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from transforms.sinks.preflight import least_privilege_policy  # the policy customers give the export key

# moto's server, its AssumeRole holding to the role's trust policy as AWS's does (moto's alone does not)
_MOTO_TRUST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "moto_trust.py")
_BOOTSTRAP_CALLS = 3  # CreateUser, PutUserPolicy, CreateAccessKey (see _bootstrap_admin)
_ACCESS_RE = re.compile(r'"([A-Z]+) (\S+) HTTP/[\d.]+" (\d{3})')
_RUNNING_RE = re.compile(r"Running on http://[\d.]+:(\d+)")
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")


class Credentials(NamedTuple):
    access_key_id: str
    secret_access_key: str

    def as_env(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": self.access_key_id,
                "AWS_SECRET_ACCESS_KEY": self.secret_access_key}


class LoggedRequest(NamedTuple):  # one access-log line
    method: str
    path: str
    query: str
    status: int


class RecordedRequest(NamedTuple):  # one recorder entry; headers lower-cased
    method: str
    path: str
    query: str
    headers: dict[str, str]


class LogMark(NamedTuple):  # byte offsets into the two logs
    access: int
    recording: int


def platform_policy(bucket: str, store_prefix: str = "store/", spill_prefix: str = "spill/") -> dict:
    """The platform's own key for its bucket: list it, read the stores (and their marks) under
    ``store_prefix``, and write, read and delete spill pieces under ``spill_prefix``; nothing else, and
    nothing in any other bucket (the customer's least of all)."""
    arn = f"arn:aws:s3:::{bucket}"
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [arn]},
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"{arn}/{store_prefix}*"]},
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
         "Resource": [f"{arn}/{spill_prefix}*"]},
        # MOTO GAP: moto authorises DeleteObjects (how Beam removes the spill) as s3:DeleteObject on the bucket's
        # ARN before it checks each key; AWS checks each key alone, and this grants nothing there.
        {"Effect": "Allow", "Action": ["s3:DeleteObject"], "Resource": [arn]},
    ]}


class LocalS3Server:
    """moto server in a child process on 127.0.0.1, IAM enforced after bootstrap.

    Port 0 lets the OS pick a free port (no probe-then-bind race); we read the
    real one from werkzeug's "Running on" line.  ``admin_credentials`` belong
    to an IAM user allowed ``*``: use them for setup and verification only.
    """

    def __init__(self, region: str = "us-east-1", record_headers: bool = True,
                 startup_timeout: float = 30.0, settings: dict[str, str] | None = None):
        self.region = region
        self.settings = dict(settings or {})  # moto's own variables, e.g. S3_UPLOAD_PART_MIN_SIZE
        self.record_headers = record_headers
        self.startup_timeout = startup_timeout
        self.endpoint_url: str | None = None
        self.admin_credentials: Credentials | None = None
        self._proc: subprocess.Popen | None = None
        self._dir: str | None = None

    @property
    def access_log_path(self) -> str:
        return os.path.join(self._dir, "access.log")

    @property
    def recording_path(self) -> str:
        return os.path.join(self._dir, "recording.jsonl")

    def start(self) -> "LocalS3Server":
        self._dir = tempfile.mkdtemp(prefix="moto-s3-")
        env = dict(os.environ, PYTHONUNBUFFERED="1",
                   INITIAL_NO_AUTH_ACTION_COUNT=str(_BOOTSTRAP_CALLS),
                   MOTO_RECORDER_FILEPATH=self.recording_path, **self.settings)
        env.pop("MOTO_ENABLE_RECORDING", None)
        if self.record_headers:
            env["MOTO_ENABLE_RECORDING"] = "1"
        open(self.recording_path, "w").close()
        with open(self.access_log_path, "wb") as log:
            self._proc = subprocess.Popen(  # nosec B603  # our interpreter and fixed arguments, no shell
                [sys.executable, _MOTO_TRUST, "-H", "127.0.0.1", "-p", "0"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            port = self._wait_for_port()
            self.endpoint_url = f"http://127.0.0.1:{port}"
            self.admin_credentials = self._bootstrap_admin()
            self._assert_enforcing()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()  # moto.server exits cleanly on SIGTERM
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> "LocalS3Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _wait_for_port(self) -> int:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"moto server exited:\n{self._read_log()}")
            match = _RUNNING_RE.search(_ANSI_RE.sub("", self._read_log()))
            if match:
                port = int(match.group(1))
                try:  # a TCP connect does not consume an INITIAL_NO_AUTH action
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    return port
                except OSError:
                    pass
            time.sleep(0.05)
        raise TimeoutError(f"moto server did not start:\n{self._read_log()}")

    def _read_log(self) -> str:
        with open(self.access_log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def _bootstrap_admin(self) -> Credentials:
        """Exactly _BOOTSTRAP_CALLS unauthenticated IAM calls; keep in sync."""
        iam = self.client("iam", Credentials("bootstrap", "bootstrap"))
        iam.create_user(UserName="moto-admin")
        iam.put_user_policy(UserName="moto-admin", PolicyName="admin", PolicyDocument=json.dumps(
            {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="moto-admin")["AccessKey"]
        return Credentials(key["AccessKeyId"], key["SecretAccessKey"])

    def _assert_enforcing(self) -> None:
        try:
            self.client("s3", Credentials("AKIANOTAKEY000000000", "x")).list_buckets()
        except ClientError as e:
            if e.response["Error"]["Code"] == "InvalidAccessKeyId":
                return
            raise
        raise RuntimeError("moto is not enforcing IAM: bogus key was accepted")

    def client(self, service: str = "s3", credentials: Credentials | None = None,
               region: str | None = None):
        """A boto3 client for this endpoint (admin credentials by default)."""
        creds = credentials or self.admin_credentials
        return boto3.client(
            service, endpoint_url=self.endpoint_url, region_name=region or self.region,
            aws_access_key_id=creds.access_key_id, aws_secret_access_key=creds.secret_access_key,
            config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}))

    def admin_client(self, service: str = "s3", region: str | None = None):
        return self.client(service, self.admin_credentials, region)

    # ---- request log -------------------------------------------------------
    def mark(self) -> LogMark:
        """Remember where the logs end now; pass to requests_since()/recorded_since()."""
        return LogMark(os.path.getsize(self.access_log_path), os.path.getsize(self.recording_path))

    def requests_since(self, mark: LogMark | None = None) -> list[LoggedRequest]:
        """AWS requests from the access log (method, path, query, status), /moto-api excluded."""
        out = []
        with open(self.access_log_path, "rb") as f:
            f.seek(mark.access if mark else 0)
            lines = f.read().decode("utf-8", "replace").splitlines()
        for line in lines:
            m = _ACCESS_RE.search(_ANSI_RE.sub("", line))
            if m and not m.group(2).startswith("/moto-api"):
                path, _, query = m.group(2).partition("?")
                out.append(LoggedRequest(m.group(1), path, query, int(m.group(3))))
        return out

    def recorded_since(self, mark: LogMark | None = None) -> list[RecordedRequest]:
        """Requests with headers from moto's recorder (needs record_headers=True)."""
        if not self.record_headers:
            raise RuntimeError("started with record_headers=False")
        with open(self.recording_path, "rb") as f:
            f.seek(mark.recording if mark else 0)
            text = f.read().decode("utf-8", "replace")
        # Parse a stream of JSON objects, not lines: moto writes an entry and its
        # "\n" separately, so concurrent large entries can end up on one line.
        out, pos, decoder = [], 0, json.JSONDecoder()
        while True:
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos >= len(text):
                return out
            entry, pos = decoder.raw_decode(text, pos)
            url = urlsplit(entry["url"])
            headers = {k.lower(): v for k, v in entry["headers"].items()}
            out.append(RecordedRequest(entry["method"], url.path, url.query, headers))

    def object_access_violations(self, mark: LogMark, bucket: str) -> list[str]:
        """Attempts (allowed or denied) to read, copy or delete objects in ``bucket``.

        Flags GET/HEAD/DELETE on a key, PUT with x-amz-copy-source (CopyObject,
        UploadPartCopy) and POST ?delete (DeleteObjects).  Uses the recorder when
        enabled, else the access log (which cannot see copies).
        """
        reqs = (self.recorded_since(mark) if self.record_headers
                else [RecordedRequest(r.method, r.path, r.query, {}) for r in self.requests_since(mark)])
        bad = []
        for r in reqs:
            b, _, key = r.path.lstrip("/").partition("/")
            if b != bucket:
                continue
            if ((key and r.method in ("GET", "HEAD", "DELETE"))
                    or (r.method == "PUT" and "x-amz-copy-source" in r.headers)
                    or (r.method == "POST" and re.search(r"(^|&)delete(=|&|$)", r.query))):
                bad.append(f"{r.method} {r.path}{'?' + r.query if r.query else ''}")
        return bad


def provision_least_privilege(server: LocalS3Server, bucket: str, region: str | None = None,
                              user_name: str | None = None, create_bucket: bool = True,
                              policy: dict | None = None) -> Credentials:
    """Create ``bucket`` (in ``region``), an IAM user with least_privilege_policy, and its key.

    create_bucket=False gives a key for a bucket that does not exist (NoSuchBucket tests);
    ``policy`` replaces the least-privilege policy (tests of a key missing a permission).
    """
    region = region or server.region
    if create_bucket:
        kwargs = {} if region == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": region}}
        server.admin_client("s3", region).create_bucket(Bucket=bucket, **kwargs)
    iam = server.admin_client("iam")
    user = user_name or f"export-{bucket}"
    iam.create_user(UserName=user)
    arn = iam.create_policy(PolicyName=f"{user}-policy", PolicyDocument=json.dumps(
        policy or least_privilege_policy(bucket)))["Policy"]["Arn"]
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


def provision_platform_identity(server: LocalS3Server, user_name: str = "eventexport-platform") -> tuple:
    """The platform's identity that assumes customers' roles: an IAM user allowed sts:AssumeRole and nothing else.
    Returns (its key, its ARN: the principal customers' trust policies name)."""
    iam = server.admin_client("iam")
    arn = iam.create_user(UserName=user_name)["User"]["Arn"]
    iam.put_user_policy(UserName=user_name, PolicyName="assume-roles", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
    key = iam.create_access_key(UserName=user_name)["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"]), arn


def provision_role(server: LocalS3Server, bucket: str, trust: dict, prefix: str = "", role_name: str | None = None,
                   region: str | None = None, create_bucket: bool = True, policy: dict | None = None) -> str:
    """A customer's role for ``bucket`` (made here unless create_bucket=False): ``trust`` as its trust policy
    (control/roles.py trust_policy), least_privilege_policy on the prefix as its permissions unless ``policy``
    replaces it. Returns the role's ARN. The server holds AssumeRole to the trust policy (see the module's doc)."""
    region = region or server.region
    if create_bucket:
        kwargs = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        server.admin_client("s3", region).create_bucket(Bucket=bucket, **kwargs)
    iam = server.admin_client("iam")
    name = role_name or f"export-{bucket}"
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="list-and-put", PolicyDocument=json.dumps(
        policy or least_privilege_policy(bucket, prefix)))
    return arn


def upload_tree(server: LocalS3Server, folder: str, bucket: str, prefix: str) -> int:
    """Copy every file under ``folder`` to ``bucket`` at ``prefix`` + its relative path (an ingester landing a
    store), with the admin key; return how many files."""
    admin, count = server.admin_client(), 0
    for root, _, names in sorted(os.walk(folder)):
        for name in sorted(names):
            path = os.path.join(root, name)
            admin.upload_file(path, bucket, prefix + os.path.relpath(path, folder).replace(os.sep, "/"))
            count += 1
    return count


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local IAM-enforcing S3 for export demos")
    parser.add_argument("--bucket", default="demo-bucket")
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args(argv)
    try:  # Ctrl-C may land anywhere; the with-block always stops the server
        with LocalS3Server(region=args.region) as server:
            creds = provision_least_privilege(server, args.bucket)
            admin = server.admin_credentials
            print(f"# moto S3 at {server.endpoint_url}, bucket {args.bucket} ({args.region})")
            print(f"# admin key (setup/verify only): {admin.access_key_id} {admin.secret_access_key}")
            print("# restricted export key:")
            env = dict(creds.as_env(), AWS_DEFAULT_REGION=args.region,
                       AWS_ENDPOINT_URL_S3=server.endpoint_url)
            for name, value in env.items():
                print(f"export {name}={value}")
            print("# Ctrl-C to stop", flush=True)
            while server._proc.poll() is None:
                time.sleep(0.5)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
