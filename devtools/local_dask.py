"""A dask.distributed cluster on this machine: one `dask scheduler` and N `dask worker` processes.

Tests, `make demo-cluster` and the benchmark run exports through it with Beam's DaskRunner, on the
same kind of separate processes a real cluster has (each its own Python, hash seed and memory).
Ports are the OS's choice; the scheduler file says which. Workers import this project from the
environment they are started in (the editable install, and PYTHONPATH as a fallback); a real
cluster's workers need `pip install eventexport` in theirs.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

__all__ = ["LocalDaskCluster"]

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_START_TIMEOUT = 120


class LocalDaskCluster:
    """`with LocalDaskCluster(workers=2) as cluster:` ... `cluster.address`, `cluster.dashboard`.

    `nanny=False` starts bare workers, so a worker that is killed stays dead (a lost machine);
    `env` adds environment variables for the scheduler and workers (e.g. the platform's S3 keys).
    """

    def __init__(self, workers=2, threads=1, nanny=True, dashboard=False, env=None):
        self.workers, self.threads, self.nanny, self.dashboard_on = workers, threads, nanny, dashboard
        self._env = dict(os.environ, **(env or {}))
        self._env["PYTHONPATH"] = os.pathsep.join(filter(None, [_ROOT, os.environ.get("PYTHONPATH")]))
        self._folder, self._scheduler, self._workers = None, None, []
        self.address, self.dashboard = None, None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _spawn(self, role, *args):
        log = open(os.path.join(self._folder, f"{role}-{len(self._workers)}.log"), "wb")
        with log:
            return subprocess.Popen(  # nosec B603  # our interpreter and fixed arguments, no shell
                [sys.executable, "-m", "dask", role, *args], env=self._env, cwd=_ROOT,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def start(self):
        self._folder = tempfile.mkdtemp(prefix="eventexport-dask-")
        scheduler_file = os.path.join(self._folder, "scheduler.json")
        dashboard = ["--dashboard-address", "127.0.0.1:0"] if self.dashboard_on else ["--no-dashboard"]
        self._scheduler = self._spawn("scheduler", "--host", "127.0.0.1", "--port", "0", "--scheduler-file",
                                      scheduler_file, *dashboard)
        try:
            info = self._wait_for_file(scheduler_file)
            self.address = info["address"]
            if "dashboard" in info.get("services", {}):
                self.dashboard = f"http://127.0.0.1:{info['services']['dashboard']}/status"
            for _ in range(self.workers):
                self.add_worker()
            self.wait_for_workers(self.workers)
        except BaseException:
            self.stop()
            raise
        return self

    def add_worker(self):
        nanny = ["--nanny"] if self.nanny else ["--no-nanny"]
        self._workers.append(self._spawn(
            "worker", self.address, "--host", "127.0.0.1", "--nthreads", str(self.threads), "--nworkers", "1",
            "--no-dashboard", "--death-timeout", "60", *nanny))

    def _wait_for_file(self, path):
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._scheduler.poll() is not None:
                raise RuntimeError(f"dask scheduler exited; see {self._folder}")
            try:
                with open(path) as handle:
                    return json.load(handle)
            except (OSError, ValueError):
                time.sleep(0.1)
        raise RuntimeError(f"dask scheduler did not start in {_START_TIMEOUT} s; see {self._folder}")

    def client(self):
        from distributed import Client
        return Client(self.address, timeout=_START_TIMEOUT)

    def wait_for_workers(self, count):
        with self.client() as client:
            client.wait_for_workers(count, timeout=_START_TIMEOUT)

    def worker_pids(self):
        """{worker address: process id} of the processes that run tasks (a nanny's child, if any)."""
        with self.client() as client:
            return client.run(os.getpid)

    def stop(self):
        for process in self._workers + [self._scheduler]:
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self._workers + [self._scheduler]:
            if process is None:
                continue
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self._workers, self._scheduler = [], None
        if self._folder:
            shutil.rmtree(self._folder, ignore_errors=True)
