"""The notification endpoints' bodies (api/routes/notifications.py). A webhook's secret is write-only: it is
in `WebhookIn` and in no response model."""

from pydantic import BaseModel, Field

from api.schemas import Text, _In
from control.notifications.events import EVENTS
from control.notifications.webhooks import MAX_SECRET_CHARS, MIN_SECRET_CHARS

__all__ = ["WebhookIn", "Webhook", "Delivery", "NotificationSettings"]


class WebhookIn(_In):
    url: Text = Field(description="http:// or https://; its host must resolve to public addresses")
    secret: Text = Field(description=f"{MIN_SECRET_CHARS} to {MAX_SECRET_CHARS} characters; signs every delivery "
                                     "(docs/notifications.md); write-only: stored encrypted, never returned",
                         json_schema_extra={"writeOnly": True, "format": "password"})
    reject_threshold: int | None = Field(None, description="send run.rejects when a Done run rejects more records "
                                                           "than this; empty: never")


class Webhook(BaseModel):
    id: int
    url: str
    reject_threshold: int | None
    created_at: str


class Delivery(BaseModel):
    id: int
    event_id: str = Field(description="the payload's `id`, the same on every attempt: a receiver's idempotency key")
    event: str = Field(description=", ".join(EVENTS))
    channel: str = Field(description="webhook | email")
    webhook_id: int | None
    recipients: list[str] | None
    status: str = Field(description="pending (due again at next_attempt_at) | sending | delivered | failed "
                                    "(given up after the deployment's notify_max_attempts)")
    attempts: int
    answer: int | None = Field(description="the receiver's HTTP status at the last attempt")
    error: str | None = Field(description="why the last attempt failed")
    created_at: str
    next_attempt_at: str | None
    finished_at: str | None


class NotificationSettings(_In):
    email_to: list[Text] | None = Field(None, description="who gets the account's mail; empty: its admins")
    pause_after: int | None = Field(None, description="failed runs in a row after which a recurring export is "
                                                      "paused; empty: the deployment's default (5)")
