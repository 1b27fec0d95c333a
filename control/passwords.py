"""Passwords: the rule a new one must meet, and how they are kept (argon2id).

At least 12 characters and not easy to guess: zxcvbn (a maintained estimator built on lists of leaked
passwords, common words and names, keyboard walks, dates and repeats) must rate it 3 of 4 or better,
"safely unguessable" against an attacker who holds the hashes. `aaaaaaaaaaaa`, `password1234` and the
user's own e-mail fail; a passphrase of unrelated words passes. Argon2id is slow on purpose, so a
stolen table cannot be brute-forced cheaply.
"""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from transforms.errors import ConfigError

__all__ = ["MIN_PASSWORD_LENGTH", "MAX_PASSWORD_LENGTH", "check_password", "hash_password", "verify_password"]

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128   # a passphrase fits; a megabyte "password" is not hashed on every try
_MIN_SCORE = 3
_SCORED_CHARACTERS = 72     # zxcvbn's own limit (its time grows with the length); the rest only adds strength
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("a password nobody has")   # verified against when no such user, so timing tells nothing


def check_password(password, email=None):
    """ConfigError (field `password`) unless `password` meets the rule; the message says how to meet it."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise ConfigError(f"The password is too short: use at least {MIN_PASSWORD_LENGTH} characters, e.g. a few "
                          "unrelated words", field="password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ConfigError(f"The password is {len(password)} characters long; the most allowed is "
                          f"{MAX_PASSWORD_LENGTH}", field="password")
    inputs = [email] + (email or "").replace("@", " ").replace(".", " ").split() if email else []
    verdict = zxcvbn(password[:_SCORED_CHARACTERS], user_inputs=inputs)
    if verdict["score"] < _MIN_SCORE:
        why = verdict["feedback"]["warning"] or "It is among the patterns and passwords tried first"
        raise ConfigError(f"The password is too easy to guess: {why.rstrip('.')}. Use a longer phrase of unrelated "
                          "words, not a common password, a name, a date or your e-mail", field="password")


def hash_password(password):
    return _hasher.hash(password)


def verify_password(stored, password):
    """Whether `password` matches the argon2 hash `stored` (None: no password; a dummy is verified so that
    the answer takes as long as for a real user)."""
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password or "") and stored is not None
    except (VerificationError, InvalidHashError):
        return False
