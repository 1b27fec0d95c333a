"""Runs and windows: plan what is due, claim it in the database, hand it to the launcher, fairly.

Windows of a recurring request are on capture time, `[created + k*every, created + (k+1)*every)`:
contiguous by construction, so there is no gap and no overlap, and after downtime every missed window
is still there to catch up, in order. Within a request, a window runs only after the one before it is
Done, so a failing window is retried (with backoff) and never skipped, and only once the store holds
its data (control/readiness.py). Two schedulers may plan and claim at once: the unique (request,
window start) makes run creation idempotent, and a claim is an UPDATE that only one of them can win.
A claim carries a lease that the scheduler renews while the run goes; a scheduler that dies stops
renewing it, and once it lapses another scheduler takes the run over. Only the claim's holder records
the outcome (control/claims.py), and the pipeline dies with its scheduler (control/launcher.py), so a
window is never run by two at once.

One deployment serves many accounts, so a scheduler runs up to `max_concurrent_runs` runs at once, each
pipeline in its own process waited for on a thread, at most `max_runs_per_account` of one account (counted
in the database, so the bound holds across schedulers), and accounts take turns for free places: one
account's long run, or its long queue, never holds up another account's first run. A stopped export's
runs are never claimed again.
"""

import concurrent.futures
import datetime as dt
import functools
import itertools
import os
import socket
import time
import uuid

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from control.accounts import get_account
from control.claims import Heartbeat, RunStopped, finish, hand_back, report_progress, retry_delay
from control.destinations import get_destination, s3_settings
from control.launcher import run_export
from control.models import accounts, fetch_one, requests, runs, utc
from control.notifications import Notifier
from control.ops import metrics, shutdown
from control.readiness import StoreMarks, use_store_options
from transforms.runtime import logs

__all__ = ["plan_runs", "insert_run", "run_due", "run_forever", "claim_order", "claim_next", "Turns", "Scheduler",
           "retry_delay"]

_STAMP = "%Y%m%d%H%M%S"


def _windows(request, as_of):
    """Windows of `request` that have ended by `as_of`."""
    if request["frequency"] == "once":
        yield request["window_from"], request["window_to"], "event"
        return
    every = dt.timedelta(hours=request["every_hours"])
    start = request["created_at"]
    while start + every <= as_of:
        yield start, start + every, "capture"
        start += every


def insert_run(connection, request, start, end, basis, as_of, backfill=False):
    """Create the run of one window, Pending, unless it exists (its run timestamp: the window's end, or for a
    one-time export the moment it was planned)."""
    stamp = (as_of if request["frequency"] == "once" else end).strftime(_STAMP)
    try:
        with connection.begin_nested():
            connection.execute(runs.insert().values(
                request_id=request["id"], account_id=request["account_id"], window_start=start, window_end=end,
                time_basis=basis, run_timestamp=stamp, status="Pending", attempts=0, backfill=backfill))
    except IntegrityError:
        pass  # another scheduler created this window's run first; that is the point of the constraint


def plan_runs(engine, as_of, request_id=None):
    """Create the run of every window that has ended by `as_of` and has no run yet."""
    as_of = utc(as_of)
    query = sa.select(requests).where(requests.c.status == "active")
    if request_id:
        query = query.where(requests.c.id == request_id)
    with engine.begin() as connection:
        for request in [dict(r._mapping) for r in connection.execute(query)]:
            known = {r.window_start for r in connection.execute(
                sa.select(runs.c.window_start).where(runs.c.request_id == request["id"]))}
            for start, end, basis in _windows(request, as_of):
                if start not in known:
                    insert_run(connection, request, start, end, basis, as_of)


def _claimable(as_of, now):
    """A run that may be claimed now: new, failed and past its backoff, or its holder's lease lapsed; and
    its export still active (a stopped export's runs are never claimed again)."""
    return (((runs.c.status == "Pending")
             | ((runs.c.status == "Failed") & (runs.c.next_attempt_at <= as_of))
             | ((runs.c.status == "Running") & (runs.c.lease_until < now)))
            & runs.c.request_id.in_(sa.select(requests.c.id).where(requests.c.status == "active")))


