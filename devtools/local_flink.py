"""A standalone Flink cluster on this machine: one JobManager and one TaskManager, each its own JVM.

Started from Flink's own jars as `make install-flink-cluster` fetches them from Maven Central (at the
version devtools/flink/pom.xml pins, of the minor templates/runners/flink.toml names), with the java
command lines Flink's bin/jobmanager.sh and bin/taskmanager.sh would run: Flink's BashJavaUtils
turns the generated config.yaml's memory sizes into each JVM's flags, as those scripts do.
Ports are free ones chosen at start; everything binds to 127.0.0.1.

`python -m devtools.local_flink` starts one, prints its REST address and waits for Ctrl-C.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

__all__ = ["LocalFlinkCluster", "FLINK_LIB"]

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLINK_LIB = os.path.join(_ROOT, ".cache", "flink", "lib")
_START_TIMEOUT = 120
# What Flink's default config.yaml passes to every JVM on Java 17 (env.java.opts.all).
_JAVA_17_OPENS = ["--add-exports=java.base/sun.net.util=ALL-UNNAMED",
                  "--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED"] + [
    f"--add-opens=java.base/{package}=ALL-UNNAMED" for package in (
        "java.lang", "java.net", "java.io", "java.nio", "sun.nio.ch", "java.lang.reflect", "java.text",
        "java.time", "java.util", "java.util.concurrent", "java.util.concurrent.atomic",
        "java.util.concurrent.locks")]
_CONFIG = """\
jobmanager:
  rpc: {{address: 127.0.0.1, port: {rpc_port}}}
  bind-host: 127.0.0.1
  memory: {{process: {{size: 1024m}}}}
taskmanager:
  host: 127.0.0.1
  bind-host: 127.0.0.1
  numberOfTaskSlots: {slots}
  memory: {{process: {{size: {taskmanager_memory}}}}}
