"""The notification outbox: every webhook POST and every mail is a row here first, then sent by a worker.

Queuing is a write in the same transaction as what it tells of (control/notifications/events.py), so a
run's outcome and its notifications are recorded together, and the run's thread never waits for a
receiver. The worker (one thread beside each scheduler, `OutboxWorker`) claims due rows as runs are
claimed: a conditional UPDATE with a lease, so two schedulers never send one delivery at once, and a
sender that died leaves a claim that lapses. It has at most one delivery of an account in flight and
several accounts' at once, each bounded by `notify_timeout_seconds`, so a slow or failing receiver holds
up neither runs nor other accounts. A failed attempt is tried again after `notify_retry_seconds`,
doubling up to an hour, until `notify_max_attempts`; then the row is `failed`, with its last answer.
Every attempt keeps its answer (HTTP status or error) and count on the row: the delivery log.
"""

import concurrent.futures
import datetime as dt
import json
import threading
import time
import uuid

import requests
import sqlalchemy as sa
from smtplib import SMTPException

from control.models import deliveries, utc, webhooks
from control.notifications.http import describe_failure, post
from control.notifications.mail import send_mail
from control.notifications.signing import SIGNATURE_HEADER, signature

__all__ = ["queue", "attempt", "claim_due", "claim_delivery", "deliver_due", "retry_delay", "recent_deliveries", "public_delivery",
           "OutboxWorker", "LAST_RETRY", "SENDERS"]

LAST_RETRY = dt.timedelta(hours=1)   # a receiver down for a day is retried hourly, not every few seconds
SENDERS = 4                          # accounts whose deliveries are sent at once by one worker
POLL_SECONDS = 1.0                   # how soon a retry that came due is noticed
_SHOWN = 50                          # deliveries a log shows


def _now():
    return utc(dt.datetime.now(dt.timezone.utc))


def retry_delay(settings, attempts):
    """After the `attempts`-th failed attempt: notify_retry_seconds, doubling, at most LAST_RETRY."""
    return min(dt.timedelta(seconds=settings.notify_retry_seconds) * 2 ** max(0, attempts - 1), LAST_RETRY)


def queue(connection, *, account, channel, event, payload, now, webhook_id=None, recipients=None):
    """Add a delivery of `payload` (a dict; for mail {"subject", "text"}) due now; its id. The body is
    fixed here, so every attempt sends the same bytes with the same event id."""
    event_id = uuid.uuid4().hex
    body = json.dumps(dict(payload, id=event_id) if channel == "webhook" else payload, ensure_ascii=False)
    return connection.execute(deliveries.insert().values(
        account_id=account, channel=channel, webhook_id=webhook_id, recipients=recipients, event_id=event_id,
        event=event, body=body, status="pending", attempts=0, next_attempt_at=now, created_at=now)
    ).inserted_primary_key[0]


def _claimable(now):
    return (((deliveries.c.status == "pending") & (deliveries.c.next_attempt_at <= now))
            | ((deliveries.c.status == "sending") & (deliveries.c.lease_until < now)))


def claim_delivery(engine, settings, delivery_id, now):
    """The delivery, claimed for one attempt, or None if another sender has it or it is not due."""
    lease = dt.timedelta(seconds=2 * settings.notify_timeout_seconds + 60)
    with engine.begin() as connection:
        if connection.execute(deliveries.update().where((deliveries.c.id == delivery_id) & _claimable(now))
                              .values(status="sending", lease_until=now + lease)).rowcount != 1:
            return None
        return dict(connection.execute(sa.select(deliveries).where(deliveries.c.id == delivery_id)).one()._mapping)


def claim_due(engine, settings, now=None, besides=(), limit=None):
    """Claim the oldest due delivery of each account not in `besides` (of at most `limit` accounts); the
    claimed rows."""
    now = now or _now()
    with engine.connect() as connection:
        due = connection.execute(sa.select(deliveries.c.id, deliveries.c.account_id).where(_claimable(now))
                                 .order_by(deliveries.c.next_attempt_at, deliveries.c.id).limit(500)).all()
    first = {}
    for delivery_id, account in due:
        if account not in besides:
            first.setdefault(account, delivery_id)
    return [row for row in (claim_delivery(engine, settings, d, now) for d in list(first.values())[:limit]) if row]


def _send_webhook(engine, settings, vault, delivery):
    with engine.connect() as connection:
        hook = connection.execute(sa.select(webhooks).where(webhooks.c.id == delivery["webhook_id"])).first()
    if hook is None:
        return None, "the webhook was removed"
    body = delivery["body"].encode()
    headers = {"Content-Type": "application/json", "User-Agent": "eventexport-webhooks/1",
               "EventExport-Event": delivery["event"], "EventExport-Delivery": delivery["event_id"],
               SIGNATURE_HEADER: signature(vault.open(hook.secret_sealed), body, time.time())}
    try:
        status = post(hook.url, body, headers, settings.notify_timeout_seconds)
    except requests.RequestException as error:
        return None, describe_failure(error)
    return status, None if 200 <= status < 300 else f"answered HTTP {status}"


