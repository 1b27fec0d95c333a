"""Serving the app: `serve` for `eventexport serve` (until Ctrl-C), `serve_in_thread` for `make console`
and the browser test, whose caller keeps its own thread for the scheduler, the local S3 server and Ctrl-C."""

import logging
import sys
import threading
import time

import uvicorn

from server.app import create_app
from transforms.runtime import logs

__all__ = ["serve", "serve_in_thread"]

_START_TIMEOUT = 30.0   # seconds; uvicorn binds in well under one


def serve(settings, host="127.0.0.1", port=8000):
    """Serve the deployment's app until Ctrl-C; return the exit status. uvicorn's own lines are in the
    deployment's log format, its access log on stdout and the rest on stderr, as uvicorn keeps them."""
    logs.configure(settings.log_format)
    access = logging.getLogger("uvicorn.access")
    access.addHandler(logs.handler(settings.log_format, sys.stdout))
    access.propagate = False
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info", log_config=None)
    return 0


def serve_in_thread(app, host="127.0.0.1", port=0):
    """Start uvicorn on `host`:`port` (0: the OS picks a free port); return (server, base URL).
    Stop it with `server.should_exit = True`."""
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="eventexport-http", daemon=True)
    thread.start()
    deadline = time.monotonic() + _START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the server could not start on {host}:{port} (is the port taken?)")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()
    return server, f"http://{bound[0]}:{bound[1]}"
