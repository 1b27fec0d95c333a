"""What a run's outcome tells the account: the hook the scheduler calls once a run's outcome is recorded.

`run_ended` counts the outcome on the export's failure streak, pauses the export when the streak reaches
its limit (control/auto_pause.py), and queues in the outbox, in the same transaction:
- to every webhook of the account: `run.done` or `run.failed`; `run.rejects` when a Done run rejected more
  records than the webhook's threshold; `export.paused` when this outcome paused the export;
- by mail (when the deployment has an SMTP server): one mail when a failure streak starts (the first
  failure, not every attempt) and one when the export is paused.
Nothing is sent here: the outbox's worker sends (control/notifications/outbox.py).
"""

import datetime as dt

import sqlalchemy as sa

from control import auto_pause
from control.models import requests, runs, utc
from control.notifications import outbox
from control.notifications.mail import mail_enabled
from control.notifications.preferences import recipients
from control.notifications.webhooks import get_webhook, webhooks_of
from control.runs import reconciliation

__all__ = ["run_ended", "send_test", "EVENTS"]

EVENTS = ("run.done", "run.failed", "run.rejects", "export.paused", "webhook.test")


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def _export_view(request):
    return {"id": request["id"], "export_type": request["export_type"], "format": request["format"],
            "frequency": request["frequency"], "every_hours": request["every_hours"],
            "destination": request["destination"], "status": request["status"],
            "failure_streak": request["failure_streak"], "paused_reason": request["paused_reason"]}


def _run_view(run):
    view = {k: run[k] for k in ("id", "run_timestamp", "status", "attempts", "objects", "rows", "rejected",
                                "bytes", "error")}
    return dict(view, window_start=_iso(run["window_start"]), window_end=_iso(run["window_end"]),
                next_attempt_at=_iso(run["next_attempt_at"]), reconciliation=reconciliation(run))


def _one(connection, table, key):
    return dict(connection.execute(sa.select(table).where(table.c.id == key)).one()._mapping)


def _mail_text(request, run, paused):
    window = f"{_iso(run['window_start'])} to {_iso(run['window_end'])}"
    if paused:
        return (f"eventexport: export {request['id']} is paused",
                f"Your recurring export {request['id']} (to {request['destination']}) is paused: {paused}.\n\n"
                f"Resume it in the console's Activity Log, with POST /api/v1/exports/{request['id']}/resume, or "
                f"`eventexport export resume {request['id']}`.\n")
    retry = f"It is tried again from {_iso(run['next_attempt_at'])}." if run["next_attempt_at"] else ""
    return (f"eventexport: export {request['id']} is failing",
            f"A run of your export {request['id']} (to {request['destination']}) failed for the window {window}:\n\n"
            f"{run['error']}\n\n{retry} This is the only mail about this streak of failures"
            f"{' until the export is paused' if request['frequency'] == 'recurring' else ''}; the Activity Log "
            "shows each attempt.\n")


def run_ended(connection, settings, run_id, now=None):
    """Count, pause and queue for run `run_id`, whose outcome (Done or Failed) is being recorded in the
    transaction of `connection`, so the outcome, its count and its news are kept together or not at all; the
    events queued, as (channel, event) pairs."""
    now = utc(now or dt.datetime.now(dt.timezone.utc))
    queued = []
    run = _one(connection, runs, run_id)
    failed = run["status"] == "Failed"
    request = _one(connection, requests, run["request_id"])
    streak = auto_pause.count_outcome(connection, request, failed)
    paused = auto_pause.pause_if_due(connection, settings, request, streak, run["error"], now) if failed else None
    request = _one(connection, requests, run["request_id"])
    account = request["account_id"]

    def send(channel, event, payload, **where):
        outbox.queue(connection, account=account, channel=channel, event=event, payload=payload, now=now,
                     **where)
        queued.append((channel, event))

    base = {"created_at": _iso(now), "account": account, "export": _export_view(request), "run": _run_view(run)}
    for hook in webhooks_of(connection, account):
        send("webhook", "run.failed" if failed else "run.done",
             dict(base, type="run.failed" if failed else "run.done"), webhook_id=hook["id"])
        threshold = hook["reject_threshold"]
        if not failed and threshold is not None and (run["rejected"] or 0) > threshold:
            send("webhook", "run.rejects", dict(base, type="run.rejects", reject_threshold=threshold),
                 webhook_id=hook["id"])
        if paused:
            send("webhook", "export.paused", dict(base, type="export.paused", reason=paused),
                 webhook_id=hook["id"])
    to = recipients(connection, account) if mail_enabled(settings) else []
    if to and (paused or (failed and streak == 1)):
        subject, text = _mail_text(request, run, paused)
        send("email", "export.paused" if paused else "run.failed", {"subject": subject, "text": text},
             recipients=to)
    return queued


def send_test(engine, settings, vault, webhook_id, account):
    """Queue a `webhook.test` delivery to the webhook and attempt it now; the delivery as recorded (a failed
    attempt is retried by the outbox like any other)."""
    get_webhook(engine, webhook_id, account)
    now = utc(dt.datetime.now(dt.timezone.utc))
    with engine.begin() as connection:
        delivery_id = outbox.queue(connection, account=account, channel="webhook", event="webhook.test",
                                   payload={"type": "webhook.test", "created_at": _iso(now), "account": account},
                                   now=now, webhook_id=webhook_id)
    claimed = outbox.claim_delivery(engine, settings, delivery_id, now)
    return outbox.attempt(engine, settings, vault, claimed, now)
