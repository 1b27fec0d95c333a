"""The control plane's tables, on SQLAlchemy Core so SQLite and PostgreSQL behave alike.

Times are stored as naive UTC datetimes. A run's (request_id, window_start) is unique: that is what
lets two schedulers create a window's run concurrently without ever creating it twice.

Every change to these tables comes with a migration in control/migrations/versions/ (docs/deployment.md,
"Changing the schema"); tests/test_schema.py fails while the two disagree.

Everything a customer owns carries its account's id: a destination's name is unique within its account,
and an export request names its destination by (account, name), so a request can never point at
another account's bucket. Runs carry the account too, so listing an account's runs needs no join.
"""

import datetime as dt
import os
import secrets

import sqlalchemy as sa
from sqlalchemy import (JSON, Boolean, Column, DateTime, ForeignKey, ForeignKeyConstraint, Integer, MetaData,
                        String, Table, Text, UniqueConstraint, create_engine, event)

from control import schema
from control.errors import NotFoundError

__all__ = ["metadata", "accounts", "users", "api_tokens", "ended_sessions", "login_failures", "destinations",
           "requests", "runs", "webhooks", "deliveries", "notification_settings", "new_external_id", "connect", "utc",
           "fetch_all", "fetch_one"]

metadata = MetaData()

accounts = Table(
    "accounts", metadata,
    Column("id", String(40), primary_key=True),              # a short slug; "default" is the deployment's own
    Column("name", String(200), nullable=False),
    Column("event_store", String(1000)),
    Column("profile_store", String(1000)),
    Column("database_id", String(64), nullable=False),       # ends every object name of the account's runs
    Column("data_region", String(2)),                        # None: destinations may name any data region
    Column("created_at", DateTime, nullable=False),
    # what its destinations' roles require of our AssumeRole calls (control/roles.py); made here, never typed
    Column("external_id", String(64), nullable=False, default=lambda: new_external_id()),
)

users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("email", String(254), nullable=False, unique=True),  # the log-in name, unique across accounts
    Column("password_hash", Text),                           # argon2id; None: the user logs in by token only
    Column("role", String(10), nullable=False),              # admin | viewer
    Column("created_at", DateTime, nullable=False),
)

api_tokens = Table(
    "api_tokens", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),  # SHA-256 hex of the token
    Column("label", String(100), nullable=False, default=""),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime),                          # None (tokens made before expiry): created + 90 days
)

ended_sessions = Table(
    "ended_sessions", metadata,                              # console sessions logged out (control/sessions.py)
    Column("session_id", String(64), primary_key=True),
    Column("expires_at", DateTime, nullable=False),          # when its cookie expires anyway; then forgotten
)

login_failures = Table(
    "login_failures", metadata,                              # failed log-ins in a row (control/login_throttle.py)
    Column("key", String(300), primary_key=True),            # "email:<e-mail>" or "client:<address>"
    Column("failures", Integer, nullable=False),
    Column("last_failure", DateTime, nullable=False),
    Column("locked_until", DateTime),                        # no log-in for the key is checked before this
)

destinations = Table(
    "destinations", metadata,
    Column("account_id", String(40), ForeignKey("accounts.id"), primary_key=True),
    Column("name", String(100), primary_key=True),
    Column("bucket", String(63), nullable=False),
    Column("prefix", String(500), nullable=False, default=""),
    Column("data_region", String(2), nullable=False),
    Column("region", String(30)),
    Column("endpoint_url", String(500)),
    Column("path_style", Boolean, nullable=False, default=False),
    Column("sse", String(10), nullable=False, default="none"),
    Column("sse_kms_key_id", String(300)),
    Column("access_key_id_sealed", Text),                    # a key, or else
    Column("secret_sealed", Text),
    Column("role_arn", String(300)),                         # a role of the customer's that we assume
    Column("created_at", DateTime, nullable=False),
)

requests = Table(
    "export_requests", metadata,
    Column("id", String(32), primary_key=True),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("destination", String(100), nullable=False),
    Column("export_type", String(20), nullable=False),
    Column("events", JSON, nullable=False),
    Column("format", String(10), nullable=False),
    Column("frequency", String(10), nullable=False),       # once | recurring
    Column("window_from", DateTime),                         # once: event-time range
    Column("window_to", DateTime),
    Column("every_hours", Integer),                          # recurring: window length
    Column("status", String(10), nullable=False),            # active | paused | stopped | done
    Column("created_at", DateTime, nullable=False),
    # failed attempts since its last Done run (control/auto_pause.py): paused at the account's limit
    Column("failure_streak", Integer, nullable=False, default=0, server_default="0"),
    Column("paused_reason", Text),                           # why it was paused, until it is resumed
    Column("paused_at", DateTime),
    ForeignKeyConstraint(["account_id", "destination"], ["destinations.account_id", "destinations.name"]),
    # the activity log pages newest first: read in this order, a page needs no sort of the whole log
    sa.Index("export_requests_by_account_time", "account_id", "created_at", "id"),
    # one active profile export per account (control/exports.py), held by the database itself, so two
    # creators at once cannot both pass the check: the second insert fails
    sa.Index("one_active_profile_export", "account_id", unique=True,
             sqlite_where=sa.text("export_type = 'all_profiles' AND status = 'active'"),
             postgresql_where=sa.text("export_type = 'all_profiles' AND status = 'active'")),
)

