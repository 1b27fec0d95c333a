"""Accounts, their users and API tokens: who may see and change what.

An account owns destinations, export requests and runs, and has its own event store, profile store,
database id and data region. The deployment's own settings are the account `default`, so a
single-account deployment (the CLI, `make demo`) needs no account set up. A user belongs to one account
as `admin` (manages destinations and exports) or `viewer` (reads the log).

Passwords are hashed with argon2id (slow on purpose: a stolen table cannot be brute-forced cheaply).
API tokens are 256 random bits, shown once and stored as SHA-256: a slow hash adds nothing against a
secret that cannot be guessed, and a fast one lets every API request be checked without delay.
"""

import datetime as dt
import hashlib
import re
import secrets

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError

from control.errors import AuthenticationError, ConflictError, PermissionDeniedError
from control.models import accounts, api_tokens, fetch_all, fetch_one, users, utc
from transforms.errors import ConfigError
from transforms.sinks.naming import check_id
from transforms.sinks.preflight import DATA_REGIONS

__all__ = ["DEFAULT_ACCOUNT", "ROLES", "MIN_PASSWORD_LENGTH", "TOKEN_PREFIX", "ensure_default_account",
           "add_account", "list_accounts", "get_account", "add_user", "list_users", "get_user", "authenticate",
           "issue_token", "revoke_tokens", "user_for_token", "require_admin", "public_user"]

DEFAULT_ACCOUNT = "default"
ROLES = ("admin", "viewer")
MIN_PASSWORD_LENGTH = 10
TOKEN_PREFIX = "eet_"  # nosec B105  # not a secret; it makes a leaked token easy to spot in logs and scanners
_ACCOUNT_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,189}")
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("a password nobody has")   # verified against when no such user, so timing tells nothing


def _now(now=None):
    return utc(now or dt.datetime.now(dt.timezone.utc)).replace(microsecond=0)


def _check_region(data_region):
    if data_region is not None and data_region not in DATA_REGIONS:
        raise ConfigError(f"data region {data_region!r} is not one of {', '.join(DATA_REGIONS)}",
                          field="data_region")


def ensure_default_account(engine, settings):
    """Create or refresh the `default` account from the deployment settings; return its row."""
    row = {"name": "Default account", "event_store": settings.event_store, "profile_store": settings.profile_store,
           "database_id": check_id("--database_id", settings.database_id),
           "data_region": settings.data_region}
    _check_region(row["data_region"])
    with engine.begin() as connection:
        found = connection.execute(sa.select(accounts).where(accounts.c.id == DEFAULT_ACCOUNT)).first()
        if found is None:
            try:
                with connection.begin_nested():
                    connection.execute(accounts.insert().values(id=DEFAULT_ACCOUNT, created_at=_now(), **row))
            except IntegrityError:
                pass   # another process created it at the same moment; the update below makes it ours
        if found is None or any(found._mapping[k] != v for k, v in row.items()):
            connection.execute(accounts.update().where(accounts.c.id == DEFAULT_ACCOUNT).values(**row))
    return get_account(engine, DEFAULT_ACCOUNT)


def add_account(engine, *, account_id, name=None, event_store=None, profile_store=None, database_id,
                data_region=None, now=None):
    """Create an account with its own stores, database id and data region; return its row."""
    if not isinstance(account_id, str) or not _ACCOUNT_ID.fullmatch(account_id):
        raise ConfigError(f"account id {account_id!r} is not allowed: use 1 to 40 lower-case letters, digits and "
                          "'-', starting with a letter or digit", field="account_id")
    check_id("--database_id", database_id)
    _check_region(data_region)
    if not event_store and not profile_store:
        raise ConfigError("an account needs an event store or a profile store (a folder or s3:// root)",
                          field="event_store")
    row = {"id": account_id, "name": name or account_id, "event_store": event_store or None,
           "profile_store": profile_store or None, "database_id": database_id, "data_region": data_region,
           "created_at": _now(now)}
    try:
        with engine.begin() as connection:
            connection.execute(accounts.insert().values(**row))
    except IntegrityError:
        raise ConflictError(f"account {account_id!r} exists; pick another id", field="account_id") from None
    return row


