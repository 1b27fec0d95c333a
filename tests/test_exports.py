"""control/exports.py: the limits every surface shares, and the one-active-profile-export rule held by the
database against creators racing in separate processes, on SQLite and PostgreSQL."""

import datetime as dt
import multiprocessing

import pytest
import sqlalchemy as sa

from control import exports
from control.accounts import ensure_default_account
from control.errors import ConflictError
from control.models import connect, destinations, requests
from control.settings import load_settings
from tests.support.control_deployment import database  # noqa: F401 (a fixture)
from transforms.errors import ConfigError

NOW = dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc)
CREATORS = 6
ROUNDS = 4


@pytest.fixture
def plane(database):
    """A database URL with the default account and its destination `acme` (stored as is: no bucket needed)."""
    engine = connect(database)
    ensure_default_account(engine, load_settings({"EVENTEXPORT_DB": database}))
    with engine.begin() as connection:
        connection.execute(destinations.insert().values(
            account_id="default", name="acme", bucket="acme-exports", prefix="", data_region="EU",
            access_key_id_sealed="-", secret_sealed="-", created_at=NOW.replace(tzinfo=None)))
    yield database, engine
    engine.dispose()


def _profile_export(engine, frequency):
    window = {"once": {"window_from": NOW - dt.timedelta(days=2), "window_to": NOW - dt.timedelta(days=1)},
              "recurring": {"every": "24h"}}[frequency]
    return exports.create_export(engine, destination="acme", export_type="all_profiles", format="csv",
                                 frequency=frequency, now=NOW, **window)


def _create(url, frequency, barrier, outcomes):
    engine = connect(url)
    barrier.wait()
    try:
        outcomes.put(("created", _profile_export(engine, frequency)))
    except ConflictError as error:
        outcomes.put(("conflict", str(error)))
    except Exception as error:   # reported, so the test shows it instead of a hang
        outcomes.put(("failed", f"{type(error).__name__}: {error}"))
    finally:
        engine.dispose()


def test_creators_racing_in_processes_get_one_active_profile_export(plane):
    url, engine = plane
    context = multiprocessing.get_context("fork")
    for _ in range(ROUNDS):
        engine.dispose()   # no pooled connection is inherited by the creators
        barrier, outcomes = context.Barrier(CREATORS), context.Queue()
        creators = [context.Process(target=_create, args=(url, ("once", "recurring")[i % 2], barrier, outcomes))
                    for i in range(CREATORS)]
        for process in creators:
            process.start()
        results = [outcomes.get(timeout=120) for _ in creators]
        for process in creators:
            process.join(60)
        created = [value for kind, value in results if kind == "created"]
        assert len(created) == 1 and sorted(kind for kind, _ in results) == ["conflict"] * (CREATORS - 1) + [
            "created"], results
        assert all("stop it first" in value for kind, value in results if kind == "conflict")
        with engine.connect() as connection:
            active = connection.execute(sa.select(requests.c.id).where(
                (requests.c.export_type == "all_profiles") & (requests.c.status == "active"))).scalars().all()
        assert active == created
        exports.stop_export(engine, created[0])   # the next round starts from none


def test_a_profile_export_waits_for_the_active_one_whichever_kind_came_first(plane):
    _, engine = plane
    for first, second in (("recurring", "once"), ("once", "recurring")):
        request_id = _profile_export(engine, first)
        with pytest.raises(ConflictError, match=f"profile export {request_id} is active"):
            _profile_export(engine, second)
        exports.stop_export(engine, request_id)
    _profile_export(engine, "once")


@pytest.mark.parametrize("events, message", [
    ([f"event {i}" for i in range(exports.MAX_EVENTS + 1)], "at most 1,000 event names, not 1,001"),
    (["x" * (exports.MAX_EVENT_NAME_BYTES + 1)], "is 513 bytes long; an event name may be at most 512 bytes"),
    (["é" * 257], "is 514 bytes long"),
    (["a" * 1_000_000], "is 1,000,000 bytes long"),
])
def test_selections_over_the_limits_are_refused_naming_them(plane, events, message):
    _, engine = plane
    with pytest.raises(ConfigError, match=message) as refused:
        exports.create_export(engine, destination="acme", export_type="select_events", format="json",
                              frequency="recurring", every="6h", events=events, now=NOW)
    assert refused.value.field == "events" and len(str(refused.value)) < 300
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(requests)).scalar() == 0


def test_selections_at_the_limits_are_taken(plane):
    _, engine = plane
    names = [f"{i:04d}" + "n" * (exports.MAX_EVENT_NAME_BYTES - 4) for i in range(exports.MAX_EVENTS)]
    request_id = exports.create_export(engine, destination="acme", export_type="select_events", format="json",
                                       frequency="recurring", every="6h", events=names, now=NOW)
    assert exports.get_export(engine, request_id)["events"] == names
