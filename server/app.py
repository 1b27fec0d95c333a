"""`create_app(settings)`: the deployment's app, the REST API at /api/v1 and the web console at /console.

The composition root: it opens the database (tables created if new), readies the default account, puts
the shared `Context` on the app, and adds the API and the console. What holds for every answer is added
here too: security headers (server/headers.py) and the body limit (server/body_limit.py). HTTP errors,
unexpected failures and too-large bodies are answered here, since only here both surfaces are known: as a
page under the console's path, as JSON anywhere else.
"""

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import Request

from api.app import API_DESCRIPTION, add_api
from api.context import Context
from api.errors import error_body, http_error, unexpected
from api.routes.health import mount_health
from console.app import CONSOLE_PREFIX, error_page, mount_console
from control.accounts import ensure_default_account
from control.models import connect
from control.secrets import Vault
from server.body_limit import MAX_BODY_BYTES, BodyLimit
from server.headers import SecurityHeaders

__all__ = ["create_app"]


def _in_console(request):
    path = request.url.path
    return path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")


def _too_large(scope):
    request = Request(scope)
    if _in_console(request):
        return error_page(request, 413)
    return JSONResponse(error_body("too_large", f"the request body is larger than {MAX_BODY_BYTES >> 20} MiB; "
                                                "send less at once"), status_code=413)


def _http_error(request, error):
    if _in_console(request):
        return error_page(request, error.status_code)
    return http_error(request, error)


def _unexpected(request, error):
    answer = unexpected(request, error)   # logs it
    return error_page(request, 500) if _in_console(request) else answer


def create_app(settings):
    """The app for this deployment: its database ready (migrated if new; SchemaError if it needs `eventexport db
    upgrade`), the REST API, health and metrics, and the console on it."""
    engine = connect(settings.db)
    ensure_default_account(engine, settings)
    app = FastAPI(**API_DESCRIPTION)
    app.state.context = Context(engine=engine, settings=settings, vault=Vault(settings))
    add_api(app)
    mount_health(app, engine)   # /healthz, /readyz, /metrics
    mount_console(app, settings, engine, app.state.context.vault)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    app.add_middleware(BodyLimit, refusal=_too_large)
    app.add_middleware(SecurityHeaders)   # added last, so outermost: the body limit's refusals carry them too
    return app
