"""control/notifications/signing.py: what a receiver accepts and what it refuses."""

import hashlib
import hmac

import pytest

from control.notifications.signing import signature, verify

SECRET, BODY, T = "whsec-0123456789abcdef", b'{"type": "run.done"}', 1_796_000_000   # nosec B105


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body():
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert signature(SECRET, BODY, T) == f"t={T},v1={expected}"


@pytest.mark.parametrize("secret, body, now, header, accepted", [
    (SECRET, BODY, T, None, True),
    (SECRET, BODY, T + 299, None, True),                  # within the tolerance
    (SECRET, BODY, T + 301, None, False),                 # a replay, too late
    (SECRET, BODY, T - 301, None, False),                 # from the future
    ("another-secret-of-16+", BODY, T, None, False),
    (SECRET, BODY + b" ", T, None, False),                # the body altered
    (SECRET, BODY, T, f"t={T + 1},v1=" + "0" * 64, False),   # the timestamp altered
    (SECRET, BODY, T, "v1=abc", False),                   # no timestamp
    (SECRET, BODY, T, "garbage", False),
    (SECRET, BODY, T, "", False),
])
def test_a_receiver_accepts_only_a_fresh_signature_of_the_same_body(secret, body, now, header, accepted):
    sent = signature(SECRET, BODY, T)
    assert verify(secret, sent if header is None else header, body, now) is accepted
