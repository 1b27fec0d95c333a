"""Mounting the console on an app: its pages under `prefix`, its static files from the package, and the
pages it answers HTTP errors with."""

import html
import os

from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from console import (destination_pages, estimate_pages, export_pages, log_pages, login_pages, notification_pages,
                     settings_pages, user_pages)
from console.filters import FILTERS
from console.session import SessionCodec
from console.web import TEMPLATES, Console, open_page

__all__ = ["mount_console", "error_page", "CONSOLE_PREFIX"]

CONSOLE_PREFIX = "/console"
STATIC = os.path.join(os.path.dirname(__file__), "static")
_ERRORS = {
    403: ("Not allowed", "Your role may not do this. Ask an admin of your account."),
    404: ("No such page", "There is no page at this address. It may have moved, or the link is mistyped."),
    405: ("Not allowed here", "This address does not take that kind of request."),
    413: ("Too large", "What was sent is larger than the console takes (1 MiB). Send less at once."),
    500: ("Something went wrong", "The server failed unexpectedly; the error is in its log. Try again later."),
}


def mount_console(app, settings, engine, vault, prefix=CONSOLE_PREFIX):
    """Serve the console at `prefix` on `app` (a FastAPI app), calling the control-plane services with
    `engine` and `vault`. Nothing is fetched from elsewhere: templates and static files are the package's."""
    templates = Jinja2Templates(directory=TEMPLATES)
    templates.env.filters.update(FILTERS)
    app.state.console = Console(settings, engine, vault, SessionCodec(vault.derive("console-session")), templates,
                                prefix)
    app.mount(f"{prefix}/static", StaticFiles(directory=STATIC), name="console-static")
    for module in (login_pages, log_pages, export_pages, estimate_pages, settings_pages, destination_pages,
                   user_pages, notification_pages):
        app.include_router(module.router, prefix=prefix)
    if prefix:   # a person who opens the server's address lands in the console
        app.add_api_route("/", lambda: RedirectResponse(f"{prefix}/", status_code=307), include_in_schema=False)
    return app


def error_page(request, status_code):
    """The console's page for HTTP error `status_code` (an unknown path, a body too large), with that status."""
    title, message = _ERRORS.get(status_code, ("Something went wrong", f"The request failed ({status_code})."))
    try:
        return open_page(request).render("message.html", status_code=status_code, title=title, message=message)
    except Exception:   # the database is down, say: a plain page still tells what happened
        return HTMLResponse(f"<!doctype html><title>{html.escape(title)}</title><h1>{html.escape(title)}</h1>"
                            f"<p>{html.escape(message)}</p>", status_code=status_code)