def _next_due(connection, as_of, now, request_id):
    """The earliest unfinished run of each active request, if it may start now."""
    earliest = (sa.select(runs.c.request_id, sa.func.min(runs.c.window_start).label("start"))
                .where(runs.c.status.in_(["Pending", "Running", "Failed"])).group_by(runs.c.request_id).subquery())
    query = (sa.select(runs).join(earliest, (runs.c.request_id == earliest.c.request_id)
                                  & (runs.c.window_start == earliest.c.start))
             .where(_claimable(as_of, now)).order_by(runs.c.window_start, runs.c.id))
    if request_id:
        query = query.where(runs.c.request_id == request_id)
    return [dict(r._mapping) for r in connection.execute(query)]


def _going(account_id, now, besides=None):
    """How many runs of the account are going under a live claim (`besides` not counted)."""
    other = runs.alias("other")
    query = sa.select(sa.func.count()).select_from(other).where(
        (other.c.account_id == account_id) & (other.c.status == "Running") & (other.c.lease_until >= now))
    if besides is not None:
        query = query.where(other.c.id != besides)
    return query.scalar_subquery()


def _busy_accounts(connection, now, per_account):
    """Accounts with as many runs going as they may have."""
    going = connection.execute(sa.select(runs.c.account_id, sa.func.count()).where(
        (runs.c.status == "Running") & (runs.c.lease_until >= now)).group_by(runs.c.account_id))
    return {account for account, count in going if count >= per_account}


def claim_order(due, turns):
    """Due runs in the order to try them: accounts take turns, the one whose last claim is oldest first
    (`turns`: account -> when it was last claimed for, any increasing number; one never claimed for comes
    before all, the oldest due window first), and each account's runs oldest window first. The first of
    every account comes before the second of any, so a run that cannot start yet holds up nobody."""
    queues = {}
    for run in sorted(due, key=lambda r: (r["window_start"], r["id"])):
        queues.setdefault(run["account_id"], []).append(run)
    order = sorted(queues, key=lambda a: (turns.get(a, -1), queues[a][0]["window_start"], queues[a][0]["id"]))
    return [run for turn in itertools.zip_longest(*(queues[a] for a in order)) for run in turn if run is not None]


def _claim(engine, run, as_of, now, owner, lease, ceiling, per_account):
    """The run as claimed by `owner`, or None if another scheduler won it or its account has as many runs
    going as it may. The first claim fixes the capture ceiling; later ones (a retry, a takeover) keep it,
    read back, so every attempt reads the same records."""
    with engine.begin() as connection:
        # An account's claims take turns (PostgreSQL locks its row; SQLite runs one write at a time), so the
        # count below sees every claim made before it and two schedulers cannot both take the last place.
        connection.execute(sa.select(accounts.c.id).where(accounts.c.id == run["account_id"])
                           .with_for_update(key_share=True)).all()
        won = connection.execute(runs.update().where(
            (runs.c.id == run["id"]) & _claimable(as_of, now)
            & (_going(run["account_id"], now, besides=run["id"]) < per_account)).values(
            status="Running", claimed_by=owner, lease_until=now + lease, started_at=now, finished_at=None,
            last_progress=None, attempts=runs.c.attempts + 1,
            captured_before=sa.func.coalesce(runs.c.captured_before, sa.literal(ceiling, sa.BigInteger))))
        if won.rowcount != 1:
            return None
        fixed = connection.execute(sa.select(runs.c.captured_before).where(runs.c.id == run["id"])).scalar()
        return dict(run, captured_before=fixed)


def _note_waiting(engine, run, reason):
    """Say on a Pending run why it has not started (shown as its progress in the activity log)."""
    if run["last_progress"] != reason:
        with engine.begin() as connection:
            connection.execute(runs.update().where((runs.c.id == run["id"]) & (runs.c.status != "Running"))
                               .values(last_progress=reason))


