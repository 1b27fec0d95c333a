"""/healthz, /readyz and /metrics on the API server, outside /api/v1 and without a token: a supervisor,
a load balancer and Prometheus call them. They show no account's data beyond counts by account id;
expose them to the monitoring network only (docs/deployment.md)."""

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from control.ops import health, metrics

__all__ = ["mount_health"]

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def healthz():
    return {"status": "up"}


@router.get("/readyz")
def readyz(request: Request):
    ready, found = health.readiness(request.app.state.metrics_engine)
    return JSONResponse(found, status_code=200 if ready else 503)


@router.get("/metrics")
def prometheus_metrics(request: Request):
    return Response(metrics.exposition(request.app.state.metrics_registry), media_type=metrics.CONTENT_TYPE)


def mount_health(app, engine):
    """Serve the three paths on `app`, reading the database through `engine`."""
    app.state.metrics_engine, app.state.metrics_registry = engine, metrics.registry(engine)
    app.include_router(router)
    return app
