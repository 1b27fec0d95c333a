"""Destinations: a customer's bucket and key, owned by one account. Saved only after the connection test passes.

The access key id and secret are sealed (control/secrets.py) as soon as they arrive and never leave
this module in clear except inside `S3Settings`, whose `Secret` values never print.
"""

import datetime as dt
import re

import sqlalchemy as sa
from botocore.utils import is_valid_endpoint_url, is_valid_ipv6_endpoint_url

from control.accounts import DEFAULT_ACCOUNT, get_account
from control.models import destinations, fetch_all, fetch_one, requests, utc
from transforms.destination import parse_destination
from transforms.errors import ConfigError, ConflictError, ExportError
from transforms.s3 import SSE_MODES, S3Settings, Secret
from transforms.s3_checks import DATA_REGIONS, check_destination

__all__ = ["add_destination", "test_connection", "list_destinations", "get_destination", "test_destination",
           "remove_destination", "s3_settings", "public_view"]

_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")   # an AWS region name such as eu-west-1
_LIMITS = {"prefix": 500, "endpoint_url": 500, "sse_kms_key_id": 300}   # the columns' sizes


def _prefix(prefix):
    prefix = (prefix or "").strip("/")
    return prefix + "/" if prefix else ""


def s3_settings(row, vault):
    """The S3 settings of a stored destination, secrets unsealed (Secret values never print)."""
    return S3Settings(region=row["region"] or DATA_REGIONS[row["data_region"]], endpoint_url=row["endpoint_url"],
                      path_style=row["path_style"], access_key_id=Secret(vault.open(row["access_key_id_sealed"])),
                      secret_access_key=Secret(vault.open(row["secret_sealed"])), sse=row["sse"],
                      sse_kms_key_id=row["sse_kms_key_id"])


def public_view(row):
    """What may be shown of a destination: everything but the sealed key id and secret."""
    shown = {k: v for k, v in row.items() if not k.endswith("_sealed")}
    shown["created_at"] = row["created_at"].isoformat() + "Z"
    return shown


def _data_region(engine, account, data_region):
    """The destination's data region: the account's, which a destination may not contradict."""
    required = get_account(engine, account)["data_region"]
    if not data_region and not required:
        raise ConfigError(f"give the data region, one of {', '.join(DATA_REGIONS)}", field="data_region")
    if data_region and data_region not in DATA_REGIONS:
        raise ConfigError(f"--data-region {data_region!r} is not one of {', '.join(DATA_REGIONS)}",
                          field="data_region")
    if data_region and required and data_region != required:
        raise ConfigError(f"account {account!r} keeps its data in data region {required}; a destination may not "
                          f"name {data_region}", field="data_region")
    return data_region or required


def _validated(engine, vault, account, *, access_key_id, secret_access_key, **fields):
    """The row a destination would be stored as, after every check but the connection test. A key pasted
    into the wrong field would be echoed by the message naming that field's bad value: it is masked."""
    try:
        return _checked(engine, vault, account, access_key_id=access_key_id, secret_access_key=secret_access_key,
                        **fields)
    except ExportError as error:
        message = str(error)
        for secret in (secret_access_key, access_key_id):
            if isinstance(secret, str) and len(secret) >= 4 and secret in message:
                message = message.replace(secret, "***")
        if message == str(error):
            raise
        raise type(error)(message, field=error.field) from None


def _checked(engine, vault, account, *, name, bucket, data_region, access_key_id, secret_access_key, prefix,
             endpoint_url, region, path_style, sse, sse_kms_key_id, now):
    data_region = _data_region(engine, account, data_region)
    if not name or len(name) > 100 or name != name.strip() or "/" in name:
        raise ConfigError("--name must be 1 to 100 characters, without '/' or surrounding spaces", field="name")
    if not access_key_id or not secret_access_key:
        raise ConfigError("give --access-key-id and the secret (--secret-access-key-stdin or "
                          "EVENTEXPORT_SECRET_ACCESS_KEY)", field="secret_access_key" if access_key_id else
                          "access_key_id")
    try:
        S3Settings(sse=sse, sse_kms_key_id=sse_kms_key_id)   # its own checks of the encryption settings
    except ConfigError as error:
        raise ConfigError(str(error), field="sse_kms_key_id" if sse_kms_key_id and sse in SSE_MODES else "sse") \
            from None
    for field, value in (("prefix", prefix), ("endpoint_url", endpoint_url), ("sse_kms_key_id", sse_kms_key_id)):
        if value and len(value) > _LIMITS[field]:
            raise ConfigError(f"{field} is longer than {_LIMITS[field]} characters", field=field)
    if endpoint_url and not (endpoint_url.startswith(("http://", "https://")) and (
            is_valid_endpoint_url(endpoint_url) or is_valid_ipv6_endpoint_url(endpoint_url))):
        raise ConfigError(f"--endpoint-url {endpoint_url!r} is not an http:// or https:// URL",
                          field="endpoint_url")
    if region and not _REGION.fullmatch(region):
        raise ConfigError(f"--region {region!r} is not a region name such as eu-west-1", field="region")
    try:
        if not bucket or "/" in bucket:
            raise ConfigError(f"{bucket!r} is not a valid S3 bucket name")
        parse_destination(f"s3://{bucket}")
    except ConfigError as error:
        raise ConfigError(str(error), field="bucket") from None
    try:
        parse_destination(f"s3://{bucket}/{_prefix(prefix)}")
    except ConfigError as error:
        raise ConfigError(str(error), field="prefix") from None
    return {"account_id": account, "name": name, "bucket": bucket, "prefix": _prefix(prefix),
            "data_region": data_region, "region": region or None, "endpoint_url": endpoint_url or None,
            "path_style": bool(path_style), "sse": sse, "sse_kms_key_id": sse_kms_key_id or None,
            "access_key_id_sealed": vault.seal(access_key_id), "secret_sealed": vault.seal(secret_access_key),
            "created_at": utc(now or dt.datetime.now(dt.timezone.utc))}


