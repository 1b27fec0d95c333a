"""Destinations: a customer's bucket and key (or role), owned by one account. Saved only after the connection
test passes.

A destination reaches its bucket with an access key or by assuming a role of the customer's with the
account's external id (control/roles.py); `_checked` is the one place either is validated. The access key
id and secret are sealed (control/secrets.py) as soon as they arrive and never leave this module in clear
except inside `S3Settings`, whose `Secret` values never print. Refusals carry the
`field` at fault and, like control/exports.py, word it for any surface (CLI, REST API, console).
"""

import datetime as dt
import re

import sqlalchemy as sa
from botocore.utils import is_valid_endpoint_url, is_valid_ipv6_endpoint_url

from control.accounts import DEFAULT_ACCOUNT, get_account
from control.errors import ConflictError
from control.models import destinations, fetch_all, fetch_one, requests, utc
from transforms.errors import ConfigError, ExportError
from transforms.sinks.credentials import RoleSettings, check_role_arn, session_name
from transforms.sinks.preflight import DATA_REGIONS, check_destination
from transforms.sinks.s3 import SSE_MODES, S3Settings, Secret
from transforms.sinks.target import MAX_PREFIX_BYTES, parse_destination

__all__ = ["folder_prefix", "add_destination", "edit_destination", "EDITABLE", "test_connection",
           "list_destinations", "get_destination", "test_destination", "remove_destination", "s3_settings",
           "s3_settings_values", "public_view", "MAX_NAME_CHARS", "MAX_PREFIX_CHARS"]

_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")   # an AWS region name such as eu-west-1
MAX_NAME_CHARS = 100    # the column's size; a name is a label, not a description
MAX_PREFIX_CHARS = 500  # the column's size; the pipeline also holds it to MAX_PREFIX_BYTES of UTF-8
_LIMITS = {"prefix": MAX_PREFIX_CHARS, "endpoint_url": 500, "sse_kms_key_id": 300}   # the columns' sizes
_WORDS = {"prefix": "prefix", "endpoint_url": "endpoint URL", "sse_kms_key_id": "KMS key ID"}
# What an edit may change (the bucket, data region and name make another destination: add that instead)
EDITABLE = ("role_arn", "access_key_id", "secret_access_key", "prefix", "endpoint_url", "region", "path_style",
            "sse", "sse_kms_key_id")
_KEY = {"access_key_id": "access_key_id_sealed",  # nosec B105  # field: its sealed column, names not secrets
        "secret_access_key": "secret_sealed"}
_WAY_IN = ("role_arn", *_KEY)   # a destination's role, or its key


def folder_prefix(prefix):
    """A destination's prefix as stored: no '/' at its start, one at its end ('' for the bucket's root)."""
    prefix = (prefix or "").strip("/")
    return prefix + "/" if prefix else ""


def s3_settings_values(row):
    """A stored destination's S3 settings but its key: the region is the bucket's, else its data region's."""
    return {"region": row["region"] or DATA_REGIONS[row["data_region"]], "endpoint_url": row["endpoint_url"],
            "path_style": row["path_style"], "sse": row["sse"], "sse_kms_key_id": row["sse_kms_key_id"]}


def s3_settings(row, vault, account=None, request_id="connection-test"):
    """The S3 settings of a stored destination of `account` (its row), secrets unsealed (Secret values never
    print); a role's session names the account and `request_id`, the export it writes for (a key's needs neither)."""
    if row.get("role_arn"):
        return S3Settings(**s3_settings_values(row), role=RoleSettings(
            row["role_arn"], account["external_id"], session_name(account["id"], request_id)))
    return S3Settings(**s3_settings_values(row), access_key_id=Secret(vault.open(row["access_key_id_sealed"])),
                      secret_access_key=Secret(vault.open(row["secret_sealed"])))


def public_view(row):
    """What may be shown of a destination: everything but the sealed key id and secret."""
    shown = {k: v for k, v in row.items() if not k.endswith("_sealed")}
    shown["created_at"] = row["created_at"].isoformat() + "Z"
    return shown


def _bucket_name(bucket):
    """Whether `bucket` is a valid S3 bucket name, by the pipeline's own rule."""
    try:
        return bool(bucket) and "/" not in bucket and bool(parse_destination(f"s3://{bucket}"))
    except ConfigError:
        return False


def _data_region(engine, account, data_region):
    """The destination's data region: the account's, which a destination may not contradict."""
    required = get_account(engine, account)["data_region"]
    if not data_region and not required:
        raise ConfigError(f"Give the data region, one of {', '.join(DATA_REGIONS)}", field="data_region")
    if data_region and data_region not in DATA_REGIONS:
        raise ConfigError(f"The data region {data_region!r} is not one of {', '.join(DATA_REGIONS)}",
                          field="data_region")
    if data_region and required and data_region != required:
        raise ConfigError(f"Account {account!r} keeps its data in data region {required}, so its destinations "
                          f"do too; choose {required}, not {data_region}", field="data_region")
    return data_region or required


