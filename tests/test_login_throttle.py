"""control/login_throttle.py through control.accounts.authenticate: failed log-ins wait per e-mail and per
client address, the right password included, across API processes (two engines on one database, SQLite
and PostgreSQL), and each lock-out is logged. Time is passed in, never waited for."""

import datetime as dt
import logging
import multiprocessing

import pytest
import sqlalchemy as sa

from control import accounts, login_throttle
from control.errors import AuthenticationError, TooManyAttemptsError
from control.models import connect
from control.settings import load_settings
from tests.support.control_deployment import database  # noqa: F401 (a fixture)

PASSWORD = "correct horse battery staple"
T0 = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def url(database):
    engine = connect(database)
    accounts.ensure_default_account(engine, load_settings({"EVENTEXPORT_DB": database}))
    for email in ("ann@example.com", "bob@example.com"):
        accounts.add_user(engine, account="default", email=email, role="admin", password=PASSWORD)
    engine.dispose()
    return database


def _try(engine, password, at, email="ann@example.com", client="203.0.113.7"):
    try:
        accounts.authenticate(engine, email, password, client, now=T0 + at)
        return "ok"
    except TooManyAttemptsError as error:
        return error.retry_after
    except AuthenticationError:
        return "wrong"


def test_five_failures_then_every_try_waits_even_the_right_password(url, caplog):
    first, second = connect(url), connect(url)   # two API processes' engines
    caplog.set_level(logging.WARNING, logger="eventexport.security")
    answers = [_try((first, second)[i % 2], "wrong password!", dt.timedelta(seconds=i)) for i in range(30)]
    assert answers[:5] == ["wrong"] * 5
    assert all(isinstance(answer, int) and 0 < answer <= 30 for answer in answers[5:]), answers
    assert _try(second, PASSWORD, dt.timedelta(seconds=29)) == 5   # the right one waits too: locked at 4 s, for 30
    assert [r.getMessage() for r in caplog.records] == [
        "log-in locked: email:ann@example.com after 5 failures in a row; the next try waits 30 s"]
    assert _try(first, PASSWORD, dt.timedelta(seconds=34)) == "ok"   # the wait is over
    assert _try(first, "wrong again!", dt.timedelta(seconds=35)) == "wrong"   # and the count starts afresh
    first.dispose(), second.dispose()


@pytest.mark.slow
def test_the_wait_doubles_with_each_failure_after_it(url):
    engine = connect(url)
    at = dt.timedelta(0)
    for _ in range(login_throttle.FREE_FAILURES):
        assert _try(engine, "wrong password!", at) == "wrong"
    waits = []
    for _ in range(8):
        wait = _try(engine, "wrong password!", at)
        waits.append(wait)
        at += dt.timedelta(seconds=wait)
        assert _try(engine, "wrong password!", at) == "wrong"   # the wait has passed: one more try, which fails
    assert waits == [30, 60, 120, 240, 480, 960, 1800, 1800]   # doubling, at most 30 minutes
    engine.dispose()


@pytest.mark.slow
def test_one_address_guessing_many_emails_waits_too(url):
    engine = connect(url)
    for number in range(login_throttle.FREE_FAILURES_PER_CLIENT):
        assert _try(engine, "wrong password!", dt.timedelta(seconds=number), email=f"guess{number}@example.com") \
            == "wrong"
    assert isinstance(_try(engine, PASSWORD, dt.timedelta(seconds=30), email="bob@example.com"), int)
    assert _try(engine, PASSWORD, dt.timedelta(seconds=30), email="bob@example.com", client="198.51.100.1") == "ok"
    engine.dispose()


def _fail(url, barrier, count):
    engine = connect(url)
    barrier.wait()
    for _ in range(count):
        _try(engine, "wrong password!", dt.timedelta(0))
    engine.dispose()


def test_failures_from_processes_at_once_are_all_counted(url):
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(4)
    workers = [context.Process(target=_fail, args=(url, barrier, 2)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    engine = connect(url)
    with engine.connect() as connection:
        counted = dict(connection.execute(sa.text("SELECT key, failures FROM login_failures")).all())
    # 8 tries at once: the 5 before the lock all counted (tries after it are refused unchecked, uncounted)
    assert counted["email:ann@example.com"] >= login_throttle.FREE_FAILURES
    assert isinstance(_try(engine, PASSWORD, dt.timedelta(seconds=1)), int)
    engine.dispose()
