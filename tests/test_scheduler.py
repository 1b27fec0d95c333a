"""control/scheduler.py: many accounts share the scheduler fairly, and no account holds up another.

Claims are checked on the real databases (SQLite, and PostgreSQL when EVENTEXPORT_TEST_POSTGRES_URL is
set), with concurrent claimers in separate processes; runs end to end go through real pipeline children
into the local S3 server. Nothing here measures time: the assertions are about order and counts (a
deadline only stops a test that hangs).
"""

import concurrent.futures
import datetime as dt
import multiprocessing
import os
import subprocess
import sys
import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from control import accounts, destinations, exports
from control.claims import finish
from control.models import connect, requests, runs
from control.scheduler import Turns, claim_next, claim_order, plan_runs, run_due
from control.secrets import Vault
from control.settings import load_settings
from devtools.generate import generate
from devtools.local_s3 import provision_least_privilege
from tests.support.control_deployment import database  # noqa: F401 (a fixture: a new database of each kind)
from tests.support.exports import REPO
from tests.support.s3_faults import FaultProxy
from tests.support.stores import read_generated_events
from transforms.sinks.endpoint_guard import ALLOW_PRIVATE_ENV

STORE_END = dt.date(2026, 11, 27)
T0 = dt.datetime(2026, 11, 28, tzinfo=dt.timezone.utc)     # the store's mark says complete before this
DAY = dt.datetime(2026, 11, 26)                               # the store holds this day and the one after
DEADLINE_SECONDS = 300   # only a hung test waits this long; nothing here measures time
DONE = {"objects": 0, "rows": 0, "bytes": 0, "rejected": 0, "read": 0, "later": 0, "rejected_by_reason": {}}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("scheduler-store")
    generate(str(root), 300, 2, "parquet", seed=7, end=STORE_END)
    return root / "events"


@pytest.fixture(scope="module")
def bucket(server):
    name = f"sched-{uuid.uuid4().hex[:8]}"
    return name, provision_least_privilege(server, name, region="eu-west-1")


def _deployment(db, tmp_path, store, **environ):
    settings = load_settings({"EVENTEXPORT_DB": db, "EVENTEXPORT_KEY_FILE": str(tmp_path / "master.key"),
                              "EVENTEXPORT_EVENT_STORE": str(store), "EVENTEXPORT_MANIFESTS": str(tmp_path / "m"),
                              **environ})
    return connect(db), settings


def _account(engine, settings, store, name, bucket, endpoint_url):
    accounts.add_account(engine, account_id=name, event_store=str(store), database_id=name.replace("-", ""),
                         data_region="EU")
    bucket_name, key = bucket
    destinations.add_destination(engine, Vault(settings), name, name="acme", bucket=bucket_name, data_region="EU",
                                 access_key_id=key.access_key_id, secret_access_key=key.secret_access_key,
                                 prefix=name, endpoint_url=endpoint_url, path_style=True)


def _export(engine, account, hours, events=()):
    """A one-time export of DAY's hours [first, last); all_events unless `events` are named."""
    first, last = hours
    return exports.create_export(engine, account, destination="acme", export_type="select_events" if events
                                 else "all_events", events=events, format="json", frequency="once",
                                 window_from=DAY + dt.timedelta(hours=first), window_to=DAY + dt.timedelta(hours=last),
                                 now=T0)


def _runs(engine):
    with engine.connect() as connection:
        return {row.request_id: dict(row._mapping) for row in connection.execute(sa.select(runs))}


def _accounts_with_runs(engine, settings, store, bucket, server, queued):
    """Accounts named in `queued` (account -> how many one-time exports), each export's window later than
    the one before, in the order given; returns {request id: (account, n)}."""
    made, hour = {}, 0
    for account, count in queued.items():
        _account(engine, settings, store, account, bucket, server.endpoint_url)
        for n in range(count):
            made[_export(engine, account, (hour, hour + 1))] = (account, n + 1)
            hour += 1
    plan_runs(engine, T0)
    return made


@pytest.mark.parametrize("due, turns, order", [
    # never claimed for: the account with the oldest due window first, then each account in turn
    ([("a", 1), ("a", 2), ("a", 3), ("b", 4), ("b", 5), ("c", 6)], {}, ["a1", "b4", "c6", "a2", "b5", "a3"]),
    # the account served least recently goes first, whatever its windows
    ([("a", 1), ("b", 2), ("c", 3)], {"a": 5, "b": 2}, ["c3", "b2", "a1"]),
    # within an account, oldest window first, however the runs arrive
    ([("a", 3), ("a", 1), ("b", 2)], {}, ["a1", "b2", "a3"]),
])
def test_claim_order_is_round_robin_across_accounts_and_oldest_first_within_one(due, turns, order):
    rows = [{"account_id": a, "window_start": dt.datetime(2026, 1, 1, hour), "id": hour} for a, hour in due]
    assert [f"{r['account_id']}{r['id']}" for r in claim_order(rows, turns)] == order


