"""`create_app(settings)`: the FastAPI app serving the REST API under /api/v1 (OpenAPI at /openapi.json).

The app holds one database engine, the settings and the vault in `app.state.context` (api/context.py).
The console mounts its own router into the same app with `app.include_router(...)`; it reaches the
same context and the same service functions.
"""

from fastapi import APIRouter, Depends, FastAPI, Request

from api.context import Context
from api.errors import ERROR_RESPONSES, install_error_handlers
from api.routes import destinations, exports, me, runs
from console.app import mount_console
from control.accounts import ensure_default_account
from control.models import connect
from control.secrets import Vault
from transforms.errors import ConfigError

__all__ = ["create_app", "API_PREFIX"]

API_PREFIX = "/api/v1"


def _query_names(dependant):
    """The query parameters a route takes, its dependencies' included."""
    return {param.alias for param in dependant.query_params}.union(*map(_query_names, dependant.dependencies))


def _known_query_only(request: Request):
    """A misspelt filter (`?stat=Done`) would otherwise be ignored and answer everything: refuse it."""
    known = _query_names(request.scope["route"].dependant)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise ConfigError(f"unknown query parameter {unknown[0]!r}; this endpoint takes "
                          f"{', '.join(sorted(known)) or 'none'}", field=unknown[0])


def create_app(settings):
    """The app for this deployment: its database (tables created if new) and the default account ready."""
    engine = connect(settings.db)
    ensure_default_account(engine, settings)
    app = FastAPI(title="eventexport", version="1", docs_url=None, redoc_url=None,   # their pages load a CDN
                  description="Export product-analytics events and profiles to your S3 bucket. Every request "
                              "needs `Authorization: Bearer <token>` (from `eventexport user token EMAIL`) "
                              "and sees only the token's account.")
    app.state.context = Context(engine=engine, settings=settings, vault=Vault(settings))
    install_error_handlers(app)
    api = APIRouter(prefix=API_PREFIX, responses=ERROR_RESPONSES, dependencies=[Depends(_known_query_only)])
    for module in (me, destinations, exports, runs):
        api.include_router(module.router)
    app.include_router(api)
    mount_console(app, settings, engine, app.state.context.vault)   # the web console, at /console/
    return app