def list_accounts(engine):
    """Every account, by id."""
    return fetch_all(engine, accounts, accounts.c.id)


def get_account(engine, account_id):
    """The account's row; NotFoundError if there is none."""
    return fetch_one(engine, accounts.c.id, account_id, f"no account {account_id!r}; see `eventexport account list`")


def public_user(row):
    """A user as it may be shown: everything but the password hash."""
    return {k: v for k, v in row.items() if k != "password_hash"}


def add_user(engine, *, account, email, role, password=None, now=None):
    """Add a user to `account` with a role; `password` (optional: token-only users) is stored argon2-hashed."""
    get_account(engine, account)
    if role not in ROLES:
        raise ConfigError(f"role {role!r} is not one of {', '.join(ROLES)}", field="role")
    email = (email or "").strip().lower()
    if not _EMAIL.fullmatch(email):
        raise ConfigError(f"email {email!r} is not an email address", field="email")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise ConfigError(f"the password is too short: use at least {MIN_PASSWORD_LENGTH} characters",
                          field="password")
    row = {"account_id": account, "email": email, "role": role, "created_at": _now(now),
           "password_hash": None if password is None else _hasher.hash(password)}
    try:
        with engine.begin() as connection:
            row["id"] = connection.execute(users.insert().values(**row)).inserted_primary_key[0]
    except IntegrityError:
        raise ConflictError(f"user {email!r} exists", field="email") from None
    return public_user(row)


def list_users(engine, account):
    """The account's users (no password hashes), by email."""
    return [public_user(r) for r in fetch_all(engine, users, users.c.email, users.c.account_id == account)]


def get_user(engine, email):
    """The user with this email (no password hash); NotFoundError if there is none."""
    email = (email or "").strip().lower()
    return public_user(fetch_one(engine, users.c.email, email, f"no user {email!r}"))


def authenticate(engine, email, password):
    """The user whose email and password these are; AuthenticationError otherwise, never saying which was wrong."""
    email = (email or "").strip().lower()
    with engine.connect() as connection:
        row = connection.execute(sa.select(users).where(users.c.email == email)).first()
    stored = row.password_hash if row is not None and row.password_hash else _DUMMY_HASH
    try:
        _hasher.verify(stored, password or "")
    except (VerificationError, InvalidHashError):
        raise AuthenticationError("wrong email or password") from None
    if row is None or not row.password_hash:
        raise AuthenticationError("wrong email or password")
    return public_user(dict(row._mapping))


def _digest(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(engine, email, label="", now=None):
    """A new API token for the user: returned once, only its SHA-256 is kept."""
    user = get_user(engine, email)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as connection:
        connection.execute(api_tokens.insert().values(user_id=user["id"], token_hash=_digest(token),
                                                      label=(label or "")[:100], created_at=_now(now)))
    return token


def revoke_tokens(engine, email):
    """Revoke every API token of the user (a leaked one, or someone leaving); return how many there were."""
    user = get_user(engine, email)
    with engine.begin() as connection:
        return connection.execute(api_tokens.delete().where(api_tokens.c.user_id == user["id"])).rowcount


def user_for_token(engine, token):
    """The user (with account_id and role) a bearer token belongs to; AuthenticationError if unknown."""
    if not token or not token.startswith(TOKEN_PREFIX):
        raise AuthenticationError("the API token is missing or malformed; send `Authorization: Bearer <token>` "
                                  "with a token from `eventexport user token`")
    with engine.connect() as connection:
        row = connection.execute(sa.select(users).join(api_tokens, api_tokens.c.user_id == users.c.id)
                                 .where(api_tokens.c.token_hash == _digest(token))).first()
    if row is None:
        raise AuthenticationError("the API token is not known (revoked or mistyped); get a new one with "
                                  "`eventexport user token`")
    return public_user(dict(row._mapping))


def require_admin(user):
    """PermissionDeniedError unless the user is an admin of their account (viewers only read)."""
    if user["role"] != "admin":
        raise PermissionDeniedError(f"user {user['email']!r} is a viewer and may only read; ask an admin of "
                                    f"account {user['account_id']!r}")