def test_accounts_take_turns_for_claims(tmp_path, store, bucket, server):
    engine, settings = _deployment(f"sqlite:///{tmp_path}/e.db", tmp_path, store)
    made = _accounts_with_runs(engine, settings, store, bucket, server, {"a": 3, "b": 2, "c": 1})
    turns, order = Turns(), []
    while (run := claim_next(engine, settings, "me", T0, turns)) is not None:
        order.append(made[run["request_id"]])
        assert finish(engine, run, "me", T0, totals=DONE)
    assert order == [("a", 1), ("b", 1), ("c", 1), ("a", 2), ("b", 2), ("a", 3)]   # not a's three first


def test_an_account_has_at_most_its_cap_of_runs_going(tmp_path, store, bucket, server):
    engine, settings = _deployment(f"sqlite:///{tmp_path}/e.db", tmp_path, store,
                                   EVENTEXPORT_MAX_RUNS_PER_ACCOUNT="2")
    made = _accounts_with_runs(engine, settings, store, bucket, server, {"a": 3, "b": 2, "c": 1})
    turns, claimed = Turns(), []
    while (run := claim_next(engine, settings, "me", T0, turns)) is not None:
        claimed.append(made[run["request_id"]])
    assert claimed == [("a", 1), ("b", 1), ("c", 1), ("a", 2), ("b", 2)]   # a's third waits for a place
    status = {made[request]: row["status"] for request, row in _runs(engine).items()}
    assert status[("a", 3)] == "Pending"


def _claim_all(db, store, tmp_path, owner, start):
    """One scheduler process: claim until nothing more may start (never finishing a run)."""
    engine, settings = _deployment(db, tmp_path, store, EVENTEXPORT_MAX_RUNS_PER_ACCOUNT="2")
    start.wait()
    turns, claimed = Turns(), []
    while (run := claim_next(engine, settings, owner, T0, turns)) is not None:
        claimed.append(run["id"])
    return claimed


@pytest.mark.slow
def test_concurrent_schedulers_never_claim_a_run_twice_nor_past_an_account_s_cap(database, tmp_path, store, bucket,
                                                                                 server):
    engine, settings = _deployment(database, tmp_path, store)
    _accounts_with_runs(engine, settings, store, bucket, server, {f"acct-{n}": 3 for n in range(4)})
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        start = manager.Barrier(3)    # all three claim at once
        with concurrent.futures.ProcessPoolExecutor(3, mp_context=context) as pool:
            claimers = [pool.submit(_claim_all, database, store, tmp_path, f"scheduler-{n}", start) for n in range(3)]
            claimed = [run_id for claimer in claimers for run_id in claimer.result(timeout=DEADLINE_SECONDS)]
    assert len(claimed) == len(set(claimed)) == 8           # no run twice; two of each account's three
    going = _runs(engine).values()
    per_account = {}
    for row in going:
        per_account[row["account_id"]] = per_account.get(row["account_id"], 0) + (row["status"] == "Running")
    assert per_account == {f"acct-{n}": 2 for n in range(4)}
    assert {row["id"] for row in going if row["status"] == "Running"} == set(claimed)


def _wait_until(engine, test):
    give_up = time.monotonic() + DEADLINE_SECONDS
    while True:
        rows = _runs(engine)
        if test(rows):
            return rows
        assert time.monotonic() < give_up, f"never got there; the runs: {rows}"
        time.sleep(0.2)


