"""An account's webhooks: where its notifications are POSTed, with the secret that signs them.

The secret goes one way, as a destination's does: sealed when saved (control/secrets.py), opened only to
sign a delivery, never shown back by any surface. A webhook's URL obeys the endpoint rule when it is
saved (its host must resolve to public addresses) and again on every connection (control/notifications/
http.py), so a name that resolves elsewhere later gains nothing.
"""

import datetime as dt
import urllib.parse

import sqlalchemy as sa

from control.errors import NotFoundError
from control.models import deliveries, fetch_all, fetch_one, utc, webhooks
from transforms.errors import ConfigError
from transforms.sinks.endpoint_guard import EndpointRefusedError, check_host, private_allowed

__all__ = ["add_webhook", "list_webhooks", "get_webhook", "remove_webhook", "public_webhook", "webhooks_of", "check_url",
           "MAX_URL_CHARS", "MIN_SECRET_CHARS", "MAX_SECRET_CHARS"]

MAX_URL_CHARS = 2000                       # the column's size; browsers and servers take at least this much
MIN_SECRET_CHARS, MAX_SECRET_CHARS = 16, 200   # shorter is guessable; longer is a mistake (a file pasted)


def check_url(url):
    """ConfigError(field='url') unless `url` is an http(s) URL whose host may be connected to."""
    if not isinstance(url, str) or len(url) > MAX_URL_CHARS:
        raise ConfigError(f"A webhook URL is at most {MAX_URL_CHARS} characters", field="url")
    try:
        parts = urllib.parse.urlsplit(url.strip())
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
        raise ConfigError(f"The webhook URL {url[:100]!r} is not an http:// or https:// URL without a user name, "
                          "e.g. https://hooks.example.com/eventexport", field="url")
    if not private_allowed():
        try:
            check_host(parts.hostname, port)
        except EndpointRefusedError as error:
            raise EndpointRefusedError(str(error), field="url") from None
    return url.strip()


def _check_secret(secret):
    if not isinstance(secret, str) or not MIN_SECRET_CHARS <= len(secret) <= MAX_SECRET_CHARS:
        raise ConfigError(f"A webhook secret is {MIN_SECRET_CHARS} to {MAX_SECRET_CHARS} characters; use a random "
                          "one, e.g. from `openssl rand -hex 32`", field="secret")


def _check_threshold(threshold):
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0):
        raise ConfigError(f"The reject threshold {threshold!r} must be a whole number of records, 0 or more "
                          "(a run that rejects more sends run.rejects), or empty for never", field="reject_threshold")


def add_webhook(engine, vault, account, *, url, secret, reject_threshold=None, now=None):
    """Save a webhook of `account`; its row (the sealed secret is in it: show it with `public_webhook`)."""
    url = check_url(url)
    _check_secret(secret)
    _check_threshold(reject_threshold)
    now = utc(now or dt.datetime.now(dt.timezone.utc)).replace(microsecond=0)
    with engine.begin() as connection:
        webhook_id = connection.execute(webhooks.insert().values(
            account_id=account, url=url, secret_sealed=vault.seal(secret), reject_threshold=reject_threshold,
            created_at=now)).inserted_primary_key[0]
    return get_webhook(engine, webhook_id, account)


def list_webhooks(engine, account):
    return fetch_all(engine, webhooks, webhooks.c.id, webhooks.c.account_id == account)


def get_webhook(engine, webhook_id, account):
    """The account's webhook `webhook_id`; NotFoundError when the account has none by that id."""
    return fetch_one(engine, webhooks.c.id, webhook_id, f"no webhook {webhook_id} in this account",
                     webhooks.c.account_id == account)


def remove_webhook(engine, webhook_id, account):
    """Remove the webhook and its delivery log (nothing more is sent to it)."""
    get_webhook(engine, webhook_id, account)
    with engine.begin() as connection:
        connection.execute(deliveries.delete().where(deliveries.c.webhook_id == webhook_id))
        if connection.execute(webhooks.delete().where(
                (webhooks.c.id == webhook_id) & (webhooks.c.account_id == account))).rowcount != 1:
            raise NotFoundError(f"no webhook {webhook_id} in this account")


def public_webhook(row):
    """A webhook as it may be shown: never its secret."""
    return {"id": row["id"], "url": row["url"], "reject_threshold": row["reject_threshold"],
            "created_at": row["created_at"].strftime("%Y-%m-%dT%H:%M:%SZ")}


def webhooks_of(connection, account):
    return [dict(r._mapping) for r in connection.execute(
        sa.select(webhooks).where(webhooks.c.account_id == account).order_by(webhooks.c.id))]
