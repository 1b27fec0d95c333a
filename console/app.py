"""Mounting the console on an app: its pages under `prefix`, its static files from the package."""

import os

from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from console import log_pages, login_pages, settings_pages
from console.filters import FILTERS
from console.session import SessionCodec
from console.web import TEMPLATES, Console

__all__ = ["mount_console"]

STATIC = os.path.join(os.path.dirname(__file__), "static")


def mount_console(app, settings, engine, vault, prefix="/console"):
    """Serve the console at `prefix` on `app` (a FastAPI app), calling the control-plane services with
    `engine` and `vault`. Nothing is fetched from elsewhere: templates and static files are the package's."""
    templates = Jinja2Templates(directory=TEMPLATES)
    templates.env.filters.update(FILTERS)
    app.state.console = Console(settings, engine, vault, SessionCodec(vault.derive("console-session")), templates,
                                prefix)
    app.mount(f"{prefix}/static", StaticFiles(directory=STATIC), name="console-static")
    for module in (login_pages, log_pages, settings_pages):
        app.include_router(module.router, prefix=prefix)
    if prefix:   # a person who opens the server's address lands in the console
        app.add_api_route("/", lambda: RedirectResponse(f"{prefix}/", status_code=307), include_in_schema=False)
    return app