@pytest.mark.slow   # a proxy holds one account's uploads until the others are done
def test_one_account_s_long_queue_holds_up_no_other_account(tmp_path, store, bucket, server):
    """`slow` queues three runs first; each of its uploads waits at a gate that opens only once `quick`
    and `third` are Done. Two places, one run per account: so quick runs beside slow's first run, and
    third takes quick's place when it ends."""
    engine, settings = _deployment(f"sqlite:///{tmp_path}/e.db", tmp_path, store,
                                   EVENTEXPORT_MAX_CONCURRENT_RUNS="2", **{ALLOW_PRIVATE_ENV: "true"})   # the proxy is local
    gate = threading.Event()
    gate.set()                                   # open while the destination's connection test runs
    proxy = FaultProxy(server.endpoint_url, on_request=lambda _operation, _number: gate.wait())
    with proxy:
        _account(engine, settings, store, "slow", bucket, proxy.endpoint_url)
        slow = [_export(engine, "slow", (hour, hour + 1)) for hour in range(3)]
        gate.clear()
        _account(engine, settings, store, "quick", bucket, server.endpoint_url)
        quick = _export(engine, "quick", (3, 4))
        _account(engine, settings, store, "third", bucket, server.endpoint_url)
        third = _export(engine, "third", (4, 5))
        done = []
        scheduler = threading.Thread(target=lambda: done.append(run_due(engine, settings, Vault(settings), T0,
                                                                         log=lambda _line: None)))
        scheduler.start()
        try:
            seen = _wait_until(engine, lambda rows: rows.get(quick, {}).get("status") == "Done"
                               and rows.get(third, {}).get("status") == "Done")
        finally:
            gate.set()
            scheduler.join(DEADLINE_SECONDS)
    assert [seen[r]["status"] for r in slow] == ["Running", "Pending", "Pending"]   # slow's first still going
    assert done == [5]
    final = _runs(engine)
    assert all(row["status"] == "Done" and row["attempts"] == 1 for row in final.values()), final
    assert final[third]["started_at"] >= final[quick]["finished_at"]        # two places: third waited for one
    for earlier, later in zip(slow, slow[1:]):                              # one of slow's at a time, in order
        assert final[later]["started_at"] >= final[earlier]["finished_at"]
    assert final[quick]["finished_at"] < final[slow[0]]["finished_at"]


@pytest.mark.slow   # a proxy holds one account's uploads until the other's export is done
def test_the_scheduler_starts_a_new_export_while_a_long_run_goes(tmp_path, store, bucket, server):
    """`eventexport scheduler` keeps planning while a run goes: an export created during another account's
    long run is run beside it, not after it."""
    db = f"sqlite:///{tmp_path}/e.db"
    engine, settings = _deployment(db, tmp_path, store)
    gate = threading.Event()
    gate.set()
    with FaultProxy(server.endpoint_url, on_request=lambda _operation, _number: gate.wait()) as proxy:
        _account(engine, settings, store, "slow", bucket, proxy.endpoint_url)
        slow = _export(engine, "slow", (0, 1))
        gate.clear()
        _account(engine, settings, store, "quick", bucket, server.endpoint_url)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "EVENTEXPORT_"))}
        env.update(PYTHONPATH=REPO, EVENTEXPORT_DB=db, EVENTEXPORT_KEY_FILE=str(tmp_path / "master.key"),
                   EVENTEXPORT_EVENT_STORE=str(store), EVENTEXPORT_MANIFESTS=str(tmp_path / "m"),
                   EVENTEXPORT_MAX_CONCURRENT_RUNS="2", **{ALLOW_PRIVATE_ENV: "true"})   # the proxy is local
        scheduler = subprocess.Popen([sys.executable, "-m", "control.cli", "scheduler", "--interval", "0.5"], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            _wait_until(engine, lambda rows: rows.get(slow, {}).get("status") == "Running")
            quick = _export(engine, "quick", (1, 2))
            seen = _wait_until(engine, lambda rows: rows.get(quick, {}).get("status") in ("Done", "Failed"))
            gate.set()
            final = _wait_until(engine, lambda rows: rows[slow]["status"] in ("Done", "Failed"))
        finally:
            gate.set()
            scheduler.terminate()
            out, err = scheduler.communicate(timeout=DEADLINE_SECONDS)
    assert (seen[quick]["status"], seen[slow]["status"]) == ("Done", "Running"), err
    assert final[slow]["status"] == "Done" and out.count(f"run {slow} ") == out.count(f"run {quick} ") == 1, out


@pytest.mark.slow
def test_ten_thousand_event_names_run_to_done(tmp_path, store, bucket, server):
    """The names travel in a file, not on the child's command line (control/launcher.py), and only the
    steps that read them carry them (transforms/runtime/base_dofn.py). The export is saved directly: new
    exports may be limited to fewer names, but one saved before such a limit must still run."""
    engine, settings = _deployment(f"sqlite:///{tmp_path}/e.db", tmp_path, store)
    _account(engine, settings, store, "many", bucket, server.endpoint_url)
    names = ["Charged"] + [f"not in the store {n:05d} " + "·" * 100 for n in range(9_999)]
    request = _export(engine, "many", (0, 24), events=["Charged"])
    with engine.begin() as connection:
        connection.execute(requests.update().where(requests.c.id == request).values(events=names))
    assert run_due(engine, settings, Vault(settings), T0, log=lambda _line: None) == 1
    run = _runs(engine)[request]
    start = int(DAY.replace(tzinfo=dt.timezone.utc).timestamp() * 1000)
    charged = sum(1 for row in read_generated_events(store)
                  if row["event_name"] == "Charged" and start <= row["event_time"] < start + 86_400_000)
    assert charged > 0 and (run["status"], run["rows"]) == ("Done", charged), run
