"""A control-plane deployment driven through the `eventexport` CLI, for the control-plane tests
(tests/test_control.py, test_control_dask.py, test_late_data.py, test_scheduler_failover.py).

Each test gets its own database: an SQLite file, and a PostgreSQL database whenever
EVENTEXPORT_TEST_POSTGRES_URL is set (`make test` sets it); a sample store (module-scoped) and a bucket
with the customer's least-privilege key on the session's local S3 server. `ee` runs the CLI as a
subprocess and checks the secret never shows in its output. `database` is a new, empty database of each
kind, for tests that call the control plane's functions directly (tests/test_schema.py, test_scheduler.py).
"""

import datetime as dt
import json
import os
import subprocess
import sys
import uuid

import pytest
import sqlalchemy as sa

from devtools.generate import generate
from devtools.local_s3 import provision_least_privilege

__all__ = ["ROOT", "POSTGRES", "DATABASES", "BEST_DATABASE", "STORE_END", "T0", "store", "postgres_database", "deployment", "ee",
           "add_destination", "create", "log", "database"]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
POSTGRES = os.environ.get("EVENTEXPORT_TEST_POSTGRES_URL")
# The databases a deployment runs on: PostgreSQL whenever it is set up, marked slow so that `make test-fast`
# runs each such test once, on SQLite; `make test` runs both.
DATABASES = ["sqlite"] + ([pytest.param("postgresql", marks=pytest.mark.slow)] if POSTGRES else [])
# For the long end-to-end tests whose subject is not the database: PostgreSQL (the large deployments'
# database, whose concurrent claims are the harder case) when there is one, so each runs once
BEST_DATABASE = pytest.mark.parametrize("deployment", ["postgresql" if POSTGRES else "sqlite"], indirect=True)
STORE_END = dt.date(2026, 11, 27)
T0 = dt.datetime(2026, 11, 20, 0, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    generate(str(root), 2000, 8, "parquet", seed=5, end=STORE_END)
    return root


def postgres_database():
    """(admin engine, name, URL) of a new PostgreSQL database for one test."""
    admin = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT", pool_pre_ping=True)  # survives a restart
    name = f"eventexport_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return admin, name, sa.engine.make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(params=DATABASES)
def deployment(request, tmp_path, server, store):
    """Environment of one deployment: its database, key file, stores, and a bucket with the customer key."""
    if request.param == "sqlite":
        db, cleanup = f"sqlite:///{tmp_path}/eventexport.db", None
    else:
        admin, name, db = postgres_database()
        cleanup = (admin, name)
    bucket = f"cust-{uuid.uuid4().hex[:10]}"
    key = provision_least_privilege(server, bucket, region="eu-west-1")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "EVENTEXPORT_"))}
    env.update(PYTHONPATH=ROOT, EVENTEXPORT_DB=db, EVENTEXPORT_KEY_FILE=str(tmp_path / "master.key"),
               EVENTEXPORT_EVENT_STORE=str(store / "events"), EVENTEXPORT_PROFILE_STORE=str(store / "profiles"),
               EVENTEXPORT_MANIFESTS=str(tmp_path / "manifests"), EVENTEXPORT_DATABASE_ID="eu1",
               EVENTEXPORT_ALLOW_PRIVATE_ENDPOINTS="true")   # the local S3 server is on 127.0.0.1
    yield {"env": env, "db": db, "bucket": bucket, "key": key, "server": server, "tmp": tmp_path}
    if cleanup:
        admin, name = cleanup
        sa.create_engine(db).dispose()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def ee(deployment, *args, stdin=None, secret=True, background=False):
    env = dict(deployment["env"])
    if secret:
        env["EVENTEXPORT_SECRET_ACCESS_KEY"] = deployment["key"].secret_access_key
    command = [sys.executable, "-m", "control.cli", *args]
    if background:
        return subprocess.Popen(command, env=env, cwd=deployment["tmp"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    done = subprocess.run(command, env=env, cwd=deployment["tmp"], capture_output=True, text=True, input=stdin,
                          timeout=600)
    assert deployment["key"].secret_access_key not in done.stdout + done.stderr
    return done


def add_destination(deployment, name="acme", *extra):
    done = ee(deployment, "destination", "add", "--name", name, "--bucket", deployment["bucket"],
              "--data-region", "EU", "--access-key-id", deployment["key"].access_key_id, "--prefix", "exports",
              "--endpoint-url", deployment["server"].endpoint_url, "--path-style", *extra)
    assert done.returncode == 0, done.stderr
    return done


def create(deployment, *args, now=T0):
    done = ee(deployment, "export", "create", "--destination", "acme", *args, "--now", now.isoformat())
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def log(deployment, *args):
    done = ee(deployment, "log", "--json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(params=DATABASES)
def database(request, tmp_path):
    """The URL of a new, empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/control.db"
        return
    admin, name, url = postgres_database()
    yield url
    sa.create_engine(url).dispose()
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
