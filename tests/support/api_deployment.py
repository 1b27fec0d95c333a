"""A deployment with two accounts behind the REST API, for tests/test_api*.py.

Each test gets its own database (an SQLite file, and a PostgreSQL database whenever
EVENTEXPORT_TEST_POSTGRES_URL is set, as in tests/test_control.py), the app from `server.app.create_app`
driven in-process by Starlette's TestClient (the real ASGI stack, routing, validation and JSON), and
real buckets with least-privilege keys on the session's local S3 server. The accounts: `default`
(the deployment settings; store A) and `globex` (its own store B, database id gx1, data region EU),
each with an admin and a viewer.
"""

import contextlib
import dataclasses
import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from server.app import create_app
from control import accounts
from control.settings import load_settings
from devtools.generate import generate
from devtools.local_s3 import provision_least_privilege
from tests.support.control_deployment import DATABASES, postgres_database

__all__ = ["deployment", "stores", "running", "Deployment", "Tenant", "bearer", "destination_body"]

UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """Two small event and profile stores, A and B, ending tomorrow (the API's clock is the wall clock)."""
    end = dt.datetime.now(UTC).date() + dt.timedelta(days=1)
    roots = {}
    for name, seed in (("a", 3), ("b", 4)):
        roots[name] = tmp_path_factory.mktemp(f"store-{name}")
        generate(str(roots[name]), 400, 3, "parquet", seed=seed, end=end)
    return roots


@dataclasses.dataclass
class Tenant:
    account: str
    admin: str             # the admin's API token
    viewer: str            # the viewer's API token
    bucket: str
    key: object            # the bucket's least-privilege key (Credentials)


@dataclasses.dataclass
class Deployment:
    client: TestClient
    engine: object
    settings: object
    vault: object
    server: object
    tenants: dict          # account id -> Tenant
    db: str


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def destination_body(deployment, tenant, name="acme", **changes):
    body = {"name": name, "bucket": tenant.bucket, "data_region": "EU", "access_key_id": tenant.key.access_key_id,
            "secret_access_key": tenant.key.secret_access_key, "prefix": "exports",
            "endpoint_url": deployment.server.endpoint_url, "path_style": True}
    body.update(changes)
    return body


def _tenant(server, engine, account):
    bucket = f"{account}-{uuid.uuid4().hex[:8]}"
    key = provision_least_privilege(server, bucket, region="eu-west-1")
    tokens = {}
    for role in accounts.ROLES:
        email = f"{role}@{account}.example"
        accounts.add_user(engine, account=account, email=email, role=role, password=f"{role}-password-{account}")
        tokens[role] = accounts.issue_token(engine, email, "tests")
    return Tenant(account, tokens["admin"], tokens["viewer"], bucket, key)


@contextlib.contextmanager
def running(db, tmp_path, server, stores):
    """The deployment on database `db`, its two accounts set up, the app served in-process."""
    settings = load_settings({
        "EVENTEXPORT_DB": db, "EVENTEXPORT_KEY_FILE": str(tmp_path / "master.key"),
        "EVENTEXPORT_EVENT_STORE": str(stores["a"] / "events"),
        "EVENTEXPORT_PROFILE_STORE": str(stores["a"] / "profiles"),
        "EVENTEXPORT_MANIFESTS": str(tmp_path / "manifests"), "EVENTEXPORT_DATABASE_ID": "acme1"})
    app = create_app(settings)
    context = app.state.context
    accounts.add_account(context.engine, account_id="globex", name="Globex", event_store=str(stores["b"] / "events"),
                         profile_store=str(stores["b"] / "profiles"), database_id="gx1", data_region="EU")
    tenants = {account: _tenant(server, context.engine, account) for account in ("default", "globex")}
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Deployment(client, context.engine, settings, context.vault, server, tenants, db)
    finally:
        context.engine.dispose()


@pytest.fixture(params=DATABASES)
def deployment(request, tmp_path, server, stores):
    if request.param == "sqlite":
        with running(f"sqlite:///{tmp_path}/eventexport.db", tmp_path, server, stores) as ready:
            yield ready
        return
    admin, name, db = postgres_database()
    try:
        with running(db, tmp_path, server, stores) as ready:
            yield ready
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
