"""Accounts, their users and API tokens: who may see and change what.

An account owns destinations, export requests and runs, and has its own event store, profile store,
database id and data region. The deployment's own settings are the account `default`, so a
single-account deployment (the CLI, `make demo`) needs no account set up. A user belongs to one account
as `admin` (manages destinations and exports) or `viewer` (reads the log).

Passwords follow control/passwords.py (at least 12 characters, not easy to guess; argon2id) and log-ins
are throttled by control/login_throttle.py. An admin removes users, changes their role and resets their
password, never leaving the account without an admin; a user changes their own password. API tokens are
256 random bits, shown once and stored as SHA-256 (a slow hash adds nothing against a secret that cannot
be guessed, and a fast one lets every API request be checked without delay); each expires (90 days
unless told) and each can be listed and revoked on its own.
"""

import datetime as dt
import hashlib
import re
import secrets

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from control import login_throttle
from control.errors import AuthenticationError, ConflictError, NotFoundError, PermissionDeniedError
from control.models import accounts, api_tokens, fetch_all, fetch_one, users, utc
from control.passwords import check_password, hash_password, verify_password
from transforms.errors import ConfigError
from transforms.sinks.naming import check_id
from transforms.sinks.preflight import DATA_REGIONS

__all__ = ["DEFAULT_ACCOUNT", "ROLES", "TOKEN_PREFIX", "TOKEN_DAYS", "MAX_TOKEN_DAYS", "ensure_default_account",
           "add_account", "list_accounts", "get_account", "add_user", "list_users", "get_user", "remove_user",
           "set_role", "reset_password", "change_password", "authenticate", "issue_token", "list_tokens",
           "revoke_token", "revoke_tokens", "user_for_token", "require_admin", "public_user", "shown_user",
           "session_user"]

DEFAULT_ACCOUNT = "default"
ROLES = ("admin", "viewer")
TOKEN_PREFIX = "eet_"  # nosec B105  # not a secret; it makes a leaked token easy to spot in logs and scanners
TOKEN_DAYS = 90        # a token's life unless told otherwise: a forgotten one stops working by itself
MAX_TOKEN_DAYS = 365
_ACCOUNT_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,189}")


def _now(now=None):
    return utc(now or dt.datetime.now(dt.timezone.utc)).replace(microsecond=0)


def _check_region(data_region):
    if data_region is not None and data_region not in DATA_REGIONS:
        raise ConfigError(f"data region {data_region!r} is not one of {', '.join(DATA_REGIONS)}",
                          field="data_region")


def _check_role(role):
    if role not in ROLES:
        raise ConfigError(f"role {role!r} is not one of {', '.join(ROLES)}", field="role")


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


def shown_user(row):
    """A user as the API and the console show one: e-mail, role, and when they were added (ISO-8601 UTC)."""
    return {"email": row["email"], "role": row["role"], "created_at": _iso(row["created_at"])}


def add_user(engine, *, account, email, role, password=None, now=None):
    """Add a user to `account` with a role; `password` (optional: token-only users) is stored argon2-hashed."""
    get_account(engine, account)
    _check_role(role)
    email = _email(email)
    if not _EMAIL.fullmatch(email):
        raise ConfigError(f"email {email!r} is not an email address", field="email")
    if password is not None:
        check_password(password, email)
    row = {"account_id": account, "email": email, "role": role, "created_at": _now(now),
           "password_hash": None if password is None else hash_password(password)}
    try:
        with engine.begin() as connection:
            row["id"] = connection.execute(users.insert().values(**row)).inserted_primary_key[0]
    except IntegrityError:
        raise ConflictError(f"user {email!r} exists", field="email") from None
    return public_user(row)


def list_users(engine, account):
    """The account's users (no password hashes), by email."""
    return [public_user(r) for r in fetch_all(engine, users, users.c.email, users.c.account_id == account)]


def _email(email):
    return (email or "").strip().lower()


def get_user(engine, email, account=None):
    """The user with this email (no password hash), in `account` when given; NotFoundError if there is none."""
    email = _email(email)
    where = [users.c.account_id == account] if account else []
    return public_user(fetch_one(engine, users.c.email, email, f"no user {email!r} in this account; see "
                                 "`eventexport user list`", *where))


def session_user(engine, email):
    """(user, stamp) for a console session naming `email`: the stamp changes whenever the user's password is
    set, so a session made before a password change (or for a removed user re-added under the same e-mail) is
    told apart from one made after. NotFoundError if there is no such user."""
    row = fetch_one(engine, users.c.email, _email(email), f"no user {email!r}")
    stamp = hashlib.sha256(f"{row['id']}:{row['password_hash'] or ''}".encode()).hexdigest()[:24]
    return public_user(row), stamp


def _keeps_an_admin(connection, account, email):
    """ConflictError if `email` is the account's last admin (an account without one could never be managed).
    It first takes the account's row for update, so two such changes at once (two admins demoting each
    other) run one after the other and the second counts what the first left."""
    connection.execute(accounts.update().where(accounts.c.id == account).values(id=accounts.c.id))
    admins = set(connection.execute(sa.select(users.c.email).where(
        (users.c.account_id == account) & (users.c.role == "admin"))).scalars())
    if admins == {email}:
        raise ConflictError(f"{email!r} is the last admin of account {account!r}; make another user an admin first",
                            field="email")


def remove_user(engine, account, email):
    """Remove a user of `account` and their API tokens; their console sessions end at their next page."""
    user = get_user(engine, email, account)
    with engine.begin() as connection:
        _keeps_an_admin(connection, account, user["email"])
        connection.execute(api_tokens.delete().where(api_tokens.c.user_id == user["id"]))
        connection.execute(users.delete().where(users.c.id == user["id"]))


