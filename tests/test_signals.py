"""`make console`'s program stopped with SIGTERM while its scheduler's pipeline runs: every process it started
(the local S3 server, the pipeline) ends with it, and it exits as after Ctrl-C. The processes are found by
a mark in their environment, which every descendant inherits, so one that outlived its parent is found too."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid

import psutil
import pytest

from tests.support.exports import REPO

DEADLINE_SECONDS = 300   # only a hung test waits this long
MARK = "EVENTEXPORT_TEST_PROCESS_MARK"


def _marked(mark):
    """The processes whose environment holds `mark` (the demo and everything it started)."""
    found = []
    for process in psutil.process_iter(["pid"]):
        try:
            if process.environ().get(MARK) == mark and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return found


def _commands(mark):
    return [" ".join(process.cmdline()) for process in _marked(mark)]


def _wait(test, what):
    give_up = time.monotonic() + DEADLINE_SECONDS
    while not test():
        assert time.monotonic() < give_up, f"{what} never happened"
        time.sleep(0.1)


@pytest.mark.slow
def test_sigterm_ends_the_console_demo_and_everything_it_started(tmp_path):
    mark = uuid.uuid4().hex
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1", **{MARK: mark})
    demo = subprocess.Popen([sys.executable, "-m", "devtools.console_demo", "--port", "0", "--events", "20000",
                             "--workdir", str(tmp_path / "console")], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in demo.stdout:
            if line.startswith("The console is running: open "):
                url = line.split()[5].rsplit("/console/", 1)[0]
                break
        with urllib.request.urlopen(f"{url}/healthz", timeout=30) as answer:   # nosec B310  # the local demo
            assert answer.status == 200
        _wait(lambda: any("pipelines.export" in c for c in _commands(mark)), "the demo's export run")
        started = _commands(mark)
        assert any("moto_trust.py" in command for command in started), started   # the local S3 server
        demo.send_signal(signal.SIGTERM)
        rest = demo.communicate(timeout=DEADLINE_SECONDS)[0]
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 130 and "handed back at shutdown" in rest, rest
    _wait(lambda: not _commands(mark), f"the end of {_commands(mark)}")
