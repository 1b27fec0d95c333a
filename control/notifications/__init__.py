"""Notifications of an account: webhooks (webhooks.py, signed by signing.py, POSTed by http.py) and mail
(mail.py) on run events (events.py), queued in an outbox and sent beside the scheduler (outbox.py).

`Notifier` is all the scheduler knows of them: one call where a run's outcome has been recorded, and a
worker that sends what is queued while the scheduler runs.
"""

from control.notifications import events
from control.notifications.outbox import OutboxWorker

__all__ = ["Notifier"]


class Notifier:
    """The scheduler's side of notifications: `run_ended(run_id)` after a run's outcome is recorded, and the
    outbox's worker between `start()` and `stop()`."""

    def __init__(self, engine, settings, vault, warn=print):
        self.engine, self.settings, self.warn = engine, settings, warn
        self.worker = OutboxWorker(engine, settings, vault, warn)

    def start(self):
        self.worker.start()

    def stop(self):
        self.worker.stop()

    def run_ended(self, run_id):
        """Count the outcome (auto-pause) and queue its notifications; a failure here is reported and never
        undoes the run's recorded outcome."""
        try:
            if events.run_ended(self.engine, self.settings, run_id):
                self.worker.poke()
        except Exception as error:  # the outcome is recorded; only its news is lost
            self.warn(f"run {run_id}: notifications not queued: {type(error).__name__}: {error}")
