"""Which schema the control database has, and bringing it to the one this release needs (Alembic).

The migrations live in control/migrations/versions/. The first, `BASELINE`, is the schema every database
had before migrations existed (what `create_all` made at commit 7ffc272): such a database has no
version table, so `upgrade` recognises it by its tables and columns, stamps it as the baseline and
migrates it from there. A process that starts on a database that is behind (or ahead of) this release
refuses to start and names the command to run; only a new, empty database is migrated at start.

Upgrades take a lock first (PostgreSQL: an advisory lock; SQLite: the write lock), so two processes
starting on a new database, or two `eventexport db upgrade`, never migrate at once: the second finds
the work done.
"""

import dataclasses
import functools
import logging
import os

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from transforms.errors import ConfigError

__all__ = ["BASELINE", "SchemaError", "SchemaState", "head", "state", "upgrade", "prepare", "check"]

BASELINE = "0001_baseline"
UPGRADE_COMMAND = "eventexport db upgrade"
_MIGRATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")
_VERSION_TABLE = "alembic_version"
_PG_LOCK = 0x6576_6578_706f   # any constant shared by every eventexport process: "evexpo"
_LOG = logging.getLogger("eventexport.schema")


class SchemaError(ConfigError):
    """The control database's schema is not the one this release needs; the message says what to run."""

    code = "schema"


@dataclasses.dataclass(frozen=True)
class SchemaState:
    """`revision`: the database's (None: none recorded); `status`: current | behind | ahead | empty |
    unversioned (tables from before migrations); `missing`: what an unversioned database lacks of the
    baseline."""

    revision: str
    head: str
    status: str
    missing: tuple = ()

    def problem(self):
        """What is wrong and what to do, in one sentence; None if the schema is current."""
        if self.status == "current":
            return None
        if self.status == "ahead":
            return (f"the control database is at schema revision {self.revision}, which this release does not "
                    f"know (a newer release upgraded it); run that release, or restore the backup taken before")
        if self.status == "unversioned" and self.missing:
            return ("the control database predates the first versioned schema and lacks "
                    f"{', '.join(self.missing)}; add them as that release's notes said, then run `{UPGRADE_COMMAND}`")
        found = "has no schema version yet" if self.status == "unversioned" else (
            "is empty" if self.status == "empty" else f"is at schema revision {self.revision}")
        return f"the control database {found}, this release needs {self.head}: back it up, then run `{UPGRADE_COMMAND}`"


def _config(connection=None):
    config = Config()
    config.set_main_option("script_location", _MIGRATIONS)
    config.attributes["connection"] = connection
    return config


@functools.lru_cache(maxsize=1)
def _scripts():
    return ScriptDirectory.from_config(_config())


def head():
    """The revision this release's models are at."""
    return _scripts().get_current_head()


@functools.lru_cache(maxsize=1)
def _baseline_columns():
    """{table: columns} of the baseline schema, read back from an in-memory database migrated to it."""
    engine = sa.create_engine("sqlite://")
    with engine.begin() as connection:
        command.upgrade(_config(connection), BASELINE)
        inspector = sa.inspect(connection)
        return {name: {c["name"] for c in inspector.get_columns(name)}
                for name in inspector.get_table_names() if name != _VERSION_TABLE}


def state(connection):
    """The schema state of the database behind `connection`."""
    tables = set(sa.inspect(connection).get_table_names())
    target = head()
    revision = MigrationContext.configure(connection).get_current_revision() if _VERSION_TABLE in tables else None
    if revision is None:
        if not tables & set(_baseline_columns()):
            return SchemaState(None, target, "empty")
        inspector = sa.inspect(connection)
        missing = []
        for table, columns in sorted(_baseline_columns().items()):
            if table not in tables:
                missing.append(f"table {table}")
            else:
                present = {c["name"] for c in inspector.get_columns(table)}
                missing += [f"{table}.{column}" for column in sorted(columns - present)]
        return SchemaState(None, target, "unversioned", tuple(missing))
    if revision == target:
        return SchemaState(revision, target, "current")
    known = {script.revision for script in _scripts().walk_revisions()}
    return SchemaState(revision, target, "behind" if revision in known else "ahead")


def _locked(connection):
    """Take the upgrade lock for the rest of `connection`'s transaction."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
    elif connection.dialect.name == "sqlite":
        # SQLite alters a table by copying it and dropping the old one, which other tables' foreign keys would
        # refuse: they are off while migrating (only outside a transaction can they be) and checked at the end
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.exec_driver_sql("BEGIN IMMEDIATE")   # the write lock; a second upgrader waits (busy_timeout)


def _foreign_keys_kept(connection):
    """On SQLite: every reference still holds after migrating, and foreign keys are on again once committed."""
    if connection.dialect.name != "sqlite":
        return
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise SchemaError(f"the upgrade would break {len(broken)} references between tables (e.g. {broken[0]})")


def upgrade(engine, only_if_empty=False):
    """Bring the database to this release's schema; return (state before, state after). An unversioned
    database with the baseline schema is stamped first. With `only_if_empty`, a database that is not
    empty (another process may have just migrated it) is left as it is."""
    with engine.connect() as connection:
        try:
            _locked(connection)
            before = state(connection)
            if before.status in ("current", "ahead") or (only_if_empty and before.status != "empty"):
                return before, before
            if before.status == "unversioned":
                if before.missing:
                    raise SchemaError(before.problem())
                command.stamp(_config(connection), BASELINE)
            command.upgrade(_config(connection), "head")
            after = state(connection)
            _foreign_keys_kept(connection)
            connection.commit()
        finally:
            if connection.dialect.name == "sqlite":
                connection.rollback()
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")   # the pool's connections keep them on
    return before, after


def check(engine):
    """The database's schema state; SchemaError unless it is current."""
    with engine.connect() as connection:
        found = state(connection)
    if found.problem():
        raise SchemaError(found.problem())
    return found


def prepare(engine):
    """At a process's start: a new, empty database gets this release's schema; any other must already
    have it (SchemaError naming the command to run otherwise)."""
    with engine.connect() as connection:
        found = state(connection)
    if found.status == "empty":
        before, found = upgrade(engine, only_if_empty=True)
        if before.status == "empty":
            _LOG.info("created the control database's schema at %s", found.revision)
    if found.problem():
        raise SchemaError(found.problem())
    return found