def _execute(engine, settings, vault, run, owner, lease):
    """Run the pipeline of a claimed run (control/launcher.py), renewing its lease and keeping its progress."""
    request_id = run["request_id"]
    request = fetch_one(engine, requests.c.id, request_id, f"export request {request_id} has gone")
    account = get_account(engine, request["account_id"])
    destination = get_destination(engine, request["destination"], account["id"])
    credentials = s3_settings(destination, vault, account, request_id)
    with Heartbeat(engine, run, owner, lease) as beat:
        try:
            return run_export(settings, account, request, destination, run, credentials,
                              lambda line: report_progress(engine, run, owner, line), on_start=beat.watch)
        except Exception:
            if beat.lost == "Stopped":   # cancelled: we ended its pipeline
                raise RunStopped("cancelled while it ran; its pipeline was ended and wrote no manifest") from None
            raise


class Turns(dict):
    """Account -> when a run of it was last claimed, as an increasing number (for `claim_order`)."""

    def __init__(self):
        super().__init__()
        self._clock = itertools.count()

    def take(self, account_id):
        self[account_id] = next(self._clock)


def claim_next(engine, settings, owner, as_of, turns, marks=None, request_id=None):
    """Claim the next due run whose data is in, the accounts in `turns` (Turns, updated); note on the
    others why they wait. None when nothing more may start now."""
    now = utc(dt.datetime.now(dt.timezone.utc))
    marks = marks or StoreMarks(settings, as_of)
    with engine.connect() as connection:
        busy = _busy_accounts(connection, now, settings.max_runs_per_account)
        due = [run for run in _next_due(connection, as_of, now, request_id) if run["account_id"] not in busy]
        kinds = dict(connection.execute(sa.select(requests.c.id, requests.c.export_type).where(
            requests.c.id.in_({run["request_id"] for run in due}))).all()) if due else {}
        owners = {row.id: dict(row._mapping) for row in connection.execute(sa.select(accounts).where(
            accounts.c.id.in_({run["account_id"] for run in due})))} if due else {}
    for run in claim_order(due, turns):
        account, kind = owners[run["account_id"]], kinds[run["request_id"]]
        reason = marks.waiting_for(run, account, kind)
        if reason:
            _note_waiting(engine, run, reason)
            continue
        claimed = _claim(engine, run, as_of, now, owner, dt.timedelta(seconds=settings.lease_seconds),
                         marks.ceiling(run, account, kind), settings.max_runs_per_account)
        if claimed:
            turns.take(run["account_id"])
            return claimed
    return None


