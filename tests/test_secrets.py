"""control/secrets.py: the master key file is created once, whole, however many processes start together."""

import multiprocessing
import os
import stat

import pytest

from control.secrets import Vault
from control.settings import load_settings

STARTERS = 24
ROUNDS = 10


def _start(path, barrier, answers):
    barrier.wait()   # all at once, as an API and schedulers started together
    vault = Vault(load_settings({"EVENTEXPORT_KEY_FILE": path}))
    answers.put(vault.derive("check").hex())


def _round(tmp_path, number):
    context = multiprocessing.get_context("fork")
    path = str(tmp_path / f"master-{number}.key")
    barrier, answers = context.Barrier(STARTERS), context.Queue()
    starters = [context.Process(target=_start, args=(path, barrier, answers)) for _ in range(STARTERS)]
    for process in starters:
        process.start()
    for process in starters:
        process.join(60)
    assert [process.exitcode for process in starters] == [0] * STARTERS   # none crashed on a half-written key
    derived = {answers.get(timeout=5) for _ in range(STARTERS)}
    assert derived == {Vault(load_settings({"EVENTEXPORT_KEY_FILE": path})).derive("check").hex()}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not [name for name in os.listdir(tmp_path) if not name.startswith("master-")]   # no temporary file left


@pytest.mark.slow
def test_processes_starting_together_share_one_whole_key(tmp_path):
    """Before the key was linked into place whole, some of 24 starters read it empty within a few rounds."""
    for number in range(ROUNDS):
        _round(tmp_path, number)
