"""The REST API under /api/v1 (OpenAPI at /openapi.json): its routes, its JSON refusals, its description.

`add_api(app)` adds it to the deployment's app, which server/app.py assembles with the console; the
handlers reach the database, settings and vault through `app.state.context` (api/context.py).
"""

from fastapi import APIRouter, Depends, FastAPI, Request

from api.errors import ERROR_RESPONSES, install_error_handlers
from api.routes import destinations, estimates, export_daily, exports, me, notifications, run_actions, runs, users
from transforms.errors import ConfigError

__all__ = ["add_api", "API_PREFIX", "API_DESCRIPTION"]

API_PREFIX = "/api/v1"
API_DESCRIPTION = dict(
    title="eventexport", version="1", docs_url=None, redoc_url=None,   # the docs pages load a CDN
    description="Export product-analytics events and profiles to your S3 bucket. Every request needs "
                "`Authorization: Bearer <token>` (from `eventexport user token EMAIL`) and sees only the token's "
                "account.")


def _query_names(dependant):
    """The query parameters a route takes, its dependencies' included."""
    return {param.alias for param in dependant.query_params}.union(*map(_query_names, dependant.dependencies))


def _known_query_only(request: Request):
    """A misspelt filter (`?stat=Done`) would otherwise be ignored and answer everything: refuse it. A parameter
    given twice would be read as its last value alone: refuse that too (every parameter here takes one value)."""
    known = _query_names(request.scope["route"].dependant)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise ConfigError(f"unknown query parameter {unknown[0]!r}; this endpoint takes "
                          f"{', '.join(sorted(known)) or 'none'}", field=unknown[0])
    twice = sorted(name for name in set(request.query_params) if len(request.query_params.getlist(name)) > 1)
    if twice:
        raise ConfigError(f"query parameter {twice[0]!r} is given more than once; give it once", field=twice[0])


def add_api(app: FastAPI):
    """Serve the REST API on `app`, whose `state.context` holds the deployment's engine, settings and vault."""
    install_error_handlers(app)
    api = APIRouter(prefix=API_PREFIX, responses=ERROR_RESPONSES, dependencies=[Depends(_known_query_only)])
    for module in (me, users, destinations, exports, export_daily, estimates, runs, run_actions, notifications):
        api.include_router(module.router)
    app.include_router(api)
    return app
