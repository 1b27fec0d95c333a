"""Run one command as a child process and measure its wall time and memory.

Why not `resource.getrusage(RUSAGE_CHILDREN)` deltas: RUSAGE_CHILDREN's ru_maxrss is the largest RSS of
*any* child ever waited for by this process, a running maximum and not a sum, so a small contender run
after a big one reports the big one's peak. Instead each measured command gets two numbers of its own:

* ``peak_rss_mib``: the highest RSS of any single process of the command (the child or a descendant),
  sampled from /proc every ``interval`` seconds. The kernel's ru_maxrss from ``os.wait4`` is kept as
  ``kernel_maxrss_mib`` but not used: Linux carries the *parent's* high-water mark into a child across
  fork (and vfork) + exec, so a small command started by a large harness reports the harness's size.
* ``tree_peak_rss_mib``: the highest observed *sum* of RSS over the child and all its live descendants,
  sampled from /proc every ``interval`` seconds (0.05 by default). This is the memory the whole export
  needs at once (2 workers + the runner). Both are sampled (a spike shorter than the interval can be
  missed; a command that ends before the first sample has None), and the sum counts pages shared
  between processes (libraries) once per process.

For a single-process command both agree. Linux only (/proc).

``other_cpu_cores`` says how busy the machine was with *other* work while the command ran: the CPU time
the whole machine spent busy (/proc/stat) minus the command's own (wait4) and the sampler's, divided by
the wall time. On a machine shared with other jobs this is what makes a slow result explainable.
"""

import os
import subprocess
import threading
import time

__all__ = ["run_measured"]

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_MIB = 1024 * 1024
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _ppid_map():
    """{pid: ppid} for every process visible in /proc."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # Field 2 (comm) may hold spaces and parentheses; fields after the last ')' are plain.
        rest = stat[stat.rfind(b")") + 2:].split()
        out[int(entry)] = int(rest[1])
    return out


def _rss_bytes(pid):
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _busy_cpu_s():
    """Seconds of CPU time the whole machine has spent busy since boot (None without /proc/stat)."""
    try:
        with open("/proc/stat", "rb") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal [guest guest_nice, already inside user/nice]
    busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + (fields[7] if len(fields) > 7 else 0)
    return busy / _TICKS


def _tree(root, parents):
    children = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


class _Sampler(threading.Thread):
    def __init__(self, pid, interval):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.stop_event = threading.Event()
        self.peak_sum = 0
        self.peak_single = 0
        self.max_processes = 0
        self.samples = 0
        self.cpu_s = 0.0

    def run(self):
        if not os.path.isdir("/proc"):
            return
        started = time.thread_time()
        try:
            self._sample()
        finally:
            self.cpu_s = time.thread_time() - started

    def _sample(self):
        while not self.stop_event.is_set():
            pids = _tree(self.pid, _ppid_map())
            sizes = [_rss_bytes(pid) for pid in pids]
            alive = [s for s in sizes if s]
            if alive:
                self.samples += 1
                self.peak_sum = max(self.peak_sum, sum(alive))
                self.peak_single = max(self.peak_single, max(alive))
                self.max_processes = max(self.max_processes, len(alive))
            self.stop_event.wait(self.interval)


def run_measured(command, *, env=None, cwd=None, stdout_path, stderr_path, timeout=None, interval=0.05):
    """Run `command` (a list) to completion; return a dict of measurements.

    stdout/stderr go to files (no pipe can fill up and stall the child). On timeout the child's process
    group is killed and `timed_out` is set.
    """
    busy_before, load_before = _busy_cpu_s(), _loadavg()
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                start_new_session=True)
    sampler = _Sampler(proc.pid, interval)
    sampler.start()
    timed_out = False
    timer = None
    if timeout:
        def _kill():
            nonlocal timed_out
            timed_out = True
            try:
                os.killpg(proc.pid, 9)
            except ProcessLookupError:
                pass
        timer = threading.Timer(timeout, _kill)
        timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        if timer:
            timer.cancel()
    wall = time.perf_counter() - started
    busy_after = _busy_cpu_s()
    proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen never waits on the reaped pid
    sampler.stop_event.set()
    sampler.join()
    other = None
    if busy_before is not None and busy_after is not None:
        other = max(0.0, busy_after - busy_before - usage.ru_utime - usage.ru_stime - sampler.cpu_s)
    return {
        "wall_s": wall,
        "exit_code": proc.returncode,
        "timed_out": timed_out,
        "peak_rss_mib": sampler.peak_single / _MIB if sampler.samples else None,  # None: ended before a sample
        "tree_peak_rss_mib": sampler.peak_sum / _MIB if sampler.samples else None,
        "kernel_maxrss_mib": usage.ru_maxrss * 1024 / _MIB,  # Linux reports KiB
        "max_processes": sampler.max_processes,
        "user_cpu_s": usage.ru_utime,
        "sys_cpu_s": usage.ru_stime,
        "sampler_cpu_s": sampler.cpu_s,
        "other_cpu_cores": other / wall if other is not None and wall > 0 else None,
        "loadavg_before": load_before,  # 1-minute load average when the command started
    }


def _loadavg():
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
