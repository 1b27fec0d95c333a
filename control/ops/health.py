"""Liveness and readiness, and the small HTTP server through which a scheduler shows them and its metrics.

`/healthz`: the process is up and answering (a supervisor restarts it otherwise). `/readyz`: the control
database is reachable and has this release's schema (a load balancer sends no traffic otherwise; after a
database was restored from an older backup, or upgraded by a newer release, it says which). The API
serves the same paths (api/routes/health.py); the scheduler serves them on its metrics port
(`EVENTEXPORT_METRICS_PORT` or `eventexport scheduler --metrics-port`).
"""

import json
import threading
import wsgiref.simple_server

from prometheus_client.exposition import ThreadingWSGIServer
from sqlalchemy.exc import SQLAlchemyError

from control import schema
from control.ops import metrics

__all__ = ["readiness", "serve_in_thread"]


def readiness(engine):
    """(ready, what was found): the database reachable, and its schema this release's."""
    try:
        with engine.connect() as connection:
            found = schema.state(connection)
    except SQLAlchemyError as error:   # the type only: a driver's message may name hosts and users
        return False, {"database": f"unreachable ({type(error).__name__})", "schema": "unknown"}
    problem = found.problem()
    return problem is None, {"database": "reachable", "schema": problem or f"current ({found.revision})"}


class _Quiet(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, *_):
        """Scrapes every few seconds would drown the scheduler's own log."""


def _app(engine, registry):
    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            body, status, kind = metrics.exposition(registry), "200 OK", metrics.CONTENT_TYPE
        elif path in ("/healthz", "/readyz"):
            ready, found = (True, {"status": "up"}) if path == "/healthz" else readiness(engine)
            body, status, kind = (json.dumps(found).encode(), "200 OK" if ready else "503 Service Unavailable",
                                  "application/json")
        else:
            body, status, kind = b"/metrics, /healthz or /readyz\n", "404 Not Found", "text/plain"
        start_response(status, [("Content-Type", kind), ("Content-Length", str(len(body)))])
        return [body]
    return app


def serve_in_thread(engine, port, host="127.0.0.1"):
    """Serve /metrics, /healthz and /readyz on `host`:`port` (0: any free port) from a daemon thread;
    return the server (its `server_port`; `shutdown()` stops it)."""
    server = wsgiref.simple_server.make_server(host, port, _app(engine, metrics.registry(engine)),
                                               ThreadingWSGIServer, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    return server
