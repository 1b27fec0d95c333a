"""`create_app(settings)`: the FastAPI app serving the REST API under /api/v1 (OpenAPI at /openapi.json).

The app holds one database engine, the settings and the vault in `app.state.context` (api/context.py).
The console mounts its own router into the same app with `app.include_router(...)`; it reaches the
same context and the same service functions.
"""

from fastapi import APIRouter, FastAPI

from api.context import Context
from api.errors import ERROR_RESPONSES, install_error_handlers
from api.routes import destinations, exports, me, runs
from control.accounts import ensure_default_account
from control.models import connect
from control.secrets import Vault

__all__ = ["create_app", "API_PREFIX"]

API_PREFIX = "/api/v1"


def create_app(settings):
    """The app for this deployment: its database (tables created if new) and the default account ready."""
    engine = connect(settings.db)
    ensure_default_account(engine, settings)
    app = FastAPI(title="eventexport", version="1",
                  description="Export product-analytics events and profiles to your S3 bucket. Every request "
                              "needs `Authorization: Bearer <token>` (from `eventexport user token EMAIL`) "
                              "and sees only the token's account.")
    app.state.context = Context(engine=engine, settings=settings, vault=Vault(settings))
    install_error_handlers(app)
    api = APIRouter(prefix=API_PREFIX, responses=ERROR_RESPONSES)
    for module in (me, destinations, exports, runs):
        api.include_router(module.router)
    app.include_router(api)
    return app
