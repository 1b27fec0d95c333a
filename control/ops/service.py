"""`eventexport scheduler` as a service: a pass every `interval` seconds, its metrics and health on a port,
its lines in the deployment's log format, and a clean stop on SIGTERM or Ctrl-C (shutdown.py)."""

import logging

from control.ops import health, shutdown
from control.scheduler import run_forever

__all__ = ["run_scheduler"]

_LOG = logging.getLogger("eventexport.scheduler")


def run_scheduler(engine, settings, vault, interval, metrics_port=None):
    """Run passes until a stop is asked for; return the exit status (0)."""
    shutdown.install(settings.stop_grace_seconds)
    server = None
    if metrics_port is not None:
        server = health.serve_in_thread(engine, metrics_port, settings.metrics_host)
        _LOG.info("metrics, /healthz and /readyz at http://%s:%d/", settings.metrics_host, server.server_port)
    _LOG.info("scheduler started: a pass every %.0f s, up to %d runs at once, %d per account", interval,
              settings.max_concurrent_runs, settings.max_runs_per_account)
    try:
        run_forever(engine, settings, vault, interval, log=_LOG.info, warn=_LOG.warning)
    finally:
        if server is not None:
            server.shutdown()
    _LOG.info("scheduler stopped")
    return 0