def _validated(engine, vault, account, *, access_key_id=None, secret_access_key=None, **fields):
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


def _credentials(vault, access_key_id, secret_access_key, role_arn):
    """The stored columns of a destination's key or role: one or the other, never both."""
    if role_arn:
        if access_key_id or secret_access_key:
            raise ConfigError("Give a role ARN or an access key, not both; a role is the safer choice, so clear the "
                              "key's fields", field="access_key_id" if access_key_id else "secret_access_key")
        return {"role_arn": check_role_arn(role_arn.strip()), "access_key_id_sealed": None,
                "secret_sealed": None}  # nosec B105  # a role has no secret: the column is empty
    if not access_key_id or not secret_access_key:
        raise ConfigError("Give the role ARN to assume, or both the access key ID and its secret access key; the "
                          + ("secret is" if access_key_id else "key ID is") + " missing",
                          field="secret_access_key" if access_key_id else "access_key_id")
    return {"role_arn": None, "access_key_id_sealed": vault.seal(access_key_id),
            "secret_sealed": vault.seal(secret_access_key)}


def _checked(engine, vault, account, *, name, bucket, data_region, access_key_id, secret_access_key, prefix,
             endpoint_url, region, path_style, sse, sse_kms_key_id, now, role_arn=None):
    data_region = _data_region(engine, account, data_region)
    if not name or len(name) > MAX_NAME_CHARS or name != name.strip() or "/" in name:
        shown = repr(name) if name and len(name) <= MAX_NAME_CHARS else f"of {len(name or ''):,} characters"
        raise ConfigError(f"The destination name {shown} does not fit: use 1 to {MAX_NAME_CHARS} characters, "
                          "without '/' or spaces at either end", field="name")
    credentials = _credentials(vault, access_key_id, secret_access_key, role_arn)
    try:
        S3Settings(sse=sse, sse_kms_key_id=sse_kms_key_id)   # its own checks of the encryption settings
    except ConfigError:
        if sse not in SSE_MODES:
            raise ConfigError(f"The server-side encryption {sse!r} is not one of {', '.join(SSE_MODES)}",
                              field="sse") from None
        raise ConfigError("A KMS key ID is only for server-side encryption aws:kms; choose aws:kms or clear the "
                          "KMS key ID", field="sse_kms_key_id") from None
    for field, value in (("prefix", prefix), ("endpoint_url", endpoint_url), ("sse_kms_key_id", sse_kms_key_id)):
        if value and len(value) > _LIMITS[field]:
            raise ConfigError(f"The {_WORDS[field]} is {len(value)} characters long; the most allowed is "
                              f"{_LIMITS[field]}", field=field)
    if endpoint_url and not (endpoint_url.startswith(("http://", "https://")) and (
            is_valid_endpoint_url(endpoint_url) or is_valid_ipv6_endpoint_url(endpoint_url))):
        raise ConfigError(f"The endpoint URL {endpoint_url!r} is not an http:// or https:// URL, e.g. "
                          "https://s3.example.com", field="endpoint_url")
    if region and not _REGION.fullmatch(region):
        raise ConfigError(f"The bucket region {region!r} is not a region name such as eu-west-1",
                          field="region")
    if not _bucket_name(bucket):
        raise ConfigError(f"The bucket {bucket!r} is not a valid S3 bucket name: 3 to 63 lowercase letters, "
                          "digits, dots or hyphens, starting and ending with a letter or digit", field="bucket")
    try:
        parse_destination(f"s3://{bucket}/{folder_prefix(prefix)}")
    except ConfigError:
        raise ConfigError(f"The prefix {prefix!r} is not a safe folder path: no '.' or '..' folders, '//', "
                          f"backslashes or control characters, at most {MAX_PREFIX_BYTES} bytes; e.g. exports/team-a",
                          field="prefix") from None
    return {"account_id": account, "name": name, "bucket": bucket, "prefix": folder_prefix(prefix),
            "data_region": data_region, "region": region or None, "endpoint_url": endpoint_url or None,
            "path_style": bool(path_style), "sse": sse, "sse_kms_key_id": sse_kms_key_id or None,
            **credentials, "created_at": utc(now or dt.datetime.now(dt.timezone.utc))}


def _connection_test(engine, vault, account, row):
    """The connection test of a destination row of `account`; returns the bucket's region."""
    settings = s3_settings(row, vault, get_account(engine, account))
    return check_destination(settings, row["bucket"], row["prefix"], row["data_region"])


