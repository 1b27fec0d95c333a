"""The control database's schema: migrations agree with the models, a database made before migrations is
upgraded with its data and then used, and a process refuses a database of another schema.

On SQLite and, whenever EVENTEXPORT_TEST_POSTGRES_URL is set, on PostgreSQL. The database "made by main
before migrations" is built from tests/schemas/main-7ffc272.<dialect>.sql, what `create_all` ran then.
"""

import datetime as dt
import hashlib
import json
import os
import pathlib
import subprocess
import sys
import threading

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from server.app import create_app
from control import accounts, destinations, schema
from control.models import connect, metadata
from control.secrets import Vault
from control.settings import load_settings
from tests.support.control_deployment import database  # noqa: F401 (a fixture: a new database of each kind)

ROOT = pathlib.Path(__file__).resolve().parent.parent
TOKEN = accounts.TOKEN_PREFIX + "made-before-migrations-0123456789abcdef"   # nosec B105  # a test token
PASSWORD = "a password of old"   # nosec B105  # a test user's
SECRET = "old-secret-access-key"   # nosec B105  # a test destination's
T = dt.datetime(2026, 11, 20)


def _settings(url, tmp_path):
    return load_settings({"EVENTEXPORT_DB": url, "EVENTEXPORT_HOME": str(tmp_path / "home"),
                          "EVENTEXPORT_DATABASE_ID": "eu1", "EVENTEXPORT_DATA_REGION": "EU"})


def _differences(engine):
    with engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), metadata)


def _made_before_migrations(url, settings):
    """A database as main made it at 7ffc272, with rows in every table; returns its engine."""
    engine = sa.create_engine(url)
    ddl = (ROOT / "tests" / "schemas" / f"main-7ffc272.{engine.dialect.name}.sql").read_text()
    body = "\n".join(line for line in ddl.splitlines() if not line.startswith("--"))
    old = sa.MetaData()
    with engine.begin() as connection:
        for statement in filter(str.strip, body.split(";")):
            connection.exec_driver_sql(statement)
        old.reflect(connection)
        vault, table = Vault(settings), old.tables
        connection.execute(table["accounts"].insert(), [dict(
            id="default", name="Default account", event_store="/store/events", profile_store="/store/profiles",
            database_id="eu1", data_region="EU", created_at=T)])
        connection.execute(table["users"].insert(), [dict(
            id=1, account_id="default", email="old@acme.example", password_hash=PasswordHasher().hash(PASSWORD),
            role="admin", created_at=T)])
        connection.execute(table["api_tokens"].insert(), [dict(   # made today: tokens made then expire in 90 days
            id=1, user_id=1, token_hash=hashlib.sha256(TOKEN.encode()).hexdigest(), label="ci",
            created_at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))])
        connection.execute(table["ended_sessions"].insert(), [dict(session_id="s" * 64, expires_at=T)])
        connection.execute(table["destinations"].insert(), [dict(
            account_id="default", name="acme", bucket="acme-exports", prefix="exports", data_region="EU",
            region="eu-west-1", endpoint_url=None, path_style=False, sse="none", sse_kms_key_id=None,
            access_key_id_sealed=vault.seal("AKIAOLDKEY"), secret_sealed=vault.seal(SECRET), created_at=T)])
        connection.execute(table["export_requests"].insert(), [dict(
            id=f"{n:032x}", account_id="default", destination="acme", export_type="all_events", events=[],
            format="json", frequency=frequency, window_from=T if frequency == "once" else None,
            window_to=T + dt.timedelta(days=1) if frequency == "once" else None,
            every_hours=4 if frequency == "recurring" else None, status="active", created_at=T)
            for n, frequency in ((1, "once"), (2, "recurring"))])
        connection.execute(table["runs"].insert(), [dict(
            request_id=f"{1:032x}", account_id="default", window_start=T, window_end=T + dt.timedelta(days=1),
            time_basis="event", run_timestamp="20261121000000", captured_before=1_795_000_000_000, status="Done",
            attempts=1, started_at=T, finished_at=T, objects=3, rows=1234, bytes=56789, rejected=2)])
    return engine


def test_the_models_and_the_migrations_agree(database):
    """An empty database migrated to head is what the models describe. When this fails after a change to
    control/models.py, the change needs a migration (docs/deployment.md, "Changing the schema")."""
    engine = connect(database)
    assert schema.check(engine).status == "current"
    assert _differences(engine) == []
    assert len(schema._scripts().get_heads()) == 1, "two migrations revise the same one: chain them"