rest: {{address: 127.0.0.1, bind-address: 127.0.0.1, port: {rest_port}}}
parallelism: {{default: {slots}}}
io: {{tmp: {{dirs: {tmp}}}}}
heartbeat: {{interval: 1000, timeout: 10000}}
restart-strategy: {{type: fixed-delay, fixed-delay: {{attempts: {restarts}, delay: 1 s}}}}
"""


def _java():
    java = shutil.which("java")
    if java is None:
        raise RuntimeError("no `java` on PATH: the Flink cluster needs Java 17 "
                           "(apt-get install openjdk-17-jre-headless)")
    return java


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalFlinkCluster:
    """`with LocalFlinkCluster(slots=2) as cluster:` ... `cluster.rest_address` (host:port, what
    `--flink_master` takes), `cluster.overview()`, `cluster.kill_taskmanager()`.

    `restarts`: how often Flink restarts a failed job (fixed delay of 1 s) before it fails it.
    """

    def __init__(self, slots=2, taskmanager_memory="1536m", restarts=3):
        self.slots, self.taskmanager_memory, self.restarts = slots, taskmanager_memory, restarts
        self.folder, self.jobmanager, self.taskmanagers, self.rest_address = None, None, [], None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _classpath(self):
        if not os.path.exists(os.path.join(FLINK_LIB, ".installed")):
            raise RuntimeError(f"no Flink jars in {FLINK_LIB}: run `make install-flink-cluster` first")
        return os.path.join(FLINK_LIB, "*")

    def _resource_flags(self, command):
        """(JVM flags, -D dynamic properties) of Flink's BashJavaUtils for this config, as the scripts use."""
        done = subprocess.run(  # nosec B603  # java with fixed arguments, no shell
            [_java(), "-cp", self._classpath(), "org.apache.flink.runtime.util.bash.BashJavaUtils", command,
             "--configDir", self.folder], capture_output=True, text=True, timeout=_START_TIMEOUT, check=True)
        prefix = "BASH_JAVA_UTILS_EXEC_RESULT:"
        results = [line[len(prefix):].split() for line in done.stdout.splitlines() if line.startswith(prefix)]
        return results[0], results[1] if len(results) > 1 else []

    def _spawn(self, role, main_class, resource_command):
        jvm, dynamic = self._resource_flags(resource_command)
        log = open(os.path.join(self.folder, f"{role}.log"), "ab")
        with log:
            return subprocess.Popen(  # nosec B603  # java with fixed arguments, no shell
                [_java(), *_JAVA_17_OPENS, *jvm, "-cp", self._classpath(), main_class, "--configDir", self.folder,
                 *dynamic], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def start(self):
        self.folder = tempfile.mkdtemp(prefix="eventexport-flink-")
        rest_port = _free_port()
        with open(os.path.join(self.folder, "config.yaml"), "w", encoding="utf-8") as handle:
            handle.write(_CONFIG.format(rpc_port=_free_port(), rest_port=rest_port, slots=self.slots,
                                        taskmanager_memory=self.taskmanager_memory, restarts=self.restarts,
                                        tmp=os.path.join(self.folder, "tmp")))
        self.rest_address = f"127.0.0.1:{rest_port}"
        try:
            self.jobmanager = self._spawn("jobmanager", "org.apache.flink.runtime.entrypoint."
                                          "StandaloneSessionClusterEntrypoint", "GET_JM_RESOURCE_PARAMS")
            self._wait(lambda: self.overview() is not None, "the JobManager's REST endpoint")
            self.add_taskmanager()
        except BaseException:
            self.stop()
            raise
        return self

    def add_taskmanager(self):
        self.taskmanagers.append(self._spawn(f"taskmanager-{len(self.taskmanagers)}",
                                             "org.apache.flink.runtime.taskexecutor.TaskManagerRunner",
                                             "GET_TM_RESOURCE_PARAMS"))
        self.wait_for_slots(self.slots)

    def kill_taskmanager(self):
        """SIGKILL the newest live TaskManager (a lost machine) and wait until the JobManager has noticed
        (its heartbeat times out after 10 s); return the killed process id."""
        live = [process for process in self.taskmanagers if process.poll() is None]
        os.killpg(live[-1].pid, signal.SIGKILL)
        live[-1].wait()
        self._wait(lambda: (self.overview() or {}).get("taskmanagers") == len(live) - 1, "lost TaskManager noticed")
        return live[-1].pid

    def overview(self):
        """The JobManager's /overview (taskmanagers, slots-total, flink-version, jobs), or None if it is down."""
        try:
            url = f"http://{self.rest_address}/overview"
            with urllib.request.urlopen(url, timeout=5) as answer:  # nosec B310  # our cluster's http URL
                return json.load(answer)
        except OSError:
            return None

    def wait_for_slots(self, count):
        self._wait(lambda: (self.overview() or {}).get("slots-available", 0) >= count, f"{count} free task slots")

    def _wait(self, condition, what):
        deadline = time.monotonic() + _START_TIMEOUT
        while not condition():
            for process in self.processes():
                if process.poll() not in (None, -signal.SIGKILL):   # a TaskManager we killed is expected
                    raise RuntimeError(f"a Flink process exited ({process.returncode}); see {self.folder}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"no {what} in {_START_TIMEOUT} s; see the logs in {self.folder}")
            time.sleep(0.2)

    def processes(self):
        return [process for process in [self.jobmanager, *self.taskmanagers] if process is not None]

    def stop(self):
        for process in self.processes():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.jobmanager, self.taskmanagers = None, []
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))   # `kill` stops the cluster too, as Ctrl-C does
    with LocalFlinkCluster() as cluster:
        overview = cluster.overview()
        print(f"Flink {overview['flink-version']} at http://{cluster.rest_address} (--flink_master="
              f"{cluster.rest_address}): {overview['taskmanagers']} TaskManager, {overview['slots-total']} "
              f"slots; logs in {cluster.folder}; Ctrl-C stops it", flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