def test_connection(engine, vault, account=DEFAULT_ACCOUNT, *, name="unsaved", bucket, data_region=None,
                    access_key_id=None, secret_access_key=None, role_arn=None, prefix="", endpoint_url=None,
                    region=None, path_style=False, sse="none", sse_kms_key_id=None):
    """Run the connection test on a destination not yet saved (a form's Test button); return the bucket region."""
    row = _validated(engine, vault, account, name=name, bucket=bucket, data_region=data_region,
                     access_key_id=access_key_id, secret_access_key=secret_access_key, role_arn=role_arn,
                     prefix=prefix, endpoint_url=endpoint_url, region=region, path_style=path_style, sse=sse,
                     sse_kms_key_id=sse_kms_key_id, now=None)
    return _connection_test(engine, vault, account, row)


def add_destination(engine, vault, account=DEFAULT_ACCOUNT, *, name, bucket, data_region=None, access_key_id=None,
                    secret_access_key=None, role_arn=None, prefix="", endpoint_url=None, region=None, path_style=False,
                    sse="none", sse_kms_key_id=None, now=None):
    """Check a destination (a key, or a role to assume), run its connection test, and save it in `account`;
    return its stored row."""
    return _save(engine, vault, account, dict(
        name=name, bucket=bucket, data_region=data_region, access_key_id=access_key_id,
        secret_access_key=secret_access_key, role_arn=role_arn, prefix=prefix, endpoint_url=endpoint_url,
        region=region, path_style=path_style, sse=sse, sse_kms_key_id=sse_kms_key_id), now)


def edit_destination(engine, vault, name, account=DEFAULT_ACCOUNT, now=None, **changes):
    """Change a saved destination's EDITABLE settings (a new key id and secret go together: a rotation; a role
    ARN or a key pair replaces whichever way in it had), run the connection test on the result, and only then
    save it; return its stored row. Its exports keep their request ids and their next run uses the new
    settings, read when the run starts."""
    current = get_destination(engine, name, account)
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ConfigError(f"The {unknown[0]} of a destination cannot be changed; remove it and add a new one "
                          f"instead. What can be changed: {', '.join(EDITABLE)}", field=unknown[0])
    if ("access_key_id" in changes) != ("secret_access_key" in changes):
        raise ConfigError("A new access key comes as a pair: give both its key ID and its secret access key",
                          field="secret_access_key" if "access_key_id" in changes else "access_key_id")
    fields = {k: current[k] for k in ("name", "bucket", "data_region", *(set(EDITABLE) - set(_WAY_IN)))}
    if not set(_WAY_IN) & set(changes):   # the way in stays as it was
        fields.update({field: vault.open(current[column]) for field, column in _KEY.items() if current[column]},
                      role_arn=current["role_arn"])
    fields.update(changes)
    return _save(engine, vault, account, fields, now, created_at=current["created_at"])


def _save(engine, vault, account, fields, now, created_at=None):
    """The one place a destination's settings are validated, connection-tested and saved: a new one's
    (`created_at` None) or a saved one's new settings."""
    row = _validated(engine, vault, account, now=created_at or now, **fields)
    if created_at is None and _find(engine, account, row["name"]) is not None:
        raise ConflictError(f"A destination named {row['name']!r} exists already; pick another name or remove that "
                            "one first", field="name")
    _connection_test(engine, vault, account, row)
    with engine.begin() as connection:
        if created_at is None:
            connection.execute(destinations.insert().values(**row))
        else:
            connection.execute(destinations.update().where(
                (destinations.c.account_id == account) & (destinations.c.name == row["name"])).values(**row))
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
    return _connection_test(engine, vault, account, get_destination(engine, name, account))


def remove_destination(engine, name, account=DEFAULT_ACCOUNT):
    """Remove a destination no export request names (the activity log keeps its history whole)."""
    get_destination(engine, name, account)
    mine = (requests.c.account_id == account) & (requests.c.destination == name)
    with engine.begin() as connection:
        named = connection.execute(sa.select(requests.c.id, requests.c.status).where(mine).order_by(
            requests.c.created_at, requests.c.id)).all()
        active = [r.id for r in named if r.status == "active"]
        if active:
            raise ConflictError(f"Destination {name!r} is used by active export{'s' if len(active) > 1 else ''} "
                                f"{', '.join(active)}; stop {'them' if len(active) > 1 else 'it'} first, or edit the "
                                "destination instead")
        if named:
            raise ConflictError(f"Destination {name!r} is named by past exports in the activity log "
                                f"({', '.join(r.id for r in named)}); it is kept so their history stays whole")
        connection.execute(destinations.delete().where(
            (destinations.c.account_id == account) & (destinations.c.name == name)))
