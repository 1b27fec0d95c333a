"""control/passwords.py: at least 12 characters, not easy to guess (zxcvbn), at most 128; argon2id kept."""

import pytest

from control.passwords import check_password, hash_password, verify_password
from transforms.errors import ConfigError


@pytest.mark.parametrize("password, message", [
    ("", "too short: use at least 12 characters"),
    ("aaaaaaaaaa", "too short"),
    ("aaaaaaaaaaaa", "too easy to guess: Repeats like"),
    ("password1234", "too easy to guess"),
    ("qwertyuiop123", "too easy to guess"),
    ("123456789012", "too easy to guess"),
    ("ann.smith@example.com", "too easy to guess"),
    ("x" * 129, "129 characters long; the most allowed is 128"),
])
def test_weak_passwords_are_refused_saying_why(password, message):
    with pytest.raises(ConfigError, match=message) as refused:
        check_password(password, "ann.smith@example.com")
    assert refused.value.field == "password"


@pytest.mark.parametrize("password", ["correct horse battery staple", "viewer-password-globex",
                                      "plum tractor window 1987 ferry", "é" * 4 + " grüne Wiese am Fluss"])
def test_passphrases_pass(password):
    check_password(password, "ann.smith@example.com")


def test_hashes_are_argon2id_and_verify():
    stored = hash_password("correct horse battery staple")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "correct horse battery staple")
    assert not verify_password(stored, "correct horse battery stapler")
    assert not verify_password(None, "")   # a token-only user has no password to match
