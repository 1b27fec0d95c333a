"""Prometheus metrics of the control plane, in the text format at `/metrics` (the API server, and the
scheduler's metrics port).

Counted where the work happens, in the scheduler process: runs finished (by account and outcome), their
duration, the objects, rows, bytes and rejected records they exported, lease renewals (the scheduler's
heartbeat), lease takeovers, passes, and S3 retries by kind (the pipeline runs in a child process, so
these come from its summary). Read from the database at each scrape (state_metrics.py): runs by status
and the age of the oldest due window. Labels take a bounded set of values (account ids, statuses,
outcomes, retry kinds), never a request or run id. docs/deployment.md lists every metric.
"""

import time

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, GCCollector, Histogram,
                               PlatformCollector, ProcessCollector, generate_latest)

from control.ops.state_metrics import StateCollector
from transforms.sinks.s3 import RETRY_KINDS

__all__ = ["registry", "exposition", "CONTENT_TYPE", "run_claimed", "run_ended", "heartbeat", "pass_done"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
# seconds: a small account's run takes seconds, a large one's hours
_DURATION_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 16 * 3600, 24 * 3600)

RUNS_FINISHED = Counter("eventexport_runs_finished", "Runs this scheduler ended, by account and outcome (Done, "
                        "Failed, handed_back at shutdown, lapsed: taken over by another)", ["account", "outcome"],
                        registry=None)
RUN_DURATION = Histogram("eventexport_run_duration_seconds", "How long a run's pipeline took, claim to outcome",
                         ["account", "outcome"], buckets=_DURATION_BUCKETS, registry=None)
EXPORTED = {name: Counter(f"eventexport_exported_{name}", f"{what} exported by Done runs", ["account"], registry=None)
            for name, what in (("objects", "Objects"), ("rows", "Rows"), ("bytes", "Bytes (as stored)"))}
REJECTED = Counter("eventexport_rejected_rows", "Bad records set aside by Done runs", ["account"], registry=None)
S3_RETRIES = Counter("eventexport_s3_retries", "Requests to customers' S3 retried, by kind (throttled, timeout, "
                     "server_error, connection), from Done runs' summaries", ["account", "kind"], registry=None)
HEARTBEATS = Counter("eventexport_scheduler_heartbeats", "Lease renewals of running runs (each a heartbeat of a "
                     "live scheduler)", registry=None)
TAKEOVERS = Counter("eventexport_lease_takeovers", "Runs this scheduler took over because another's lease lapsed",
                    ["account"], registry=None)
PASSES = Counter("eventexport_scheduler_passes", "Scheduler passes, by result (ok, failed)", ["result"],
                 registry=None)
LAST_PASS = Gauge("eventexport_scheduler_last_pass_timestamp_seconds", "When the last scheduler pass ended "
                  "(Unix time)", registry=None)
_COUNTED = (RUNS_FINISHED, RUN_DURATION, *EXPORTED.values(), REJECTED, S3_RETRIES, HEARTBEATS, TAKEOVERS, PASSES,
            LAST_PASS)
_claimed_at = {}   # run id -> time.monotonic() at its claim


def registry(engine):
    """A registry with this process's counters, the database's state and the process's own metrics (CPU,
    memory, open files, Python's GC). One per app or scheduler: the counters are shared, the state is
    read from `engine`."""
    found = CollectorRegistry()
    for collector in _COUNTED:
        found.register(collector)
    found.register(StateCollector(engine))
    ProcessCollector(registry=found)
    PlatformCollector(registry=found)
    GCCollector(registry=found)
    return found


def exposition(found):
    """The registry's metrics in Prometheus' text format (bytes)."""
    return generate_latest(found)


def run_claimed(run, took_over):
    """A run was claimed; `took_over`: it was Running under another scheduler whose lease lapsed."""
    _claimed_at[run["id"]] = time.monotonic()
    if took_over:
        TAKEOVERS.labels(run["account_id"]).inc()


def run_ended(run, outcome, totals=None):
    """A claimed run ended as `outcome` (Done, Failed, Stopped, handed_back, lapsed); `totals` of a Done run as
    recorded."""
    account = run["account_id"]
    RUNS_FINISHED.labels(account, outcome).inc()
    started = _claimed_at.pop(run["id"], None)
    if started is not None:
        RUN_DURATION.labels(account, outcome).observe(time.monotonic() - started)
    if totals:
        for name, counter in EXPORTED.items():
            counter.labels(account).inc(totals[name])
        REJECTED.labels(account).inc(totals["rejected"])
        for kind, count in (totals.get("s3_retries") or {}).items():
            if kind in RETRY_KINDS:   # what a child reports is bounded here, not trusted to be
                S3_RETRIES.labels(account, kind).inc(count)


def heartbeat():
    HEARTBEATS.inc()


def pass_done(ok):
    PASSES.labels("ok" if ok else "failed").inc()
    LAST_PASS.set_to_current_time()
