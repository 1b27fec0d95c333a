"""Webhook signatures: HMAC-SHA256 with the webhook's secret over `<timestamp>.<body>`.

The header `EventExport-Signature: t=<unix seconds>,v1=<hex digest>` carries the timestamp it signs, so a
receiver checks both the body (nothing altered) and the time (an old delivery captured and replayed is
refused once it is older than the receiver's tolerance). Every attempt of a delivery signs afresh with
its own time; the body, and the event id in it, stay the same, so a receiver can drop a repeat.
docs/notifications.md has the receiver's side in a few lines of Python.
"""

import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "TOLERANCE_SECONDS", "signature", "verify"]

SIGNATURE_HEADER = "EventExport-Signature"
# A receiver's default window for the timestamp: wide enough for clock skew and a slow network, narrow
# enough that a captured request is useless soon after.
TOLERANCE_SECONDS = 300


def _digest(secret, timestamp, body):
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature(secret, body, timestamp):
    """The header value for `body` (bytes) sent at `timestamp` (whole unix seconds)."""
    return f"t={int(timestamp)},v1={_digest(secret, int(timestamp), body)}"


def verify(secret, header, body, now, tolerance=TOLERANCE_SECONDS):
    """True when `header` signs `body` with `secret` at a time within `tolerance` seconds of `now`."""
    try:
        parts = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(parts["t"])
    except (AttributeError, KeyError, ValueError):
        return False
    return abs(now - timestamp) <= tolerance and hmac.compare_digest(parts.get("v1", ""),
                                                                     _digest(secret, timestamp, body))
