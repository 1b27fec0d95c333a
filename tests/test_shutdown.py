"""SIGTERM to a real `eventexport scheduler` while its run's pipeline goes: within the grace the run finishes
Done; past it the pipeline is ended and the run handed back (Pending, unclaimed), and the next scheduler
runs it to Done with the same run timestamp. Either way the scheduler exits 0 and leaves no process."""

import signal
import time

import pytest

from tests.support.control_deployment import deployment, ee, store  # noqa: F401 (fixtures)
from tests.support.scheduler_runs import BEST_DATABASE, DEADLINE_SECONDS, children, due_window, gone, run_row, wait_for

pytestmark = [BEST_DATABASE, pytest.mark.slow]


def _sigterm_while_running(live, request):
    """Start a scheduler, SIGTERM it once its run's pipeline reports progress; return (exit status, its
    output, the pipeline processes it had)."""
    scheduler = ee(live, "scheduler", "--interval", "0.5", background=True)
    wait_for(live, request, lambda r: (r["last_progress"] or "").startswith("progress: "))
    pipelines = children(scheduler.pid)
    assert pipelines
    scheduler.send_signal(signal.SIGTERM)
    out, err = scheduler.communicate(timeout=DEADLINE_SECONDS)
    give_up = time.monotonic() + DEADLINE_SECONDS
    while not all(map(gone, pipelines)):
        assert time.monotonic() < give_up, f"pipeline {pipelines} outlived its scheduler"
        time.sleep(0.1)
    return scheduler.returncode, out + err


def test_past_the_grace_the_run_is_handed_back_and_the_next_scheduler_does_it(deployment, tmp_path):
    live, request, *_ = due_window(deployment, tmp_path, "handed-back")
    live["env"]["EVENTEXPORT_STOP_GRACE_SECONDS"] = "0"
    status, output = _sigterm_while_running(live, request)
    assert status == 0 and "handed back at shutdown" in output and "scheduler stopped" in output, output
    back = run_row(live, request)
    assert (back["status"], back["claimed_by"], back["attempts"]) == ("Pending", None, 1), back
    assert back["last_progress"].startswith("handed back")

    done = ee(live, "run")
    assert done.returncode == 0, done.stderr
    finished = run_row(live, request)
    assert (finished["status"], finished["attempts"]) == ("Done", 2), finished
    assert finished["run_timestamp"] == back["run_timestamp"]   # the same keys, rewritten


def test_within_the_grace_the_run_finishes_before_the_scheduler_exits(deployment, tmp_path):
    live, request, *_ = due_window(deployment, tmp_path, "finished")
    live["env"]["EVENTEXPORT_STOP_GRACE_SECONDS"] = str(DEADLINE_SECONDS)
    status, output = _sigterm_while_running(live, request)
    assert status == 0 and f"run {request} " in output and "Done, " in output, output
    finished = run_row(live, request)
    assert (finished["status"], finished["attempts"]) == ("Done", 1), finished
