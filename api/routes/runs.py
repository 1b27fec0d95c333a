"""/api/v1/runs and /api/v1/activity: runs, the activity log, a run's objects and its verification."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from api.auth import current_user
from api.context import Context, context
from api.schemas import ActivityPage, Instant, ManifestObject, Run, RunPage, Text, VerifyResult
from control import activity as log
from control import runs as service

__all__ = ["router"]

router = APIRouter(tags=["runs"])

RunId = Annotated[int, Path(ge=1, le=2**31 - 1, description="a run's id, from the runs list or the log")]


class _Filters:
    """The filters and paging that runs and the activity log share."""

    def __init__(self, request_id: Annotated[Text | None, Query(description="request id or its first characters")]
                 = None,
                 status: Annotated[Text | None, Query(description=f"one of {', '.join(log.STATUSES)}")] = None,
                 since: Annotated[Instant | None, Query(description="windows ending after this instant")] = None,
                 until: Annotated[Instant | None, Query(description="windows starting before this instant")] = None,
                 limit: Annotated[int, Query(ge=1, le=log.MAX_PAGE)] = 50,
                 offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0):
        self.where = {"request_id": request_id, "status": status, "since": since, "until": until}
        self.limit, self.offset = limit, offset


@router.get("/runs", response_model=RunPage, summary="The account's runs, newest window first")
def list_runs(filters: _Filters = Depends(), user: dict = Depends(current_user), ctx: Context = Depends(context)):
    account = user["account_id"]
    return {"items": service.list_runs(ctx.engine, account, limit=filters.limit, offset=filters.offset,
                                       **filters.where),
            "total": service.count_runs(ctx.engine, account, **filters.where),
            "limit": filters.limit, "offset": filters.offset}


@router.get("/runs/{run_id}", response_model=Run, summary="One run")
def show_run(run_id: RunId, user: dict = Depends(current_user), ctx: Context = Depends(context)):
    return service.public_run(service.get_run(ctx.engine, run_id, user["account_id"]))


@router.get("/runs/{run_id}/objects", response_model=list[ManifestObject],
            summary="The objects a Done run wrote, from its manifest")
def run_objects(run_id: RunId, user: dict = Depends(current_user), ctx: Context = Depends(context)):
    return service.run_objects(ctx.engine, ctx.settings, run_id, user["account_id"])


@router.get("/runs/{run_id}/manifest", response_model=dict, summary="A Done run's manifest")
def run_manifest(run_id: RunId, user: dict = Depends(current_user), ctx: Context = Depends(context)):
    return service.run_manifest(ctx.engine, ctx.settings, run_id, user["account_id"])


@router.post("/runs/{run_id}/verify", response_model=VerifyResult,
             summary="Check a Done run's objects against its manifest by listing the bucket")
def verify_run(run_id: RunId, user: dict = Depends(current_user), ctx: Context = Depends(context)):
    result = service.verify_run(ctx.engine, ctx.settings, ctx.vault, run_id, user["account_id"])
    return {"ok": not [f for f in result["findings"] if f["problem"] != "unlisted"], "findings": result["findings"],
            "checks": result["checks"]}


@router.get("/activity", response_model=ActivityPage,
            summary="The activity log: each request and its runs (a request with no run yet shows Pending)")
def activity(filters: _Filters = Depends(), newest_first: bool = False, user: dict = Depends(current_user),
             ctx: Context = Depends(context)):
    account = user["account_id"]
    return {"items": log.activity(ctx.engine, account, limit=filters.limit, offset=filters.offset,
                                  newest_first=newest_first, **filters.where),
            "total": log.count_activity(ctx.engine, account, **filters.where),
            "limit": filters.limit, "offset": filters.offset}
