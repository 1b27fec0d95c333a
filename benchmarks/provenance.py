"""What ran where: the machine, the library versions, the commit and a hash of the code under test.

Recorded in every benchmark report, so a figure can be traced to the machine and code that produced it.
"""

import hashlib
import importlib.metadata
import os
import platform
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def machine_info():
    cpu_model = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu_model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), None)
    except OSError:
        pass
    memory = None
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            kib = next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))
            memory = round(kib / 1024 / 1024, 2)
    except (OSError, StopIteration):
        pass
    versions = {}
    for package in ("apache-beam", "pyarrow", "duckdb", "orjson", "isal", "fastavro", "moto", "boto3", "numpy"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu_model, "memory_gib": memory, "platform": platform.platform(),
        "python": sys.version.split()[0], "python_executable": sys.executable, "versions": versions,
        "git": git_state(),
    }


def code_fingerprint():
    """A short hash of the code under test (every .py under pipelines/ and transforms/, as on disk now).

    Taken before each contender: if other work edits the exporter while the benchmark runs, the results
    say so instead of silently mixing two versions.
    """
    digest = hashlib.sha256()
    for package in ("pipelines", "transforms"):
        for folder, dirs, names in sorted(os.walk(os.path.join(ROOT, package))):
            dirs.sort()
            for name in sorted(n for n in names if n.endswith(".py")):
                path = os.path.join(folder, name)
                digest.update(os.path.relpath(path, ROOT).encode() + b"\0")
                with open(path, "rb") as f:
                    digest.update(f.read() + b"\0")
    return digest.hexdigest()[:12]


def git_state():
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
        return {"commit": head, "uncommitted_changes": bool(dirty)}
    except (OSError, subprocess.SubprocessError):
        return None