class Scheduler:
    """One scheduler's places for runs: claims what is due into free places, fairly, and runs each claim
    on a thread of its own that waits for its pipeline and records the outcome."""

    def __init__(self, engine, settings, vault, owner=None, log=print):
        self.engine, self.settings, self.vault, self.log = engine, settings, vault, log
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease = dt.timedelta(seconds=settings.lease_seconds)
        self.places = settings.max_concurrent_runs
        self.attempted = 0
        self._going = set()
        self._turns = Turns()
        self._pool = concurrent.futures.ThreadPoolExecutor(self.places, thread_name_prefix="run")
        self.notifier = Notifier(engine, settings, vault, warn=log)   # webhooks, mail, auto-pause
        use_store_options(settings)

    def __enter__(self):
        self.notifier.start()
        return self

    def __exit__(self, *_):
        self._pool.shutdown(wait=True)
        self.notifier.stop()

    @property
    def going(self):
        return len(self._going)

    def fill(self, as_of=None, request_id=None):
        """Claim due runs into the free places; return how many were claimed."""
        as_of = utc(as_of or dt.datetime.now(dt.timezone.utc))
        marks, claimed = StoreMarks(self.settings, as_of), 0
        while len(self._going) < self.places and not shutdown.requested():
            run = claim_next(self.engine, self.settings, self.owner, as_of, self._turns, marks, request_id)
            if run is None:
                break
            metrics.run_claimed(run, took_over=run["status"] == "Running")
            self.attempted, claimed = self.attempted + 1, claimed + 1
            self._going.add(self._pool.submit(self._run, run, as_of))
        return claimed

    def wait(self, timeout=None):
        """Until a run ends (or `timeout` seconds); an error in recording its outcome is raised here."""
        if not self._going:
            shutdown.wait(timeout or 0)
            return
        ended, self._going = concurrent.futures.wait(self._going, timeout,
                                                      return_when=concurrent.futures.FIRST_COMPLETED)
        for future in ended:
            future.result()

    def _run(self, claimed, as_of):
        window = f"[{claimed['window_start']:%Y-%m-%d %H:%M}, {claimed['window_end']:%Y-%m-%d %H:%M})"
        engine, owner, totals = self.engine, self.owner, None
        counted = functools.partial(self.notifier.run_ended, run_id=claimed["id"])   # in the outcome's transaction
        try:
            totals = _execute(engine, self.settings, self.vault, claimed, owner, self.lease)
        except RunStopped as error:   # already recorded Stopped by whoever cancelled it
            kept, status, outcome = True, "Stopped", f"Stopped: {error}"
        except Exception as error:  # every failure is recorded on the run and retried later
            if shutdown.ended_runs():   # we ended its pipeline: not the run's fault
                kept, status, outcome = hand_back(engine, claimed, owner), "handed_back", "handed back at shutdown"
            else:
                kept = finish(engine, claimed, owner, as_of, error=str(error) or type(error).__name__,
                              on_outcome=counted)
                status = kept or "Failed"   # Stopped when its export was stopped meanwhile
                outcome = f"{status}: {error}"
        else:
            kept, status = finish(engine, claimed, owner, as_of, totals=totals, on_outcome=counted), "Done"
            outcome = (f"Done, {totals['objects']} objects, {totals['rows']:,} rows, "
                       f"{totals['rejected']:,} rejected, {totals['bytes']:,} bytes; {totals['read']:,} read for "
                       f"the window, {totals['later']:,} left to later runs")
        metrics.run_ended(claimed, status if kept else "lapsed", totals if kept else None)
        if kept and status in ("Done", "Failed"):
            self.notifier.poke()   # the outcome's news was queued with it; send it now
        with logs.bind(account=claimed["account_id"], request_id=claimed["request_id"], run_id=claimed["id"]):
            self.log(f"run {claimed['request_id']} {window}: {outcome}" + (
                "" if kept else " (not recorded: its claim lapsed and another scheduler took the run over)"))


def run_due(engine, settings, vault, as_of=None, request_id=None, owner=None, log=print):
    """Plan and run everything due as of `as_of` (default now), then return how many runs were attempted."""
    as_of = utc(as_of or dt.datetime.now(dt.timezone.utc))
    with Scheduler(engine, settings, vault, owner, log) as scheduler:
        plan_runs(engine, as_of, request_id)
        while scheduler.fill(as_of, request_id) or scheduler.going:
            scheduler.wait()
        return scheduler.attempted


def run_forever(engine, settings, vault, interval, log=print, warn=print):
    """`eventexport scheduler`: plan every `interval` seconds, and fill a place as soon as a run ends,
    so one long run never keeps the others from what came due meanwhile, until a stop is asked for
    (control/ops/shutdown.py). A failed pass (a database restart) is reported through `warn` and tried
    again at the next interval; the runs going carry on."""
    with Scheduler(engine, settings, vault, log=log) as scheduler:
        next_plan = time.monotonic()
        while not shutdown.requested():
            try:
                if time.monotonic() >= next_plan:
                    next_plan = time.monotonic() + interval
                    plan_runs(engine, dt.datetime.now(dt.timezone.utc))
                    scheduler.fill()
                    metrics.pass_done(ok=True)
                else:
                    scheduler.fill()
            except Exception as error:  # the next interval retries
                metrics.pass_done(ok=False)
                warn(f"pass failed, retrying in {interval:.0f} s: {type(error).__name__}: "
                     f"{str(error).splitlines()[0] if str(error) else ''}")
            try:
                scheduler.wait(max(0.0, next_plan - time.monotonic()))
            except Exception as error:  # a run's outcome could not be recorded: its lease lapses, it runs again
                warn(f"a run's outcome was not recorded: {type(error).__name__}: {error}")
