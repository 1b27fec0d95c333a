"""Stopping a scheduler cleanly on SIGTERM (what systemd, Kubernetes and `kill` send) or Ctrl-C.

The first signal stops new claims; the run in progress gets `grace` seconds to finish, after which its
pipeline (a process group of its own, workers included) is ended and the scheduler hands the run back:
it is Pending again, its claim released, so the next pass of any scheduler runs it at once (with the same
run timestamp and capture ceiling, so it writes the same objects). A second signal ends the wait. The
scheduler then exits. A supervisor must allow more than `grace` seconds before it kills (systemd's
TimeoutStopSec; docs/deployment.md).
"""

import logging
import os
import signal
import threading
import weakref

__all__ = ["install", "request", "requested", "ended_runs", "wait", "track", "reset"]

_stop = threading.Event()      # no new claims
_end_runs = threading.Event()  # the grace is over: pipelines still going are ended
_children = weakref.WeakSet()
_lock = threading.Lock()


def _end_children():
    _end_runs.set()
    with _lock:
        running = [child for child in _children if child.poll() is None]
    for child in running:
        try:
            os.killpg(child.pid, signal.SIGTERM)   # the pipeline and any worker processes it started
        except ProcessLookupError:
            pass   # it ended just now


def request(grace=0.0):
    """Stop: no new claims; running pipelines are ended after `grace` seconds (at once if already asked)."""
    if _stop.is_set() or grace <= 0:
        _stop.set()
        _end_children()
        return
    _stop.set()
    timer = threading.Timer(grace, _end_children)
    timer.daemon = True
    timer.start()


def install(grace):
    """Make SIGTERM and SIGINT request a stop with `grace` seconds for the run in progress (main thread)."""
    def handler(signum, _frame):
        again = _stop.is_set()
        logging.getLogger("eventexport.scheduler").info(
            "%s: %s", signal.Signals(signum).name, "ending the run in progress now" if again else
            f"stopping; a run in progress has {grace:.0f} s to finish, then it is handed back (signal again: now)")
        request(grace)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, handler)


def requested():
    """True once a stop was asked for: claim nothing more."""
    return _stop.is_set()


def ended_runs():
    """True once the grace is over: a pipeline that ended now was ended by us, and its run goes back."""
    return _end_runs.is_set()


def wait(seconds):
    """Sleep up to `seconds`, less if a stop is asked for; True if it was."""
    return _stop.wait(seconds)


def track(child):
    """A pipeline process (started with its own session) to end when the grace is over."""
    with _lock:
        _children.add(child)
    if _end_runs.is_set():
        _end_children()


def reset():
    """Forget an earlier stop (tests, and a demo that starts its scheduler again)."""
    _stop.clear()
    _end_runs.clear()
