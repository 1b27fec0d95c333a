"""Demos end everything they started on Ctrl-C and on SIGTERM: both become KeyboardInterrupt in the main
thread, so each `with` block stops its local S3 server, Dask cluster or child process on the way out, and
a scheduler running in the process stops at once (its pipeline ended, its run handed back:
control/ops/shutdown.py).

`make` does not pass a SIGTERM on to the recipe it runs (it dies and leaves it running), so a demo also
asks Linux for a SIGTERM when its parent dies: `kill <make's pid>` stops the demo as `kill <its pid>` would.
"""

import ctypes
import signal
import sys

from control.ops import shutdown

__all__ = ["stop_on_signals", "run_stoppable"]


_PR_SET_PDEATHSIG = 1   # linux/prctl.h


def stop_on_signals():
    """From now on the first SIGTERM or SIGINT interrupts the main thread; later ones only repeat the stop
    request, so they cannot cut the cleanup short. The parent's death counts as a SIGTERM (Linux)."""
    interrupted = []

    def handler(_signum, _frame):
        shutdown.request(0)
        if not interrupted:
            interrupted.append(True)
            raise KeyboardInterrupt

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, handler)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def run_stoppable(run, args):
    """A demo's `run(args)` that Ctrl-C or SIGTERM ends cleanly (exit status 130, no traceback)."""
    stop_on_signals()
    try:
        return run(args)
    except KeyboardInterrupt:
        print("\nstopped: every process the demo started has ended", flush=True)
        return 130
