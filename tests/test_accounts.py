"""Accounts, users and tokens (control/accounts.py) and their CLI: slow password hashes, tokens shown once
and stored hashed, the default account mirroring the deployment settings, and clear refusals."""

import datetime as dt
import json
import os
import subprocess
import sys
import threading

import pytest
import sqlalchemy as sa

from control import accounts
from control.errors import AuthenticationError, ConflictError, NotFoundError, PermissionDeniedError
from control.models import connect
from control.settings import load_settings
from tests.support.control_deployment import database  # noqa: F401 (a fixture)
from transforms.errors import ConfigError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSWORD = "correct horse battery"


@pytest.fixture
def engine(tmp_path):
    engine = connect(f"sqlite:///{tmp_path}/eventexport.db")
    accounts.ensure_default_account(engine, load_settings({"EVENTEXPORT_EVENT_STORE": "/stores/a",
                                                           "EVENTEXPORT_DATABASE_ID": "eu1"}))
    yield engine
    engine.dispose()


def _raw(engine, table):
    with engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(sa.text(f"SELECT * FROM {table}"))]


def test_default_account_mirrors_the_settings(engine):
    row = accounts.get_account(engine, "default")
    assert (row["event_store"], row["database_id"], row["data_region"]) == ("/stores/a", "eu1", None)
    accounts.ensure_default_account(engine, load_settings({"EVENTEXPORT_EVENT_STORE": "/stores/b",
                                                           "EVENTEXPORT_DATA_REGION": "IN"}))
    row = accounts.get_account(engine, "default")
    assert (row["event_store"], row["database_id"], row["data_region"]) == ("/stores/b", "local", "IN")
    assert [a["id"] for a in accounts.list_accounts(engine)] == ["default"]


def test_passwords_are_stored_with_argon2_and_checked(engine):
    user = accounts.add_user(engine, account="default", email=" Ann@Example.com", role="admin", password=PASSWORD)
    assert user["email"] == "ann@example.com" and "password_hash" not in user
    stored = _raw(engine, "users")[0]["password_hash"]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert accounts.authenticate(engine, "ANN@example.com", PASSWORD)["id"] == user["id"]
    messages = set()
    for email, password in (("ann@example.com", PASSWORD + "!"), ("nobody@example.com", PASSWORD), ("", "")):
        with pytest.raises(AuthenticationError) as refused:
            accounts.authenticate(engine, email, password)
        messages.add(str(refused.value))
    assert messages == {"wrong email or password"}   # never says which of the two was wrong
    token_only = accounts.add_user(engine, account="default", email="bot@example.com", role="viewer")
    with pytest.raises(AuthenticationError):
        accounts.authenticate(engine, token_only["email"], "")


def test_tokens_are_shown_once_and_stored_hashed(engine):
    accounts.add_user(engine, account="default", email="v@example.com", role="viewer")
    first, second = (accounts.issue_token(engine, "v@example.com", "ci") for _ in range(2))
    assert first != second and first.startswith(accounts.TOKEN_PREFIX) and len(first) > 40
    stored = json.dumps(_raw(engine, "api_tokens"), default=str)
    assert first not in stored and second not in stored
    for token in (first, second):
        user = accounts.user_for_token(engine, token)
        assert (user["email"], user["role"], user["account_id"]) == ("v@example.com", "viewer", "default")
    for bad in (None, "", first[:-1] + ("A" if first[-1] != "A" else "B"), "Bearer " + first):
        with pytest.raises(AuthenticationError):
            accounts.user_for_token(engine, bad)
    with pytest.raises(PermissionDeniedError, match="viewer and may only read"):
        accounts.require_admin(accounts.user_for_token(engine, first))


@pytest.mark.parametrize("change, error, field", [
    ({"account_id": "Has Caps"}, ConfigError, "account_id"),
    ({"account_id": "default"}, ConflictError, "account_id"),
    ({"database_id": "has/slash"}, ConfigError, None),
    ({"data_region": "MARS"}, ConfigError, "data_region"),
    ({"event_store": None}, ConfigError, "event_store"),
])
def test_account_refusals(engine, change, error, field):
    values = {"account_id": "globex", "event_store": "/stores/g", "database_id": "gx1", "data_region": "EU", **change}
    with pytest.raises(error) as refused:
        accounts.add_account(engine, **values)
    assert refused.value.field == field


@pytest.mark.parametrize("change, error, field", [
    ({"account": "nope"}, NotFoundError, None),
    ({"role": "owner"}, ConfigError, "role"),
    ({"email": "not-an-email"}, ConfigError, "email"),
    ({"password": "short"}, ConfigError, "password"),
    ({"email": "taken@example.com"}, ConflictError, "email"),
])
def test_user_refusals(engine, change, error, field):
    accounts.add_user(engine, account="default", email="taken@example.com", role="viewer")
    values = {"account": "default", "email": "new@example.com", "role": "admin", "password": PASSWORD, **change}
    with pytest.raises(error) as refused:
        accounts.add_user(engine, **values)
    assert refused.value.field == field


