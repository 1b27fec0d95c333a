"""`eventexport serve`: run the app under uvicorn, on 127.0.0.1 unless told otherwise."""

import uvicorn

from api.app import create_app

__all__ = ["serve"]


def serve(settings, host="127.0.0.1", port=8000):
    """Serve until Ctrl-C; return the exit status."""
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
    return 0
