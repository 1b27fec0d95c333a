"""`eventexport scheduler` as a service: a pass every `interval` seconds, its metrics and health on a port,
its lines in the deployment's log format, and a clean stop on SIGTERM or Ctrl-C (shutdown.py)."""

import logging

from control.ops import health, metrics, shutdown
from control.scheduler import run_due

__all__ = ["run_scheduler"]

_LOG = logging.getLogger("eventexport.scheduler")


def run_scheduler(engine, settings, vault, interval, metrics_port=None):
    """Run passes until a stop is asked for; return the exit status (0)."""
    shutdown.install(settings.stop_grace_seconds)
    server = None
    if metrics_port is not None:
        server = health.serve_in_thread(engine, metrics_port, settings.metrics_host)
        _LOG.info("metrics, /healthz and /readyz at http://%s:%d/", settings.metrics_host, server.server_port)
    _LOG.info("scheduler started: a pass every %.0f s", interval)
    try:
        while not shutdown.requested():
            try:
                run_due(engine, settings, vault, log=_LOG.info)
                metrics.pass_done(ok=True)
            except Exception as error:  # a database blip must not stop the scheduler; the next pass retries
                metrics.pass_done(ok=False)
                detail = str(error).splitlines()[0] if str(error) else ""
                _LOG.warning("pass failed, retrying in %.0f s: %s: %s", interval, type(error).__name__, detail)
            shutdown.wait(interval)
    finally:
        if server is not None:
            server.shutdown()
    _LOG.info("scheduler stopped")
    return 0
