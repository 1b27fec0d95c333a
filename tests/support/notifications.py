"""Real receivers for the notification tests: a webhook endpoint (http.server on 127.0.0.1 in a thread) that
checks each delivery's signature with its own HMAC code and answers from a script, and an SMTP server
(aiosmtpd) that keeps every mail. Also a control database with an account whose runs are made and ended
through the database (no pipeline), for tests of what a run's outcome triggers.
"""

import datetime as dt
import hashlib
import hmac
import http.server
import json
import socket
import threading
import time
from email import policy
from email.parser import BytesParser

import sqlalchemy as sa
from aiosmtpd.controller import Controller

from control import accounts, exports
from control.models import connect, destinations, runs
from control.notifications import events
from control.secrets import Vault
from control.settings import load_settings

__all__ = ["WebhookReceiver", "MailServer", "control_plane", "saved_destination", "recurring_export", "end_attempt", "SECRET", "T0"]

SECRET = "whsec-0123456789abcdef"   # nosec B105  # a test webhook's secret
T0 = dt.datetime(2026, 11, 20)


def _signed(secret, header, body):
    """The receiver's own check, written as docs/notifications.md tells a customer to."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(time.time() - int(parts["t"])) <= 300


class WebhookReceiver:
    """POSTs to http://127.0.0.1:<port>/hook answered with `script`'s statuses in turn, then 200. Each
    request is kept as (status answered, headers, body, signature valid). With `hold` set, a request waits
    for it before answering (a slow receiver)."""

    def __init__(self, script=(), secret=SECRET, hold=None):
        self.script, self.secret, self.hold = list(script), secret, hold
        self.received, self.arrived = [], threading.Event()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                owner.arrived.set()
                if owner.hold is not None:
                    owner.hold.wait(60)
                status = owner.script.pop(0) if owner.script else 200
                owner.received.append((status, dict(self.headers), body,
                                       _signed(owner.secret, self.headers["EventExport-Signature"], body)))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_):
        if self.hold is not None:
            self.hold.set()
        self._server.shutdown()
        self._server.server_close()

    def events(self):
        return [json.loads(body)["type"] for _, _, body, _ in self.received]


class _Keep:
    def __init__(self):
        self.mails = []

    async def handle_DATA(self, server, session, envelope):
        self.mails.append((envelope.rcpt_tos, BytesParser(policy=policy.default).parsebytes(envelope.content)))
        return "250 OK"


class MailServer:
    """An SMTP server on 127.0.0.1 (aiosmtpd) keeping (recipients, message) of every mail, the message parsed
    by the standard library's own parser (an EmailMessage)."""

    def __init__(self):
        self._keep = _Keep()
        with socket.socket() as probe:   # Controller checks it is up by connecting to its port: it needs a number
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._controller = Controller(self._keep, hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self._controller.start()
        return self

    def __exit__(self, *_):
        self._controller.stop()

    @property
    def mails(self):
        return list(self._keep.mails)

    def settings(self):
        return {"EVENTEXPORT_SMTP_HOST": "127.0.0.1", "EVENTEXPORT_SMTP_PORT": str(self.port),
                "EVENTEXPORT_SMTP_TLS": "none", "EVENTEXPORT_SMTP_FROM": "exports@platform.example"}


def control_plane(db, tmp_path, **environ):
    """(engine, settings, vault) of a deployment on `db` with account `acme` (an admin, a destination row)."""
    settings = load_settings({"EVENTEXPORT_DB": db, "EVENTEXPORT_KEY_FILE": str(tmp_path / "master.key"),
                              "EVENTEXPORT_NOTIFY_TIMEOUT_SECONDS": "5", **environ})
    engine, vault = connect(db), Vault(settings)
    accounts.add_account(engine, account_id="acme", database_id="acme1", data_region="EU",
                         event_store=str(tmp_path / "events"))
    accounts.add_user(engine, account="acme", email="admin@acme.example", role="admin")
    saved_destination(engine, vault, "acme")
    return engine, settings, vault


def saved_destination(engine, vault, account):
    """A destination `acme` of `account`, saved as add_destination would, without its connection test."""
    with engine.begin() as connection:
        connection.execute(destinations.insert().values(
            account_id=account, name="acme", bucket="acme-bucket", prefix="", data_region="EU", path_style=False,
            sse="none", access_key_id_sealed=vault.seal("AKIAEXAMPLE"), secret_sealed=vault.seal("secret"),
            created_at=T0))


def recurring_export(engine, frequency="recurring", account="acme"):
    """An export of `account`, every 4 hours from T0 (or once, over the day before T0)."""
    if frequency == "once":
        return exports.create_export(engine, account, destination="acme", export_type="all_events", format="json",
                                     frequency="once", window_from=T0 - dt.timedelta(days=1), window_to=T0, now=T0)
    return exports.create_export(engine, account, destination="acme", export_type="all_events", format="json",
                                 frequency="recurring", every="4h", now=T0)


def end_attempt(engine, settings, request_id, status, window=0, rejected=0, error="the bucket refused us"):
    """One attempt of the export's `window`-th run ends `status` (Done or Failed), recorded as the scheduler
    records it, with the scheduler's hook in the same transaction; returns the (channel, event) pairs it queued."""
    start = T0 + dt.timedelta(hours=4 * window)
    with engine.begin() as connection:
        run = connection.execute(sa.select(runs).where((runs.c.request_id == request_id)
                                                       & (runs.c.window_start == start))).first()
        values = dict(status=status, error=None if status == "Done" else error, rejected=rejected,
                      rows=100, objects=1, bytes=1000, finished_at=start + dt.timedelta(hours=5),
                      next_attempt_at=None if status == "Done" else start + dt.timedelta(hours=6))
        if run is None:
            run_id = connection.execute(runs.insert().values(
                request_id=request_id, account_id="acme", window_start=start, window_end=start + dt.timedelta(hours=4),
                time_basis="capture", run_timestamp=(start + dt.timedelta(hours=4)).strftime("%Y%m%d%H%M%S"),
                attempts=1, **values)).inserted_primary_key[0]
        else:
            run_id = run.id
            connection.execute(runs.update().where(runs.c.id == run_id).values(attempts=runs.c.attempts + 1,
                                                                                **values))
        return events.run_ended(connection, settings, run_id)
