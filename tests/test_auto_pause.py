"""control/auto_pause.py: a recurring export that fails N times in a row is paused, the account is told, and
resuming continues from the first window not yet Done.

The counting is checked on runs ended through the database (no pipeline); one test runs the real scheduler
on a real export whose destination refuses connections, five times, until it is paused, then resumes it
with the destination fixed and finds every window exported, none skipped.
"""

import datetime as dt
import json
import uuid

import pytest
import sqlalchemy as sa

from control import accounts, cli, destinations, exports
from control.auto_pause import resume_export
from control.errors import ConflictError
from control.models import connect, deliveries, requests, runs
from control.models import destinations as destination_rows
from control.notifications import Notifier, preferences, webhooks
from control.notifications import events as notification_events
from control.scheduler import plan_runs, run_due
from control.secrets import Vault
from control.settings import load_settings
from devtools.generate import generate
from devtools.local_s3 import provision_least_privilege
from tests.support.notifications import (SECRET, MailServer, WebhookReceiver, control_plane, end_attempt,
                                         recurring_export)
from tests.support.stores import in_window, read_generated_events


@pytest.fixture
def plane(tmp_path):
    engine, settings, vault = control_plane(f"sqlite:///{tmp_path}/control.db", tmp_path)
    yield engine, settings, vault
    engine.dispose()


def _request(engine, request_id):
    with engine.connect() as connection:
        return dict(connection.execute(sa.select(requests).where(requests.c.id == request_id)).one()._mapping)


def test_the_fifth_failure_in_a_row_pauses_a_recurring_export_and_tells_its_webhooks(plane):
    engine, settings, vault = plane
    webhooks.add_webhook(engine, vault, "acme", url="https://hooks.example.com/", secret=SECRET)
    request = recurring_export(engine)
    for _ in range(4):
        assert end_attempt(engine, settings, request, "Failed") == [("webhook", "run.failed")]
    assert (_request(engine, request)["status"], _request(engine, request)["failure_streak"]) == ("active", 4)
    assert end_attempt(engine, settings, request, "Failed") == [("webhook", "run.failed"),
                                                                ("webhook", "export.paused")]
    paused = _request(engine, request)
    assert paused["status"] == "paused" and paused["paused_at"] is not None
    assert paused["paused_reason"].startswith("paused after 5 failed runs in a row (the limit is 5)")
    assert "the bucket refused us" in paused["paused_reason"]
    assert exports.public_export(paused)["paused_reason"] == paused["paused_reason"]


def test_the_outcome_its_count_and_its_news_are_kept_together_and_a_failing_hook_never_undoes_the_outcome(
        plane, monkeypatch):
    engine, settings, vault = plane
    webhooks.add_webhook(engine, vault, "acme", url="https://hooks.example.com/", secret=SECRET)
    request = recurring_export(engine)
    end_attempt(engine, settings, request, "Failed")   # the run exists, its streak is 1
    warned = []
    notifier = Notifier(engine, settings, vault, warn=warned.append)
    with engine.connect() as connection:
        run_id = connection.execute(sa.select(runs.c.id).where(runs.c.request_id == request)).scalar()

    def half_then_fail(connection, *args):
        connection.execute(requests.update().where(requests.c.id == request).values(failure_streak=99))
        raise RuntimeError("the hook broke halfway")

    monkeypatch.setattr(notification_events, "run_ended", half_then_fail)
    with engine.begin() as connection:   # as control/claims.py records an outcome
        connection.execute(runs.update().where(runs.c.id == run_id).values(status="Done", error=None))
        notifier.run_ended(connection, run_id)
    assert _request(engine, request)["failure_streak"] == 1        # the hook's half-done change rolled back
    with engine.connect() as connection:
        assert connection.execute(sa.select(runs.c.status).where(runs.c.id == run_id)).scalar() == "Done"
    assert warned == [f"run {run_id}: notifications not queued: RuntimeError: the hook broke halfway"]
    monkeypatch.undo()
    with pytest.raises(RuntimeError):   # and when the outcome's transaction fails, nothing of its news is kept
        with engine.begin() as connection:
            connection.execute(runs.update().where(runs.c.id == run_id).values(attempts=runs.c.attempts + 1))
            notifier.run_ended(connection, run_id)
            raise RuntimeError("the outcome's transaction failed")
    assert _request(engine, request)["failure_streak"] == 1
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(deliveries)).scalar() == 1


