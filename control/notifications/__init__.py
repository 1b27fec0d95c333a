"""Notifications of an account: webhooks (webhooks.py, signed by signing.py, POSTed by http.py) and mail
(mail.py) on run events (events.py), queued in an outbox and sent beside the scheduler (outbox.py).

`Notifier` is all the scheduler knows of them: one call in the transaction that records a run's outcome, and
a worker that sends what is queued while the scheduler runs.
"""

from control.notifications import events
from control.notifications.outbox import OutboxWorker

__all__ = ["Notifier"]


class Notifier:
    """The scheduler's side of notifications: `run_ended(connection, run_id)` in the transaction that records a
    run's outcome, `poke()` after it, and the outbox's worker between `start()` and `stop()`."""

    def __init__(self, engine, settings, vault, warn=print):
        self.engine, self.settings, self.warn = engine, settings, warn
        self.worker = OutboxWorker(engine, settings, vault, warn)

    def start(self):
        self.worker.start()

    def stop(self):
        self.worker.stop()

    def run_ended(self, connection, run_id):
        """Count the outcome of run `run_id` (auto-pause) and queue its notifications, in the transaction of
        `connection` that records the outcome. A failure here is reported and rolled back to its savepoint,
        never undoing the outcome."""
        try:
            with connection.begin_nested():
                events.run_ended(connection, self.settings, run_id)
        except Exception as error:  # the outcome is recorded; only its news is lost
            self.warn(f"run {run_id}: notifications not queued: {type(error).__name__}: {error}")

    def poke(self):
        """After the outcome's transaction: send what it queued now, not at the worker's next look."""
        self.worker.poke()
