"""A console deployment for tests: its database, settings, users in two accounts, and the app; with a
destination, as module fixtures (`store`, `deployment`), and a logged-in client for it."""

import datetime as dt
import re
import uuid

import pytest
from fastapi.testclient import TestClient

from control import accounts, destinations
from control.settings import load_settings
from devtools.generate import generate
from devtools.local_s3 import provision_least_privilege
from server.app import create_app

ADMIN, VIEWER, OUTSIDER = "admin@acme.example", "viewer@acme.example", "admin@globex.example"
PASSWORD = "correct horse battery staple"


def recent_store(root):
    """A small event store whose capture dates end today, so every export window the console allows finds data."""
    generate(str(root), 1500, 3, "parquet", seed=3, end=dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=1))
    return root


def console_deployment(tmp_path, store):
    """(settings, engine, vault, app) of the app create_app makes (REST API and console): the default
    account on `store` (data region EU) with an admin and a viewer, and an account `globex` with its admin."""
    settings = load_settings({
        "EVENTEXPORT_DB": f"sqlite:///{tmp_path}/eventexport.db", "EVENTEXPORT_KEY_FILE": str(tmp_path / "key"),
        "EVENTEXPORT_EVENT_STORE": str(store / "events"), "EVENTEXPORT_PROFILE_STORE": str(store / "profiles"),
        "EVENTEXPORT_MANIFESTS": str(tmp_path / "manifests"), "EVENTEXPORT_DATABASE_ID": "eu1",
        "EVENTEXPORT_DATA_REGION": "EU"})
    app = create_app(settings)
    engine, vault = app.state.context.engine, app.state.context.vault
    accounts.add_account(engine, account_id="globex", event_store=str(store / "events"), database_id="gx1",
                         data_region="EU")
    accounts.add_user(engine, account=accounts.DEFAULT_ACCOUNT, email=ADMIN, role="admin", password=PASSWORD)
    accounts.add_user(engine, account=accounts.DEFAULT_ACCOUNT, email=VIEWER, role="viewer", password=PASSWORD)
    accounts.add_user(engine, account="globex", email=OUTSIDER, role="admin", password=PASSWORD)
    return settings, engine, vault, app


def csrf_of(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def log_in(client, email, password=PASSWORD):
    token = csrf_of(client.get("/console/login").text)
    return client.post("/console/login", data={"csrf_token": token, "email": email, "password": password},
                       follow_redirects=False)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return recent_store(tmp_path_factory.mktemp("console-store"))


def with_destination(tmp_path, store, server):
    """A console deployment (console_deployment) whose default account has the destination `acme`: a bucket
    on the local S3 server `server` with a least-privilege key."""
    settings, engine, vault, app = console_deployment(tmp_path, store)
    bucket = f"console-{uuid.uuid4().hex[:12]}"
    key = provision_least_privilege(server, bucket, region="eu-west-1")
    deployment = {"settings": settings, "engine": engine, "vault": vault, "app": app, "bucket": bucket, "key": key,
                  "server": server}
    destinations.add_destination(engine, vault, name="acme", bucket=bucket, data_region="EU",
                                 access_key_id=key.access_key_id, secret_access_key=key.secret_access_key,
                                 prefix="exports", endpoint_url=server.endpoint_url, path_style=True)
    return deployment


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, store, server):
    """One deployment for the module (password hashing and bucket set-up are slow on purpose); tests that
    count what was created compare with what was there before."""
    return with_destination(tmp_path_factory.mktemp("console"), store, server)


def logged_in(deployment, email=ADMIN):
    """A client of the deployment's app, logged in as `email` (None: nobody)."""
    client = TestClient(deployment["app"])
    if email:
        assert log_in(client, email).status_code == 303
    return client


def post_form(client, path, page, data):
    """POST `data` to `path` with the CSRF token of the form on `page`, as a browser would."""
    return client.post(path, data={"csrf_token": csrf_of(client.get(page).text), **data}, follow_redirects=False)