def test_a_done_run_ends_the_streak_and_one_time_exports_are_never_paused(plane):
    engine, settings, _ = plane
    preferences.set_preferences(engine, "acme", pause_after=2)
    recurring, once = recurring_export(engine), recurring_export(engine, "once")
    for outcome in ("Failed", "Done", "Failed"):
        end_attempt(engine, settings, recurring, outcome)
    assert (_request(engine, recurring)["status"], _request(engine, recurring)["failure_streak"]) == ("active", 1)
    for _ in range(3):
        end_attempt(engine, settings, once, "Failed")
    assert (_request(engine, once)["status"], _request(engine, once)["failure_streak"]) == ("active", 3)


def test_a_paused_export_plans_and_claims_nothing_until_resumed(plane):
    engine, settings, _ = plane
    preferences.set_preferences(engine, "acme", pause_after=1)
    request = recurring_export(engine)
    end_attempt(engine, settings, request, "Failed")
    later = dt.datetime(2026, 11, 22)
    plan_runs(engine, later)
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(runs)).scalar() == 1
    assert run_due(engine, settings, Vault(settings), later, log=lambda _: None) == 0
    with pytest.raises(ConflictError):
        resume_export(engine, recurring_export(engine), "acme")      # an active export is not paused
    resumed = resume_export(engine, request, "acme", now=later)
    assert (resumed["status"], resumed["failure_streak"], resumed["paused_reason"]) == ("active", 0, None)
    with engine.connect() as connection:
        assert connection.execute(sa.select(runs.c.next_attempt_at)).scalar() == later   # due at once
    plan_runs(engine, later)   # the windows that ended while it was paused: every one, in order
    with engine.connect() as connection:
        starts = [r.window_start for r in connection.execute(sa.select(runs.c.window_start).where(
            runs.c.request_id == request).order_by(runs.c.window_start))]
    assert starts == [dt.datetime(2026, 11, 20) + dt.timedelta(hours=4 * k) for k in range(12)]


def test_the_cli_resumes_a_paused_export(plane, tmp_path, monkeypatch, capsys):
    engine, settings, _ = plane
    preferences.set_preferences(engine, "acme", pause_after=1)
    request = recurring_export(engine)
    end_attempt(engine, settings, request, "Failed")
    monkeypatch.setenv("EVENTEXPORT_DB", settings.db)
    monkeypatch.setenv("EVENTEXPORT_KEY_FILE", settings.key_file)
    assert cli.main(["--account", "acme", "export", "resume", request]) == 0
    assert capsys.readouterr().out == f"export {request} resumed: it continues from its first window not yet Done\n"
    assert _request(engine, request)["status"] == "active"
    assert cli.main(["--account", "acme", "export", "resume", request]) == 2
    assert "is active, not paused" in capsys.readouterr().err


def test_a_paused_export_may_be_stopped(plane):
    engine, settings, _ = plane
    preferences.set_preferences(engine, "acme", pause_after=1)
    request = recurring_export(engine)
    end_attempt(engine, settings, request, "Failed")
    exports.stop_export(engine, request, "acme")
    assert _request(engine, request)["status"] == "stopped"
    with pytest.raises(ConflictError):
        resume_export(engine, request, "acme")


# ------------------------------------------------------------------------------------------------------------
# end to end: the real scheduler, a real export, a destination that refuses connections and then works

DEAD_ENDPOINT = "http://127.0.0.1:9"   # the discard port: nothing listens, the connection is refused
CREATED = dt.datetime(2026, 11, 26, tzinfo=dt.timezone.utc)
STORE_END = dt.date(2026, 11, 27)      # the store's mark: complete before 2026-11-28


