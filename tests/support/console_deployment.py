"""A console deployment for tests: its database, settings, users in two accounts, and the app."""

import datetime as dt
import re

from server.app import create_app
from control import accounts
from control.settings import load_settings
from devtools.generate import generate

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
