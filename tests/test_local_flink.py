"""devtools/local_flink.py: a standalone Flink cluster of the pinned version from Maven Central's jars,
its JobManager and TaskManager separate processes, a TaskManager lost and replaced, nothing left after."""

import os
import re
import subprocess

import pytest

from control.settings import load_settings
from devtools.local_flink import LocalFlinkCluster
from tests.support.exports import REPO

POM = REPO / "devtools" / "flink" / "pom.xml"


def pinned_versions():
    """(Flink minor of the runner preset, full Flink version of the cluster's pom)."""
    options = load_settings({"EVENTEXPORT_CONFIG": str(REPO / "templates" / "runners" / "flink.toml")}).runner_options
    minor = re.search(r"--flink_version=(\S+)", options).group(1)
    return minor, re.search(r"<flink.version>([^<]+)</flink.version>", POM.read_text()).group(1)


def test_the_cluster_runs_the_flink_release_the_preset_pins():
    minor, full = pinned_versions()
    assert full.startswith(f"{minor}."), (minor, full)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True).stdout
    return not state.startswith("Z")   # a zombie has exited


@pytest.mark.slow
def test_a_standalone_cluster_starts_loses_a_taskmanager_and_stops_clean():
    subprocess.run(["make", "install-flink-cluster"], cwd=REPO, check=True)   # fails, never skips, without Maven
    with LocalFlinkCluster(slots=2) as cluster:
        overview = cluster.overview()
        assert overview["flink-version"] == pinned_versions()[1]
        assert (overview["taskmanagers"], overview["slots-total"]) == (1, 2)
        pids = [process.pid for process in cluster.processes()]
        assert len(set(pids)) == 2 and all(map(_alive, pids))      # JobManager and TaskManager: two JVMs
        killed = cluster.kill_taskmanager()
        assert not _alive(killed) and cluster.overview()["taskmanagers"] == 0
        cluster.add_taskmanager()
        assert (cluster.overview()["taskmanagers"], cluster.overview()["slots-available"]) == (1, 2)
        pids += [process.pid for process in cluster.processes()]
        folder = cluster.folder
    assert not any(map(_alive, pids)) and not os.path.exists(folder)
