"""Failed log-ins slow the next ones, per e-mail and per client address, across every API process.

After `FREE_FAILURES` failures in a row for an e-mail (or `FREE_FAILURES_PER_CLIENT` from one address,
which many users may share behind one NAT), every log-in for it waits: `FIRST_WAIT`, doubling with each
further failure, at most `LONGEST_WAIT`. While it waits, no password is even checked, the right one
included, and the answer is 429 with `Retry-After`. The count lives in the database (table
login_failures), so every API process and every scheduler host sees the same one; increments are one
UPDATE each, so concurrent failures are all counted. A success clears the e-mail's count (not the
address's, which another user's success must not clear); a count untouched for `FORGET_AFTER` starts over.
Each lock-out is logged (logger eventexport.security) with the key and the wait, never the password.
"""

import datetime as dt
import logging

import sqlalchemy as sa

from control.errors import TooManyAttemptsError
from control.models import login_failures, utc

__all__ = ["FREE_FAILURES", "FREE_FAILURES_PER_CLIENT", "FIRST_WAIT", "LONGEST_WAIT", "FORGET_AFTER", "wait_after",
           "check", "record_failure", "record_success"]

FREE_FAILURES = 5
FREE_FAILURES_PER_CLIENT = 20
FIRST_WAIT = dt.timedelta(seconds=30)
LONGEST_WAIT = dt.timedelta(minutes=30)
FORGET_AFTER = dt.timedelta(hours=24)
_log = logging.getLogger("eventexport.security")


def _now(now):
    return utc(now or dt.datetime.now(dt.timezone.utc))


def _keys(email, client):
    """(key, failures allowed before a wait) for the e-mail and, when known, the client's address."""
    keys = [(f"email:{email}"[:300], FREE_FAILURES)]
    if client:
        keys.append((f"client:{client}"[:300], FREE_FAILURES_PER_CLIENT))
    return keys


def wait_after(failures, free):
    """How long log-ins wait after `failures` failures in a row, `free` of them allowed without a wait."""
    if failures < free:
        return dt.timedelta(0)
    return min(FIRST_WAIT * 2 ** min(failures - free, 20), LONGEST_WAIT)


def check(engine, email, client=None, now=None):
    """TooManyAttemptsError while the e-mail or the address must wait; else nothing."""
    now = _now(now)
    with engine.connect() as connection:
        locked = connection.execute(sa.select(sa.func.max(login_failures.c.locked_until)).where(
            login_failures.c.key.in_([key for key, _ in _keys(email, client)]))).scalar()
    if locked and locked > now:
        seconds = max(1, int((locked - now).total_seconds() + 0.999))
        raise TooManyAttemptsError(f"too many failed log-ins for this e-mail or from this address; try again in "
                                   f"{seconds} seconds", retry_after=seconds)


def record_failure(engine, email, client=None, now=None):
    """Count a failed log-in for the e-mail and the address; start their wait when they have run out."""
    now = _now(now)
    with engine.begin() as connection:
        for key, free in _keys(email, client):
            row = login_failures.c
            stale = row.last_failure < now - FORGET_AFTER
            counted = connection.execute(login_failures.update().where(row.key == key).values(
                failures=sa.case((stale, 1), else_=row.failures + 1), last_failure=now)).rowcount
            if not counted:
                try:
                    with connection.begin_nested():
                        connection.execute(login_failures.insert().values(key=key, failures=1, last_failure=now))
                except sa.exc.IntegrityError:   # another process counted this key's first failure at once
                    connection.execute(login_failures.update().where(row.key == key).values(
                        failures=row.failures + 1, last_failure=now))
            failures = connection.execute(sa.select(row.failures).where(row.key == key)).scalar()
            wait = wait_after(failures, free)
            if wait:
                connection.execute(login_failures.update().where(row.key == key).values(locked_until=now + wait))
                _log.warning("log-in locked: %s after %d failures in a row; the next try waits %d s", key, failures,
                             wait.total_seconds())


def record_success(engine, email):
    """A right password: the e-mail starts afresh."""
    with engine.begin() as connection:
        connection.execute(login_failures.delete().where(login_failures.c.key == f"email:{email}"[:300]))