@pytest.mark.slow
def test_a_recurring_export_failing_five_times_is_paused_then_resumed_with_nothing_skipped(tmp_path, server):
    store = tmp_path / "store"
    generate(str(store), 300, 2, "parquet", seed=11, end=STORE_END)
    bucket = f"pause-{uuid.uuid4().hex[:8]}"
    key = provision_least_privilege(server, bucket, region="eu-west-1")
    with MailServer() as mail, WebhookReceiver() as receiver:
        settings = load_settings({"EVENTEXPORT_DB": f"sqlite:///{tmp_path}/control.db",
                                  "EVENTEXPORT_KEY_FILE": str(tmp_path / "master.key"),
                                  "EVENTEXPORT_MANIFESTS": str(tmp_path / "manifests"), **mail.settings()})
        engine, vault = connect(settings.db), Vault(settings)
        accounts.add_account(engine, account_id="acme", event_store=str(store / "events"), database_id="acme1",
                             data_region="EU")
        accounts.add_user(engine, account="acme", email="admin@acme.example", role="admin")
        destinations.add_destination(engine, vault, "acme", name="acme", bucket=bucket, data_region="EU",
                                     access_key_id=key.access_key_id, secret_access_key=key.secret_access_key,
                                     prefix="paused", endpoint_url=server.endpoint_url, path_style=True)
        webhooks.add_webhook(engine, vault, "acme", url=receiver.url, secret=SECRET)
        request = exports.create_export(engine, "acme", destination="acme", export_type="all_events",
                                        format="json", frequency="recurring", every="24h", now=CREATED)

        def endpoint(url):   # the customer breaks, then fixes, their endpoint
            with engine.begin() as connection:
                connection.execute(destination_rows.update().values(endpoint_url=url))

        endpoint(DEAD_ENDPOINT)
        first_due = CREATED + dt.timedelta(days=1)
        for attempt in range(5):   # each pass is past the last attempt's backoff (at most 4 h)
            assert run_due(engine, settings, vault, first_due + dt.timedelta(hours=5 * attempt), log=print) == 1
        paused = _request(engine, request)
        assert paused["status"] == "paused" and paused["paused_reason"].startswith("paused after 5 failed runs")
        resumed_at = CREATED + dt.timedelta(days=2, hours=1)
        assert run_due(engine, settings, vault, resumed_at, log=print) == 0
        assert receiver.events() == ["run.failed"] * 5 + ["export.paused"]
        assert all(valid for *_, valid in receiver.received)
        assert [m["Subject"] for _, m in mail.mails] == [f"eventexport: export {request} is failing",
                                                         f"eventexport: export {request} is paused"]

        endpoint(server.endpoint_url)
        resume_export(engine, request, "acme", now=resumed_at)
        assert run_due(engine, settings, vault, resumed_at, log=print) == 2
        with engine.connect() as connection:
            done = [dict(r._mapping) for r in connection.execute(sa.select(runs).where(
                runs.c.request_id == request).order_by(runs.c.window_start))]
            assert {r.status for r in connection.execute(sa.select(deliveries))} == {"delivered"}
    assert [(r["window_start"], r["window_end"], r["status"]) for r in done] == [
        (CREATED.replace(tzinfo=None), CREATED.replace(tzinfo=None) + dt.timedelta(days=1), "Done"),
        (CREATED.replace(tzinfo=None) + dt.timedelta(days=1), CREATED.replace(tzinfo=None) + dt.timedelta(days=2),
         "Done")]
    assert done[0]["attempts"] == 6 and done[1]["attempts"] == 1
    records = read_generated_events(store / "events")
    for run in done:
        window = in_window(records, run["window_start"].isoformat(), run["window_end"].isoformat(), "captured_at")
        assert run["rows"] == len(window) > 0
    assert receiver.events()[6:] == ["run.done", "run.done"]
    told = [json.loads(body)["run"]["reconciliation"] for _, _, body, _ in receiver.received[6:]]
    assert [(t["read"], t["exported"]) for t in told] == [(r["rows"], r["rows"]) for r in done]   # a clean store
    assert len(mail.mails) == 2
