"""Launching one export run: the pipeline in a child process, its progress streamed, its exit classified.

The scheduler decides what runs and holds the claim (control/scheduler.py); this module only runs it.
The pipeline gets a process of its own, so its memory is its own and a crash is a run's failure, never
the scheduler's. The customer's key reaches it by environment, never on the command line (where `ps`
would show it). On Linux the child dies with its scheduler, so a run whose claim lapses is never still
being written by an orphan.
"""

import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile

from control.destinations import s3_settings_values
from control.ops import shutdown
from control.readiness import store_root
from pipelines.options import destination_values, export_arguments
from transforms.runtime import logs
from transforms.sinks.naming import manifest_key
from transforms.sinks.s3 import KEY_ID_ENV, SECRET_ENV

__all__ = ["run_export", "RunFailed"]

_PR_SET_PDEATHSIG = 1   # linux/prctl.h
# looked up before forking: the child only calls it
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
_PROGRESS = "progress: "
_ERROR = "eventexport: error: "


class RunFailed(RuntimeError):
    """The pipeline ended without its manifest; the message is its own error line (or its last words)."""


def _die_with_parent(parent):
    """In the pipeline's process before it starts: if the scheduler dies, the pipeline gets SIGKILL too
    (Linux), so a run whose claim lapses is never still being written by an orphan."""
    _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:   # the scheduler died before the line above took effect
        os._exit(1)


def _stamp(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def pipeline_command(settings, account, request, destination, run, scratch, role=None):
    """The export's command line: the account's store and database id, the deployment's runner, the
    destination's `role` if it has one (its ARN and the external id: no secret). The event names go in a file
    in the run's `scratch` folder, so the line stays short however many there are."""
    events_file = None
    if request["events"]:
        events_file = os.path.join(scratch, "events.json")
        with open(events_file, "w", encoding="utf-8") as handle:
            json.dump(list(request["events"]), handle, ensure_ascii=False)
    values = {
        "source": store_root(account, request["export_type"]), "export_type": request["export_type"],
        "events_file": events_file, "format": request["format"],
        "start": _stamp(run["window_start"]), "end": _stamp(run["window_end"]), "time_basis": run["time_basis"],
        "request_id": request["id"], "run_timestamp": run["run_timestamp"],
        "captured_before": run["captured_before"], "database_id": account["database_id"],
        # one window of a series: the series starts at its first window
        "series_start": None if request["frequency"] == "once" else _stamp(request["created_at"]),
        "manifest_copy": os.path.abspath(settings.manifests),
        # the tenant's settings, as destination options and nothing else (the region as the connection test had it)
        **destination_values(bucket=destination["bucket"], prefix=destination["prefix"], role=role,
                             **s3_settings_values(destination)),
    }
    # the deployment's: the platform's S3 (Beam's options) and the runner's, never a destination option
    beam = ["--runner", settings.runner, *settings.pipeline_argv()]
    return [sys.executable, "-m", "pipelines.export", *export_arguments(values), *beam]


def _failure(returncode, lines, store=None):
    """The child's own error line when it printed one, else its last words, else its exit status. The run's
    error is shown to its account, which must not learn where the platform keeps its store: a file in
    `store` is named relative to it, as a reject names its file, and the store itself is "the store"."""
    errors = [line for line in lines if line.startswith(_ERROR)]
    said = [line for line in lines if line.strip()]
    message = errors[-1][len(_ERROR):] if errors else said[-1] if said else f"exit status {returncode}"
    if store:
        root = store.rstrip("/")
        message = message.replace(root + "/", "").replace(root, "the store")
    return RunFailed(message)


def _summary(path):
    """The facts the pipeline wrote to `path` (S3 retries), {} if none: they feed metrics only, so they
    never fail a run."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.loads(handle.read() or "{}")
    except (OSError, ValueError):
        return {}


def run_export(settings, account, request, destination, run, credentials, on_progress, on_start=None):
    """Run the export of `run` to its end; return its totals (objects, rows, bytes, rejected, s3_retries,
    and the reconciliation's read, later, rejected_by_reason) from the manifest, or raise RunFailed.
    `credentials` are the destination's S3 settings (the key, which goes by environment, or the role, whose
    ARN and external id go as options; the platform's identity that assumes it is the child's own
    environment); each progress line of the pipeline goes to `on_progress` as it comes; `on_start` gets the
    pipeline's process as soon as it starts (a cancel ends it: control/claims.py)."""
    parent = os.getpid()
    guard = (lambda: _die_with_parent(parent)) if _PRCTL else None
    other = []
    with tempfile.TemporaryDirectory(prefix=f"eventexport-run-{request['id']}-") as scratch:
        summary = os.path.join(scratch, "summary.json")
        # The child's lines are read below, so they are human whatever the deployment's log format.
        env = dict(os.environ, **{logs.LOG_FORMAT_ENV: "human", logs.SUMMARY_ENV: summary})
        env.pop(KEY_ID_ENV, None)   # this destination's key or none: a role's run uses the role alone
        env.pop(SECRET_ENV, None)
        if credentials.access_key_id:
            env.update({KEY_ID_ENV: str(credentials.access_key_id), SECRET_ENV: str(credentials.secret_access_key)})
        command = pipeline_command(settings, account, request, destination, run, scratch, credentials.role)
        # A session of its own: a stop ends the pipeline and its workers together (control/ops/shutdown.py),
        # and Ctrl-C reaches it only so.
        child = subprocess.Popen(command, env=env, text=True, stdout=subprocess.DEVNULL,  # nosec B603  # no shell
                                 stderr=subprocess.PIPE, preexec_fn=guard, start_new_session=True)
        shutdown.track(child)
        if on_start:
            on_start(child)
        with child:
            for line in child.stderr:
                if line.startswith(_PROGRESS):
                    on_progress(line.strip())
                else:
                    other.append(line.rstrip("\n"))
        facts = _summary(summary)
    if child.returncode:
        raise _failure(child.returncode, other, store_root(account, request["export_type"]))
    path = os.path.join(settings.manifests, manifest_key("", request["id"], run["run_timestamp"]))
    with open(path, encoding="utf-8") as handle:
        manifest = json.load(handle)
    counts = manifest["reconciliation"]
    return dict(manifest["totals"], rejected=manifest["rejects"]["rows"], s3_retries=facts.get("s3_retries"),
                read=counts["read"], later=counts["later"], rejected_by_reason=counts["rejected_by_reason"])
