"""A destination reached through an IAM role of the customer's: STS AssumeRole with the account's external id.

The customer's role trusts the platform's identity (a deployment setting, never shown to customers and
never passed on: each process, Dask workers included, reads it from its own environment, else boto3's
chain) on the condition that the call carries the account's external id. So one customer cannot make us
assume another customer's role by typing its ARN (the confused deputy, README). The temporary credentials
are botocore's own refreshable kind (`AssumeRoleCredentialFetcher` behind `DeferredRefreshableCredentials`):
they are fetched on first use and fetched again `refresh_seconds` before they expire, however long the run.

What travels with a run's settings (to every worker): the role's ARN, the external id, the session's name,
the STS endpoint, the session's length and the refresh margin; none of them is a secret.
"""

import dataclasses
import functools
import os
import re

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import (AssumeRoleCredentialFetcher, CredentialProvider, CredentialResolver, Credentials,
                                  DeferredRefreshableCredentials)

from transforms.errors import ConfigError, DestinationError

__all__ = ["RoleSettings", "role_session", "session_name", "check_role_arn", "role_error", "platform_principal",
           "PLATFORM_KEY_ID_ENV", "PLATFORM_SECRET_ENV", "PLATFORM_PRINCIPAL_ENV", "STS_ENDPOINT_ENV", "DURATION_ENV",
           "REFRESH_ENV", "DEFAULT_DURATION", "DEFAULT_REFRESH"]

