"""Destinations: a customer's bucket and key. Saved only after the connection test passes."""

import datetime as dt

import sqlalchemy as sa

from control.models import destinations, fetch_all, fetch_one, requests, utc
from transforms.destination import parse_destination
from transforms.errors import ConfigError
from transforms.s3 import S3Settings, Secret
from transforms.s3_checks import DATA_REGIONS, check_destination

__all__ = ["add_destination", "list_destinations", "get_destination", "test_destination", "remove_destination",
           "s3_settings", "public_view"]


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
    """What `destination list/show` may print: everything but the sealed key id and secret."""
    shown = {k: v for k, v in row.items() if not k.endswith("_sealed")}
    shown["created_at"] = row["created_at"].isoformat() + "Z"
    return shown


def add_destination(engine, vault, *, name, bucket, data_region, access_key_id, secret_access_key, prefix="",
                    endpoint_url=None, region=None, path_style=False, sse="none", sse_kms_key_id=None, now=None):
    if data_region not in DATA_REGIONS:
        raise ConfigError(f"--data-region {data_region!r} is not one of {', '.join(DATA_REGIONS)}")
    if not name or len(name) > 100:
        raise ConfigError("--name must be 1 to 100 characters")
    if not access_key_id or not secret_access_key:
        raise ConfigError("give --access-key-id and the secret (--secret-access-key-stdin or "
                          "EVENTEXPORT_SECRET_ACCESS_KEY)")
    parse_destination(f"s3://{bucket}/{_prefix(prefix)}")  # validates the bucket name
    with engine.connect() as connection:
        if connection.execute(sa.select(destinations.c.name).where(destinations.c.name == name)).first():
            raise ConfigError(f"destination {name!r} exists; remove it first or pick another name")
    row = {"name": name, "bucket": bucket, "prefix": _prefix(prefix), "data_region": data_region, "region": region,
           "endpoint_url": endpoint_url, "path_style": bool(path_style), "sse": sse, "sse_kms_key_id": sse_kms_key_id,
           "access_key_id_sealed": vault.seal(access_key_id), "secret_sealed": vault.seal(secret_access_key),
           "created_at": utc(now or dt.datetime.now(dt.timezone.utc))}
    settings = s3_settings(row, vault)
    check_destination(settings, bucket, row["prefix"], data_region)
    with engine.begin() as connection:
        connection.execute(destinations.insert().values(**row))
    return row


def list_destinations(engine):
    return fetch_all(engine, destinations, destinations.c.name)


def get_destination(engine, name):
    return fetch_one(engine, destinations.c.name, name, f"no destination named {name!r}; see `eventexport "
                                                         "destination list`")


def test_destination(engine, vault, name):
    row = get_destination(engine, name)
    return check_destination(s3_settings(row, vault), row["bucket"], row["prefix"], row["data_region"])


def remove_destination(engine, name):
    get_destination(engine, name)
    with engine.begin() as connection:
        active = connection.execute(sa.select(requests.c.id).where(
            (requests.c.destination == name) & (requests.c.status == "active"))).first()
        if active:
            raise ConfigError(f"destination {name!r} has active export {active.id}; stop it first "
                              f"(eventexport export stop {active.id})")
        used = connection.execute(sa.select(requests.c.id).where(requests.c.destination == name)).first()
        if used:
            raise ConfigError(f"destination {name!r} is named by past exports (e.g. {used.id}) in the activity "
                              "log; it is kept so their history stays whole")
        connection.execute(destinations.delete().where(destinations.c.name == name))