def test_connection(engine, vault, account=DEFAULT_ACCOUNT, *, name="unsaved", bucket, data_region=None,
                    access_key_id, secret_access_key, prefix="", endpoint_url=None, region=None, path_style=False,
                    sse="none", sse_kms_key_id=None):
    """Run the connection test on a destination not yet saved (a form's Test button); return the bucket region."""
    row = _validated(engine, vault, account, name=name, bucket=bucket, data_region=data_region,
                     access_key_id=access_key_id, secret_access_key=secret_access_key, prefix=prefix,
                     endpoint_url=endpoint_url, region=region, path_style=path_style, sse=sse,
                     sse_kms_key_id=sse_kms_key_id, now=None)
    return check_destination(s3_settings(row, vault), row["bucket"], row["prefix"], row["data_region"])


def add_destination(engine, vault, account=DEFAULT_ACCOUNT, *, name, bucket, data_region=None, access_key_id,
                    secret_access_key, prefix="", endpoint_url=None, region=None, path_style=False, sse="none",
                    sse_kms_key_id=None, now=None):
    """Check a destination, run its connection test, and save it in `account`; return its stored row."""
    row = _validated(engine, vault, account, name=name, bucket=bucket, data_region=data_region,
                     access_key_id=access_key_id, secret_access_key=secret_access_key, prefix=prefix,
                     endpoint_url=endpoint_url, region=region, path_style=path_style, sse=sse,
                     sse_kms_key_id=sse_kms_key_id, now=now)
    if _find(engine, account, name) is not None:
        raise ConflictError(f"destination {name!r} exists; remove it first or pick another name", field="name")
    check_destination(s3_settings(row, vault), bucket, row["prefix"], row["data_region"])
    with engine.begin() as connection:
        connection.execute(destinations.insert().values(**row))
    return row


def _find(engine, account, name):
    with engine.connect() as connection:
        row = connection.execute(sa.select(destinations).where(
            (destinations.c.account_id == account) & (destinations.c.name == name))).first()
    return None if row is None else dict(row._mapping)


def list_destinations(engine, account=DEFAULT_ACCOUNT):
    """The account's destinations by name (stored rows: pass each through public_view before showing it)."""
    return fetch_all(engine, destinations, destinations.c.name, destinations.c.account_id == account)


def get_destination(engine, name, account=DEFAULT_ACCOUNT):
    """The account's destination `name` (stored row); NotFoundError if the account has none by that name."""
    return fetch_one(engine, destinations.c.name, name, f"no destination named {name!r}; see `eventexport "
                     "destination list`", destinations.c.account_id == account)


def test_destination(engine, vault, name, account=DEFAULT_ACCOUNT):
    """Run the connection test again on a saved destination; return the bucket's region."""
    row = get_destination(engine, name, account)
    return check_destination(s3_settings(row, vault), row["bucket"], row["prefix"], row["data_region"])


def remove_destination(engine, name, account=DEFAULT_ACCOUNT):
    """Remove a destination no export request names (the activity log keeps its history whole)."""
    get_destination(engine, name, account)
    mine = (requests.c.account_id == account) & (requests.c.destination == name)
    with engine.begin() as connection:
        active = connection.execute(sa.select(requests.c.id).where(mine & (requests.c.status == "active"))).first()
        if active:
            raise ConflictError(f"destination {name!r} has active export {active.id}; stop it first "
                                f"(eventexport export stop {active.id})")
        used = connection.execute(sa.select(requests.c.id).where(mine)).first()
        if used:
            raise ConflictError(f"destination {name!r} is named by past exports (e.g. {used.id}) in the activity "
                                "log; it is kept so their history stays whole")
        connection.execute(destinations.delete().where(
            (destinations.c.account_id == account) & (destinations.c.name == name)))