# The platform's identity that assumes customers' roles (else boto3's chain: an instance role, AWS_PROFILE, ...).
PLATFORM_KEY_ID_ENV = "EVENTEXPORT_ASSUME_ROLE_ACCESS_KEY_ID"
PLATFORM_SECRET_ENV = "EVENTEXPORT_ASSUME_ROLE_SECRET_ACCESS_KEY"  # nosec B105  # a variable's name
# The ARN customers' trust policies name as the principal (the identity above, or its account's root).
PLATFORM_PRINCIPAL_ENV = "EVENTEXPORT_ASSUME_ROLE_PRINCIPAL"
STS_ENDPOINT_ENV = "EVENTEXPORT_STS_ENDPOINT_URL"   # tests and demos: the local server; default AWS's
DURATION_ENV = "EVENTEXPORT_ASSUME_ROLE_DURATION_SECONDS"
REFRESH_ENV = "EVENTEXPORT_ASSUME_ROLE_REFRESH_SECONDS"
# Seconds. An hour is the longest session a role grants unless its owner raises MaxSessionDuration, and
# 900 the shortest STS allows. Credentials are fetched again 15 minutes before they expire (botocore's
# own advisory margin): a 100 MB part in flight has ample time, and a refresh that fails is tried again
# until 7.5 minutes are left, when every request waits for it.
DEFAULT_DURATION = 3600
DEFAULT_REFRESH = 900
_ROLE_ARN = re.compile(r"arn:aws(-[a-z]+)*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
_SESSION_CHARS = re.compile(r"[^\w+=,.@-]")


def _number(name, default):
    text = os.environ.get(name)
    try:
        value = int(text) if text else default
    except ValueError:
        raise ConfigError(f"${name} {text!r} is not a whole number of seconds") from None
    if value < 1:
        raise ConfigError(f"${name} {value} must be a positive number of seconds")
    return value


def platform_principal():
    """The principal customers' trust policies name (the deployment's setting), or None if it has none."""
    return os.environ.get(PLATFORM_PRINCIPAL_ENV) or None


def check_role_arn(role_arn, field="role_arn"):
    """`role_arn` if it is an IAM role's ARN, else a ConfigError saying what one looks like."""
    if not isinstance(role_arn, str) or not _ROLE_ARN.fullmatch(role_arn):
        raise ConfigError(f"The role ARN {role_arn!r} is not an IAM role's ARN, e.g. "
                          "arn:aws:iam::123456789012:role/eventexport", field=field)
    return role_arn


def session_name(account, request_id):
    """The AssumeRole session's name, which the customer's CloudTrail shows: the account and the export
    (STS allows 2 to 64 of letters, digits and `+=,.@-`)."""
    return _SESSION_CHARS.sub("-", f"eventexport-{account}-{request_id}")[:64]


@dataclasses.dataclass(frozen=True)
class RoleSettings:
    """Which role to assume and how; the deployment's parts (endpoint, duration, margin) are read where the
    settings are made and travel with them, the platform's secret never does."""

    role_arn: str
    external_id: str
    session_name: str = "eventexport"
    sts_endpoint_url: str = dataclasses.field(default_factory=lambda: os.environ.get(STS_ENDPOINT_ENV) or None)
    duration_seconds: int = dataclasses.field(default_factory=lambda: _number(DURATION_ENV, DEFAULT_DURATION))
    refresh_seconds: int = dataclasses.field(default_factory=lambda: _number(REFRESH_ENV, DEFAULT_REFRESH))

    def __post_init__(self):
        check_role_arn(self.role_arn, field=None)
        if not self.external_id or len(self.external_id) < 2:
            raise ConfigError("a role needs the account's external id (--destination_external_id)")

    def __repr__(self):
        return f"RoleSettings(role_arn={self.role_arn!r}, session_name={self.session_name!r})"


def _platform_credentials():
    """The identity that calls AssumeRole: this process's deployment setting, else boto3's chain."""
    key_id, secret = os.environ.get(PLATFORM_KEY_ID_ENV), os.environ.get(PLATFORM_SECRET_ENV)
    if key_id and secret:
        return Credentials(key_id, secret)
    found = boto3.session.Session().get_credentials()
    if found is None:
        raise ConfigError("this deployment has no identity to assume customers' roles with: set "
                          f"${PLATFORM_KEY_ID_ENV} and ${PLATFORM_SECRET_ENV} (or boto3's chain, e.g. an instance "
                          "role) on every process that runs exports, Dask workers included")
    return found


class _RoleCredentials(DeferredRefreshableCredentials):
    """Fetched on first use, refreshed `refresh` seconds before they expire (all requests wait from half that)."""

    def __init__(self, fetch, refresh):
        super().__init__(refresh_using=fetch, method="assume-role")
        self._advisory_refresh_timeout, self._mandatory_refresh_timeout = refresh, refresh // 2


class _Provider(CredentialProvider):
    METHOD = "assume-role"

    def __init__(self, credentials):
        super().__init__()
        self._credentials = credentials

    def load(self):
        return self._credentials


@functools.lru_cache(maxsize=8)
def role_session(role, region):
    """A boto3 session whose credentials are the role's, refreshed before they expire (one per role per process)."""
    sts_config = Config(retries={"mode": "standard", "max_attempts": 5}, ignore_configured_endpoint_urls=True)
    create = functools.partial(boto3.session.Session().client, endpoint_url=role.sts_endpoint_url,
                               region_name=region or "us-east-1", config=sts_config)
    fetcher = AssumeRoleCredentialFetcher(
        create, _platform_credentials(), role.role_arn, expiry_window_seconds=role.refresh_seconds,
        extra_args={"ExternalId": role.external_id, "RoleSessionName": role.session_name,
                    "DurationSeconds": role.duration_seconds})
    core = botocore.session.get_session()
    core.register_component("credential_provider", CredentialResolver([_Provider(
        _RoleCredentials(fetcher.fetch_credentials, role.refresh_seconds))]))
    return boto3.session.Session(botocore_session=core)


_ROLE_ERRORS = {
    "AccessDenied": ("we may not assume role {arn}: check the role ARN, and that the role's trust policy names "
                     "our principal {principal} and requires sts:ExternalId {external_id} (Settings shows both)"),
    "ValidationError": "STS refused to start a session with role {arn}; check the role ARN and its maximum session "
                       "duration (at least {duration} seconds)",
    "RegionDisabledException": "STS is not enabled in the bucket's region for the role's account; activate it in "
                               "the account's IAM settings",
    "InvalidClientTokenId": "this deployment's identity for assuming roles is not valid; the platform's operators "
                            "must fix it (this is not your setting)",
    "ExpiredToken": "the session of role {arn} expired and could not be renewed; run the export again, and if it "
                    "recurs check that the role may still be assumed",
}
_ROLE_ERRORS["ExpiredTokenException"] = _ROLE_ERRORS["TokenRefreshRequired"] = _ROLE_ERRORS["ExpiredToken"]
_ROLE_ERRORS["SignatureDoesNotMatch"] = _ROLE_ERRORS["InvalidClientTokenId"]


def role_error(error, role, bucket, prefix, action):
    """The message of a refusal that concerns the role (AssumeRole's, an expired session's, a role denied a
    put), else None for classify's general rules."""
    code = error.response.get("Error", {}).get("Code", "")
    words = {"arn": role.role_arn, "principal": platform_principal() or "(the platform's)",
             "external_id": role.external_id, "duration": role.duration_seconds}
    if getattr(error, "operation_name", "") == "AssumeRole" or code in ("ExpiredToken", "ExpiredTokenException",
                                                                         "TokenRefreshRequired"):
        return DestinationError(_ROLE_ERRORS.get(code, "STS refused to start a session with role {arn}")
                                .format(**words))
    if code in ("AccessDenied", "403", "Forbidden") and action == "put":
        return DestinationError(f"role {role.role_arn} may not put objects in bucket {bucket!r}: its permission policy "
                                f"must allow s3:PutObject on arn:aws:s3:::{bucket}/{prefix}*")
    if code in ("AccessDenied", "403", "Forbidden") and action == "list":
        return DestinationError(f"role {role.role_arn} may not list bucket {bucket!r}: its permission policy must "
                                f"allow s3:ListBucket on arn:aws:s3:::{bucket}")
    return None