@pytest.mark.slow
def test_a_database_made_before_migrations_is_refused_then_upgraded_and_used(database, tmp_path):
    settings = _settings(database, tmp_path)
    engine = _made_before_migrations(database, settings)
    with pytest.raises(schema.SchemaError, match="has no schema version yet.*run `eventexport db upgrade`"):
        create_app(settings)

    env = dict(os.environ, PYTHONPATH=str(ROOT), EVENTEXPORT_DB=database, EVENTEXPORT_HOME=str(tmp_path / "home"))
    cli = [sys.executable, "-m", "control.cli"]
    done = subprocess.run([*cli, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "stamped the control database" in done.stdout, done.stderr
    assert _differences(engine) == []
    done = subprocess.run([*cli, "db", "status"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and f"this release: {schema.head()}" in done.stdout

    client = TestClient(create_app(settings))
    headers = {"Authorization": f"Bearer {TOKEN}"}
    runs = client.get("/api/v1/runs", headers=headers).json()["items"]
    assert [(r["status"], r["rows"], r["bytes"], r["rejected"]) for r in runs] == [("Done", 1234, 56789, 2)]
    assert {e["frequency"] for e in client.get("/api/v1/exports", headers=headers).json()} == {
        "once", "recurring"}
    stopped = client.post(f"/api/v1/exports/{2:032x}/stop", headers=headers)
    assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
    assert accounts.authenticate(engine, "old@acme.example", PASSWORD)["role"] == "admin"
    row = destinations.get_destination(engine, "acme", "default")
    assert destinations.s3_settings(row, Vault(settings)).secret_access_key == SECRET
    listed = subprocess.run([*cli, "log", "--json"], env=env, capture_output=True, text=True, timeout=120)
    assert [entry["status"] for entry in json.loads(listed.stdout) if entry["rows"] == 1234] == ["Done"]


@pytest.mark.parametrize("change, status, message", [
    ("DELETE FROM alembic_version", "unversioned", "has no schema version yet"),
    ("UPDATE alembic_version SET version_num = '9999_from_the_future'", "ahead", "a newer release upgraded it"),
])
def test_readyz_says_when_the_schema_is_not_this_releases(tmp_path, change, status, message):
    settings = _settings(f"sqlite:///{tmp_path}/control.db", tmp_path)
    client = TestClient(create_app(settings))
    assert client.get("/readyz").status_code == 200
    engine = client.app.state.context.engine
    with engine.begin() as connection:
        connection.exec_driver_sql(change)
    with engine.connect() as connection:
        assert schema.state(connection).status == status
    answer = client.get("/readyz")
    assert answer.status_code == 503 and message in answer.json()["schema"]
    assert client.get("/healthz").status_code == 200   # the process is up, only not ready
    with pytest.raises(schema.SchemaError, match=message):
        create_app(settings)


def test_processes_starting_at_once_on_a_new_database_create_it_once(database):
    engines, errors = [], []

    def start():
        try:
            engines.append(connect(database))
        except Exception as error:  # collected: the assertion below shows it
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(engines) == 3
    assert _differences(engines[0]) == []



@pytest.mark.parametrize("change, message", [
    # a column an older release told operators to add by hand, missing
    ("ALTER TABLE runs DROP COLUMN rejected", r"lacks runs\.rejected; add them"),
    # 0002 makes "one active profile export per account" a unique index; two that raced past the old check
    ("UPDATE export_requests SET export_type = 'all_profiles'",
     f"request {1:032x}, account default request {2:032x}; stop all but one"),
])
def test_a_database_that_cannot_be_upgraded_as_it_is_is_named_and_left_as_it_was(tmp_path, change, message):
    url = f"sqlite:///{tmp_path}/old.db"
    engine = _made_before_migrations(url, _settings(url, tmp_path))
    with engine.begin() as connection:
        connection.exec_driver_sql(change)
        tables = set(sa.inspect(connection).get_table_names())
    with pytest.raises(schema.SchemaError, match=message):
        schema.upgrade(engine)
    with engine.connect() as connection:
        assert schema.state(connection).revision is None   # nothing stamped,
        assert set(sa.inspect(connection).get_table_names()) == tables   # nothing created
