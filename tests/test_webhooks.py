"""control/notifications/webhooks.py and outbox.py: saving webhooks, and deliveries to a real local receiver
that checks each signature, fails and recovers, or is slow; on SQLite (the outbox's SQL is plain Core).

Retries are driven by the outbox's own schedule with `now` handed in, so nothing waits for a backoff and
nothing measures time.
"""

import concurrent.futures
import datetime as dt
import json
import threading

import pytest

from control import accounts
from control.errors import NotFoundError
from control.models import deliveries
from control.notifications import outbox, webhooks
from control.notifications.outbox import OutboxWorker, deliver_due
from tests.support.control_deployment import database  # noqa: F401 (a fixture: a new database of each kind)
from tests.support.notifications import SECRET, WebhookReceiver, control_plane, end_attempt, recurring_export
from transforms.errors import ConfigError
from transforms.sinks.endpoint_guard import ALLOW_PRIVATE_ENV

LATER = dt.timedelta(hours=2)   # past any retry's backoff (at most an hour)


@pytest.fixture
def plane(tmp_path):
    engine, settings, vault = control_plane(f"sqlite:///{tmp_path}/control.db", tmp_path,
                                            EVENTEXPORT_NOTIFY_MAX_ATTEMPTS="4")
    yield engine, settings, vault
    engine.dispose()


def _now():
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


@pytest.mark.parametrize("url, secret, threshold, field", [
    ("ftp://hooks.example.com/x", SECRET, None, "url"),
    ("https://user:pw@hooks.example.com/x", SECRET, None, "url"),
    ("not a url", SECRET, None, "url"),
    ("https://hooks.example.com/" + "x" * 2000, SECRET, None, "url"),
    ("https://hooks.example.com/x", "short", None, "secret"),
    ("https://hooks.example.com/x", SECRET, -1, "reject_threshold"),
])
def test_a_bad_webhook_is_refused_naming_its_field(plane, url, secret, threshold, field):
    engine, _, vault = plane
    with pytest.raises(ConfigError) as refused:
        webhooks.add_webhook(engine, vault, "acme", url=url, secret=secret, reject_threshold=threshold)
    assert refused.value.field == field
    assert webhooks.list_webhooks(engine, "acme") == []


def test_the_secret_is_sealed_never_shown_and_other_accounts_see_nothing(plane):
    engine, _, vault = plane
    row = webhooks.add_webhook(engine, vault, "acme", url="https://hooks.example.com/x", secret=SECRET)
    assert SECRET not in json.dumps(webhooks.public_webhook(row)) and SECRET not in row["secret_sealed"]
    assert vault.open(row["secret_sealed"]) == SECRET
    with pytest.raises(NotFoundError):
        webhooks.get_webhook(engine, row["id"], "globex")
    with pytest.raises(NotFoundError):
        webhooks.remove_webhook(engine, row["id"], "globex")


def test_a_private_address_is_refused_when_saved_and_when_connecting(plane, monkeypatch):
    engine, settings, vault = plane
    with WebhookReceiver() as receiver:
        hook = webhooks.add_webhook(engine, vault, "acme", url=receiver.url, secret=SECRET)  # allowed: tests
        monkeypatch.setenv(ALLOW_PRIVATE_ENV, "false")
        with pytest.raises(ConfigError) as refused:
            webhooks.add_webhook(engine, vault, "acme", url=receiver.url, secret=SECRET)
        assert refused.value.field == "url" and "loopback" in str(refused.value)
        # saved while allowed, say: the connection itself is refused, and nothing reaches the receiver
        end_attempt(engine, settings, recurring_export(engine), "Done")
        deliver_due(engine, settings, vault)
        [delivery] = outbox.recent_deliveries(engine, "acme", hook["id"])
        assert receiver.received == [] and delivery["status"] == "pending" and "loopback" in delivery["error"]


def test_a_receiver_that_fails_twice_gets_the_same_signed_delivery_until_it_answers_2xx(plane):
    engine, settings, vault = plane
    with WebhookReceiver(script=[500, 503]) as receiver:
        hook = webhooks.add_webhook(engine, vault, "acme", url=receiver.url, secret=SECRET)
        assert end_attempt(engine, settings, recurring_export(engine), "Failed") == [("webhook", "run.failed")]
        now = _now()
        assert deliver_due(engine, settings, vault, now) == 1
        assert deliver_due(engine, settings, vault, now) == 0        # its retry is not due yet
        assert deliver_due(engine, settings, vault, now + LATER) == 1
        assert deliver_due(engine, settings, vault, now + 2 * LATER) == 1
        assert deliver_due(engine, settings, vault, now + 3 * LATER) == 0
    assert [status for status, *_ in receiver.received] == [500, 503, 200]
    assert all(valid for *_, valid in receiver.received)
    assert len({body for _, _, body, _ in receiver.received}) == 1    # the same bytes, the same event id
    headers = receiver.received[0][1]
    assert headers["EventExport-Event"] == "run.failed"
    assert headers["EventExport-Delivery"] == json.loads(receiver.received[0][2])["id"]
    payload = json.loads(receiver.received[0][2])
    assert payload["run"]["status"] == "Failed" and payload["run"]["error"] == "the bucket refused us"
    assert payload["export"]["failure_streak"] == 1
    [delivery] = outbox.recent_deliveries(engine, "acme", hook["id"])
    assert (delivery["status"], delivery["attempts"], delivery["answer"], delivery["error"]) == (
        "delivered", 3, 200, None)