def _send_mail(settings, delivery):
    message = json.loads(delivery["body"])
    try:
        send_mail(settings, delivery["recipients"], message["subject"], message["text"])
    except (OSError, SMTPException) as error:   # refused, unreachable, timed out, TLS
        return None, f"the mail server: {type(error).__name__}: {str(error)[:300]}"
    return None, None


def _record(engine, settings, delivery, answer, error, now):
    attempts = delivery["attempts"] + 1
    if error is None:
        values = dict(status="delivered", finished_at=now, next_attempt_at=None)
    elif attempts >= settings.notify_max_attempts or error == "the webhook was removed":
        values = dict(status="failed", finished_at=now, next_attempt_at=None)
    else:
        values = dict(status="pending", next_attempt_at=now + retry_delay(settings, attempts))
    with engine.begin() as connection:
        connection.execute(deliveries.update().where(
            (deliveries.c.id == delivery["id"]) & (deliveries.c.status == "sending")).values(
            attempts=attempts, answer=answer, error=error, lease_until=None, **values))
        return dict(connection.execute(sa.select(deliveries).where(deliveries.c.id == delivery["id"])).one()._mapping)


def attempt(engine, settings, vault, delivery, now=None):
    """Send one claimed delivery once and record its answer; the row as recorded. Times of the schedule are
    `now` (default the clock); the signature's timestamp is always the clock's, as the receiver checks it."""
    if delivery["channel"] == "webhook":
        answer, error = _send_webhook(engine, settings, vault, delivery)
    else:
        answer, error = _send_mail(settings, delivery)
    return _record(engine, settings, delivery, answer, error, now or _now())


def deliver_due(engine, settings, vault, now=None):
    """Send everything due as of `now`, one attempt each, account after account; how many were attempted."""
    sent = 0
    while True:
        claimed = claim_due(engine, settings, now)
        if not claimed:
            return sent
        for delivery in claimed:
            attempt(engine, settings, vault, delivery, now)
        sent += len(claimed)


class OutboxWorker:
    """Sends the outbox's due deliveries on a thread beside a scheduler (control/scheduler.py), until stopped;
    `poke()` makes it look at once (a run just queued something)."""

    def __init__(self, engine, settings, vault, warn=print):
        self.engine, self.settings, self.vault, self.warn = engine, settings, vault, warn
        self._flying = {}   # account -> its delivery being sent
        self._pool = concurrent.futures.ThreadPoolExecutor(SENDERS, thread_name_prefix="notify")
        self._stop, self._wake = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._loop, name="outbox", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def poke(self):
        self._wake.set()

    def stop(self):
        """Stop looking; send what is due now (one attempt each, for at most twice the timeout, so a stop is
        never held up for long), wait for what is in flight, and end."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()
        give_up = time.monotonic() + 2 * self.settings.notify_timeout_seconds
        try:
            while (flying := self._fill()) and (left := give_up - time.monotonic()) > 0:
                concurrent.futures.wait(flying, left, return_when=concurrent.futures.FIRST_COMPLETED)
        except Exception as error:  # the next scheduler sends them
            self.warn(f"notifications not sent at stop: {type(error).__name__}: {error}")
        self._pool.shutdown(wait=True)

    def _loop(self):
        while not self._stop.is_set():
            try:
                self._fill()
            except Exception as error:  # a database blip: the next look tries again
                self.warn(f"notification outbox: {type(error).__name__}: {error}")
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()

    def _fill(self):
        """Claim the due deliveries of accounts with none in flight; the deliveries in flight. One that ends
        while the claim is made is still among them: its account was passed over, so the caller must look
        again (stop() once ended with that account's next delivery left behind)."""
        self._flying = {account: f for account, f in self._flying.items() if not f.done()}
        if len(self._flying) < SENDERS:
            for delivery in claim_due(self.engine, self.settings, besides=set(self._flying),
                                      limit=SENDERS - len(self._flying)):
                self._flying[delivery["account_id"]] = self._pool.submit(
                    attempt, self.engine, self.settings, self.vault, delivery)
        return list(self._flying.values())


def recent_deliveries(engine, account, webhook_id=None, limit=_SHOWN):
    """The account's latest deliveries (of one webhook when given), newest first."""
    query = sa.select(deliveries).where(deliveries.c.account_id == account)
    if webhook_id is not None:
        query = query.where(deliveries.c.webhook_id == webhook_id)
    with engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(query.order_by(deliveries.c.id.desc()).limit(limit))]


def public_delivery(row):
    """A delivery as the log shows it: what, to where, how it went (not its body: the run's own pages have
    the same news)."""
    iso = {k: row[k].strftime("%Y-%m-%dT%H:%M:%SZ") if row[k] else None
           for k in ("created_at", "next_attempt_at", "finished_at")}
    return dict(iso, id=row["id"], event_id=row["event_id"], event=row["event"], channel=row["channel"],
                webhook_id=row["webhook_id"], recipients=row["recipients"], status=row["status"],
                attempts=row["attempts"], answer=row["answer"], error=row["error"])