def _cli(tmp_path, *args, stdin=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTEXPORT_")}
    env.update(PYTHONPATH=ROOT, EVENTEXPORT_DB=f"sqlite:///{tmp_path}/cli.db",
               EVENTEXPORT_KEY_FILE=str(tmp_path / "master.key"))
    return subprocess.run([sys.executable, "-m", "control.cli", *args], env=env, cwd=tmp_path, input=stdin,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_account_and_user_commands(tmp_path):
    done = _cli(tmp_path, "account", "add", "globex", "--name", "Globex", "--event-store", "/stores/g",
                "--database-id", "gx1", "--data-region", "EU")
    assert done.returncode == 0, done.stderr
    listed = _cli(tmp_path, "account", "list").stdout
    assert "globex" in listed and "gx1" in listed and "default" in listed
    done = _cli(tmp_path, "--account", "globex", "user", "add", "ops@globex.example", "--role", "admin",
                "--password-stdin", stdin=PASSWORD + "\n")
    assert done.returncode == 0 and PASSWORD not in done.stdout + done.stderr
    token = _cli(tmp_path, "user", "token", "ops@globex.example").stdout.strip()
    assert token.startswith(accounts.TOKEN_PREFIX)
    engine = connect(f"sqlite:///{tmp_path}/cli.db")
    assert accounts.user_for_token(engine, token)["account_id"] == "globex"
    assert accounts.authenticate(engine, "ops@globex.example", PASSWORD)["role"] == "admin"
    engine.dispose()
    assert "ops@globex.example" in _cli(tmp_path, "--account", "globex", "user", "list").stdout
    assert "1 token(s)" in _cli(tmp_path, "user", "revoke", "ops@globex.example").stdout
    engine = connect(f"sqlite:///{tmp_path}/cli.db")
    with pytest.raises(AuthenticationError):
        accounts.user_for_token(engine, token)
    engine.dispose()
    refused = _cli(tmp_path, "--account", "initech", "destination", "list")
    assert refused.returncode == 2 and "no account 'initech'" in refused.stderr


@pytest.mark.slow
def test_user_commands_change_role_password_tokens_and_remove(tmp_path):
    engine = connect(f"sqlite:///{tmp_path}/cli.db")
    accounts.ensure_default_account(engine, load_settings({}))
    for email, role in (("ops@example.com", "admin"), ("ann@example.com", "viewer")):
        accounts.add_user(engine, account="default", email=email, role=role, password=PASSWORD)
    first, second = (accounts.issue_token(engine, "ann@example.com", label) for label in ("ci", "laptop"))
    listed = _cli(tmp_path, "user", "tokens", "ann@example.com").stdout
    assert "ci" in listed and "laptop" in listed and first not in listed and second not in listed
    token_id = listed.splitlines()[1].split()[0]
    assert "revoked" in _cli(tmp_path, "user", "revoke", "ann@example.com", "--token-id", token_id).stdout
    with pytest.raises(AuthenticationError):
        accounts.user_for_token(engine, first)
    assert accounts.user_for_token(engine, second)["email"] == "ann@example.com"   # the other one still works
    assert _cli(tmp_path, "user", "role", "ann@example.com", "--role", "admin").returncode == 0
    assert _cli(tmp_path, "user", "password", "ann@example.com", "--password-stdin",
                stdin="plum tractor window ferry\n").returncode == 0
    assert accounts.authenticate(engine, "ann@example.com", "plum tractor window ferry")["role"] == "admin"
    assert _cli(tmp_path, "user", "remove", "ops@example.com").returncode == 0
    last = _cli(tmp_path, "user", "role", "ann@example.com", "--role", "viewer")
    assert last.returncode == 2 and "last admin of account 'default'" in last.stderr
    assert [u["email"] for u in accounts.list_users(engine, "default")] == ["ann@example.com"]
    engine.dispose()


def test_tokens_expire(engine):
    accounts.add_user(engine, account="default", email="v@example.com", role="viewer")
    made = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    token = accounts.issue_token(engine, "v@example.com", now=made, days=1)
    with pytest.raises(AuthenticationError, match="expired on 2026-01-02 00:00 UTC"):
        accounts.user_for_token(engine, token)
    fresh = accounts.issue_token(engine, "v@example.com")
    assert accounts.list_tokens(engine, "v@example.com")[1]["expires_at"] > dt.datetime.now(
        dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert accounts.user_for_token(engine, fresh)["email"] == "v@example.com"
    for days in (0, 366, "30"):
        with pytest.raises(ConfigError, match="a token lives 1 to 365 days"):
            accounts.issue_token(engine, "v@example.com", days=days)


@pytest.fixture
def shared_engine(database):
    """An engine on SQLite or PostgreSQL, with the default account, for changes racing in threads."""
    engine = connect(database)
    accounts.ensure_default_account(engine, load_settings({"EVENTEXPORT_EVENT_STORE": "/stores/a",
                                                           "EVENTEXPORT_DATABASE_ID": "eu1"}))
    yield engine
    engine.dispose()


@pytest.mark.parametrize("change", ["demote", "remove"])
def test_two_admins_demoting_each_other_at_once_leave_one_admin(shared_engine, change):
    for round_ in range(5):
        pair = [f"admin{side}-{change}-{round_}@acme.example" for side in "ab"]
        for email in pair:
            accounts.add_user(shared_engine, account="default", email=email, role="admin")
        for email in accounts.list_users(shared_engine, "default"):   # only the pair are admins
            if email["email"] not in pair and email["role"] == "admin":
                accounts.set_role(shared_engine, "default", email["email"], "viewer")
        barrier, outcomes = threading.Barrier(2), []

        def act(email):
            barrier.wait()
            try:
                if change == "demote":
                    accounts.set_role(shared_engine, "default", email, "viewer")
                else:
                    accounts.remove_user(shared_engine, "default", email)
                outcomes.append("done")
            except ConflictError:
                outcomes.append("refused")

        threads = [threading.Thread(target=act, args=(email,)) for email in pair]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(outcomes) == ["done", "refused"]
        left = [u["email"] for u in accounts.list_users(shared_engine, "default") if u["role"] == "admin"]
        assert len(left) == 1 and left[0] in pair