def test_a_delivery_is_given_up_after_the_last_attempt_with_its_last_answer(plane):
    engine, settings, vault = plane
    with WebhookReceiver(script=[500] * 10) as receiver:
        hook = webhooks.add_webhook(engine, vault, "acme", url=receiver.url, secret=SECRET)
        end_attempt(engine, settings, recurring_export(engine), "Done")
        for n in range(6):
            deliver_due(engine, settings, vault, _now() + n * LATER)
    [delivery] = outbox.recent_deliveries(engine, "acme", hook["id"])
    assert len(receiver.received) == settings.notify_max_attempts == 4
    assert (delivery["status"], delivery["attempts"], delivery["answer"], delivery["error"]) == (
        "failed", 4, 500, "answered HTTP 500")


def test_rejects_above_a_webhook_s_threshold_send_run_rejects_to_it_alone(plane):
    engine, settings, vault = plane
    strict = webhooks.add_webhook(engine, vault, "acme", url="https://a.example.com/", secret=SECRET,
                                  reject_threshold=10)
    webhooks.add_webhook(engine, vault, "acme", url="https://b.example.com/", secret=SECRET)
    request = recurring_export(engine)
    assert sorted(end_attempt(engine, settings, request, "Done", rejected=11)) == [
        ("webhook", "run.done"), ("webhook", "run.done"), ("webhook", "run.rejects")]
    assert [d["event"] for d in outbox.recent_deliveries(engine, "acme", strict["id"])] == ["run.rejects", "run.done"]
    assert end_attempt(engine, settings, request, "Done", window=1, rejected=10) == [
        ("webhook", "run.done"), ("webhook", "run.done")]


def test_a_slow_receiver_holds_up_no_other_account(plane):
    engine, settings, vault = plane
    accounts.add_account(engine, account_id="globex", database_id="gx1", event_store="/nowhere")
    hold = threading.Event()
    with WebhookReceiver(hold=hold) as slow, WebhookReceiver() as quick:
        webhooks.add_webhook(engine, vault, "acme", url=slow.url, secret=SECRET)
        globex = webhooks.add_webhook(engine, vault, "globex", url=quick.url, secret=SECRET)
        end_attempt(engine, settings, recurring_export(engine), "Done")
        worker = OutboxWorker(engine, settings, vault).start()
        try:
            assert slow.arrived.wait(30)          # acme's delivery is stuck in its receiver
            with engine.begin() as connection:
                outbox.queue(connection, account="globex", channel="webhook", event="webhook.test",
                             payload={"type": "webhook.test"}, now=_now(), webhook_id=globex["id"])
            worker.poke()
            assert quick.arrived.wait(30)         # globex's went meanwhile
            assert slow.received == []            # and acme's is still held
        finally:
            hold.set()
            worker.stop()
    assert slow.events() == ["run.done"] and quick.events() == ["webhook.test"]
    with engine.connect() as connection:
        assert {r.status for r in connection.execute(deliveries.select())} == {"delivered"}


def test_a_delivery_ending_while_stop_looks_for_more_lets_the_account_s_next_one_go(plane, monkeypatch):
    """The race behind a mail once left unsent by run_due: stop() looks for due deliveries while an account's
    delivery is in flight (so that account is passed over), and the delivery ends during the look."""
    engine, settings, vault = plane
    hold = threading.Event()
    with WebhookReceiver(hold=hold) as receiver:
        hook = webhooks.add_webhook(engine, vault, "acme", url=receiver.url, secret=SECRET)
        with engine.begin() as connection:
            for event in ("run.failed", "export.paused"):
                outbox.queue(connection, account="acme", channel="webhook", event=event,
                             payload={"type": event}, now=_now(), webhook_id=hook["id"])
        worker = OutboxWorker(engine, settings, vault).start()
        assert receiver.arrived.wait(30)   # the first is in flight, held by its receiver
        claim_due = outbox.claim_due

        def in_flight_ends_meanwhile(*args, besides=(), **kwargs):
            if besides:
                hold.set()
                concurrent.futures.wait(list(worker._flying.values()))
            return claim_due(*args, besides=besides, **kwargs)

        monkeypatch.setattr(outbox, "claim_due", in_flight_ends_meanwhile)
        worker.stop()
    assert receiver.events() == ["run.failed", "export.paused"]


def test_two_senders_never_claim_one_delivery(database, tmp_path):
    """The outbox's claim on each database (PostgreSQL too when it is set up): eight threads claim at once,
    and every due delivery is claimed exactly once."""
    engine, settings, vault = control_plane(database, tmp_path)
    for n in range(6):
        accounts.add_account(engine, account_id=f"a{n}", database_id=f"a{n}", event_store="/nowhere")
    with engine.begin() as connection:
        for n in range(6):
            for _ in range(3):
                outbox.queue(connection, account=f"a{n}", channel="email", event="run.failed",
                             payload={"subject": "s", "text": "t"}, now=_now(), recipients=["x@a.example"])
    claimed, start = [], threading.Barrier(8)

    def claim():
        start.wait()
        while True:
            got = outbox.claim_due(engine, settings)
            if not got:
                return
            claimed.extend(row["id"] for row in got)
            with engine.begin() as connection:   # sent: the next of its account comes due
                connection.execute(deliveries.update().where(deliveries.c.id.in_([r["id"] for r in got]))
                                   .values(status="delivered"))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    engine.dispose()
    assert sorted(claimed) == list(range(1, 19))