def set_role(engine, account, email, role):
    """Give a user of `account` role `role`; the change holds from their next request."""
    _check_role(role)
    user = get_user(engine, email, account)
    with engine.begin() as connection:
        if role != "admin":
            _keeps_an_admin(connection, account, user["email"])
        connection.execute(users.update().where(users.c.id == user["id"]).values(role=role))
    return dict(user, role=role)


def _store_password(engine, user, password):
    check_password(password, user["email"])
    with engine.begin() as connection:
        connection.execute(users.update().where(users.c.id == user["id"]).values(
            password_hash=hash_password(password)))
    login_throttle.record_success(engine, user["email"])


def reset_password(engine, account, email, password):
    """An admin sets a new password for a user of `account` (who may then log in at once)."""
    _store_password(engine, get_user(engine, email, account), password)


def change_password(engine, email, current, new, client=None, now=None):
    """A user changes their own password, proving the current one (throttled as a log-in is). The user is
    known already (a session, a token), so a wrong current password is a bad field, not a failed log-in."""
    try:
        user = authenticate(engine, email, current, client, now)
    except AuthenticationError:
        raise ConfigError("The current password is wrong", field="current_password") from None
    _store_password(engine, user, new)


def authenticate(engine, email, password, client=None, now=None):
    """The user whose email and password these are; AuthenticationError otherwise, never saying which was wrong.
    While failed tries for the e-mail or from `client` (an address) must wait, TooManyAttemptsError, whatever
    the password (control/login_throttle.py)."""
    email = _email(email)
    login_throttle.check(engine, email, client, now)
    with engine.connect() as connection:
        row = connection.execute(sa.select(users).where(users.c.email == email)).first()
    if not verify_password(row.password_hash if row is not None else None, password):
        login_throttle.record_failure(engine, email, client, now)
        raise AuthenticationError("wrong email or password")
    login_throttle.record_success(engine, email)
    return public_user(dict(row._mapping))


def _digest(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(engine, email, label="", now=None, days=TOKEN_DAYS):
    """A new API token for the user, valid for `days` days: returned once, only its SHA-256 is kept."""
    user = get_user(engine, email)
    if not isinstance(days, int) or not 1 <= days <= MAX_TOKEN_DAYS:
        raise ConfigError(f"a token lives 1 to {MAX_TOKEN_DAYS} days, not {days!r}", field="days")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    created = _now(now)
    with engine.begin() as connection:
        connection.execute(api_tokens.insert().values(user_id=user["id"], token_hash=_digest(token),
                                                      label=(label or "")[:100], created_at=created,
                                                      expires_at=created + dt.timedelta(days=days)))
    return token


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _expiry(row):
    return row["expires_at"] or row["created_at"] + dt.timedelta(days=TOKEN_DAYS)


def list_tokens(engine, email, account=None):
    """The user's API tokens, oldest first: id, label, created_at, expires_at (never the token or its hash)."""
    user = get_user(engine, email, account)
    rows = fetch_all(engine, api_tokens, api_tokens.c.id, api_tokens.c.user_id == user["id"])
    return [{"id": r["id"], "label": r["label"], "created_at": _iso(r["created_at"]), "expires_at": _iso(_expiry(r))}
            for r in rows]


def revoke_token(engine, email, token_id, account=None):
    """Revoke one API token of the user, by its id from list_tokens; NotFoundError if the user has none by it."""
    user = get_user(engine, email, account)
    with engine.begin() as connection:
        gone = connection.execute(api_tokens.delete().where(
            (api_tokens.c.id == token_id) & (api_tokens.c.user_id == user["id"]))).rowcount
    if not gone:
        raise NotFoundError(f"user {user['email']!r} has no token {token_id!r}; see their token list", field="token")


def revoke_tokens(engine, email, account=None):
    """Revoke every API token of the user (a leaked one, or someone leaving); return how many there were."""
    user = get_user(engine, email, account)
    with engine.begin() as connection:
        return connection.execute(api_tokens.delete().where(api_tokens.c.user_id == user["id"])).rowcount


def user_for_token(engine, token):
    """The user (with account_id and role) a bearer token belongs to; AuthenticationError if unknown."""
    if not token or not token.startswith(TOKEN_PREFIX):
        raise AuthenticationError("the API token is missing or malformed; send `Authorization: Bearer <token>` "
                                  "with a token from `eventexport user token`")
    with engine.connect() as connection:
        row = connection.execute(sa.select(users, api_tokens.c.created_at.label("token_created"),
                                           api_tokens.c.expires_at.label("token_expires"))
                                 .join(api_tokens, api_tokens.c.user_id == users.c.id)
                                 .where(api_tokens.c.token_hash == _digest(token))).first()
    if row is None:
        raise AuthenticationError("the API token is not known (revoked or mistyped); get a new one with "
                                  "`eventexport user token`")
    found = dict(row._mapping)
    expires = _expiry({"expires_at": found.pop("token_expires"), "created_at": found.pop("token_created")})
    if expires <= _now():
        raise AuthenticationError(f"the API token expired on {expires:%Y-%m-%d %H:%M} UTC; get a new one with "
                                  "`eventexport user token`")
    return public_user(found)


def require_admin(user):
    """PermissionDeniedError unless the user is an admin of their account (viewers only read)."""
    if user["role"] != "admin":
        raise PermissionDeniedError(f"user {user['email']!r} is a viewer and may only read; ask an admin of "
                                    f"account {user['account_id']!r}")