runs = Table(
    "runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(32), ForeignKey("export_requests.id"), nullable=False),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("window_start", DateTime, nullable=False),
    Column("window_end", DateTime, nullable=False),
    Column("time_basis", String(10), nullable=False),
    Column("run_timestamp", String(14), nullable=False),     # fixed at creation: a retry rewrites the same keys
    Column("captured_before", sa.BigInteger),                # capture ceiling, epoch ms, fixed at the first claim:
                                                             # a retry reads the same records
    Column("status", String(10), nullable=False),            # Pending | Running | Done | Failed | Stopped
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime),
    Column("claimed_by", String(100)),
    Column("lease_until", DateTime),
    Column("started_at", DateTime),
    Column("finished_at", DateTime),
    Column("objects", Integer),
    Column("rows", Integer),
    Column("bytes", Integer),
    Column("rejected", Integer),                             # bad records set aside, from the manifest
    Column("read_rows", Integer),                            # the manifest's reconciliation: records read for
    Column("later_rows", Integer),                           # the window, those left to later runs (captured
    Column("rejects_by_reason", JSON),                       # at or after the ceiling), rejects per reason code
    Column("error", Text),
    Column("last_progress", Text),                           # the pipeline's latest progress line, or why
                                                             # a Pending run waits
    Column("backfill", Boolean, nullable=False, default=False, server_default=sa.false()),  # asked for by a
                                                             # person for a past window (control/run_actions.py)
    Column("stopped_by", String(254)),                       # who cancelled the run (an e-mail, or the CLI)
    Column("stopped_at", DateTime),
    UniqueConstraint("request_id", "window_start", name="one_run_per_window"),
    sa.Index("runs_by_account_status", "account_id", "status"),   # "is anything still running?" at a glance
)

webhooks = Table(
    "webhooks", metadata,                                    # control/notifications/webhooks.py
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("url", String(2000), nullable=False),
    Column("secret_sealed", Text, nullable=False),           # signs every payload; never shown back
    Column("reject_threshold", Integer),                     # run.rejects when a run rejects more; None: never
    Column("created_at", DateTime, nullable=False),
)

deliveries = Table(
    "deliveries", metadata,                                  # the notification outbox (control/notifications/outbox.py)
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("channel", String(10), nullable=False),           # webhook | email
    Column("webhook_id", Integer, ForeignKey("webhooks.id")),
    Column("recipients", JSON),                              # email: the addresses
    Column("event_id", String(32), nullable=False),          # the payload's id: a receiver's idempotency key
    Column("event", String(40), nullable=False),             # run.done | run.failed | run.rejects | export.paused ...
    Column("body", Text, nullable=False),                    # fixed when queued: every attempt sends the same bytes
    Column("status", String(10), nullable=False),            # pending | sending | delivered | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime),
    Column("lease_until", DateTime),                         # a sender that died: its claim lapses
    Column("answer", Integer),                               # the receiver's last HTTP status
    Column("error", Text),                                   # the last attempt's failure
    Column("created_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    sa.Index("deliveries_due", "status", "next_attempt_at"),
    sa.Index("deliveries_by_webhook", "webhook_id", "id"),
)

notification_settings = Table(
    "notification_settings", metadata,                       # an account's; no row: the deployment's defaults
    Column("account_id", String(40), ForeignKey("accounts.id"), primary_key=True),
    Column("email_to", JSON),                                # None: the account's admins
    Column("pause_after", Integer),                          # None: the deployment's pause_after_failures
)


def utc(moment):
    """Aware or naive-UTC datetime -> naive UTC, the form stored."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment


def fetch_all(engine, table, order_by, *where):
    """Every row of `table` matching `where`, as dicts in `order_by` order."""
    with engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(sa.select(table).where(*where).order_by(order_by))]


def fetch_one(engine, column, value, missing, *where):
    """The row whose `column` equals `value` (and matches `where`), as a dict; NotFoundError(`missing`) if none."""
    with engine.connect() as connection:
        row = connection.execute(sa.select(column.table).where(column == value, *where)).first()
    if row is None:
        raise NotFoundError(missing)
    return dict(row._mapping)


def new_external_id():
    """An account's external id: 192 random bits, so no one can guess another account's (STS allows 2 to 1,224
    characters of letters, digits and `+=,.@:/-_`)."""
    return "eex-" + secrets.token_urlsafe(24)


def connect(url, prepare=True):
    """An engine for the control database at `url`. With `prepare` (every process but `eventexport db`),
    a new database gets the current schema and any other must already have it (control/schema.py)."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        os.makedirs(os.path.dirname(os.path.abspath(parsed.database)), exist_ok=True)   # EVENTEXPORT_HOME, new
    # pre-ping: a pooled connection that a database restart broke is replaced, not handed out
    engine = create_engine(url, future=True, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record):
            connection.execute("PRAGMA foreign_keys=ON")
            connection.execute("PRAGMA busy_timeout=30000")
    if prepare:
        schema.prepare(engine)
    return engine
