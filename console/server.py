"""Serving an app from a background thread, for `make console` and the browser test: the caller keeps
its own thread for the scheduler, the local S3 server and Ctrl-C."""

import threading
import time

import uvicorn

__all__ = ["serve_in_thread"]

_START_TIMEOUT = 30.0   # seconds; uvicorn binds in well under one


def serve_in_thread(app, host="127.0.0.1", port=0):
    """Start uvicorn on `host`:`port` (0: the OS picks a free port); return (server, base URL).
    Stop it with `server.should_exit = True`."""
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="console-http", daemon=True)
    thread.start()
    deadline = time.monotonic() + _START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the console could not start on {host}:{port} (is the port taken?)")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()
    return server, f"http://{bound[0]}:{bound[1]}"
