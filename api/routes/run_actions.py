"""Runs under the customer's hand (admins only): cancel a run, retry one now, backfill past windows."""

from fastapi import APIRouter, Depends

from api.auth import admin_user
from api.context import Context, context
from api.routes.runs import RunId
from api.schemas import BackfillIn, Run, Text
from control import run_actions as service
from control.runs import public_run

__all__ = ["router"]

router = APIRouter(tags=["runs"])


@router.post("/runs/{run_id}/cancel", response_model=Run,
             summary="Cancel a Pending, Running or Failed run: it ends Stopped (a Running one within seconds, "
                     "without a manifest)")
def cancel_run(run_id: RunId, user: dict = Depends(admin_user), ctx: Context = Depends(context)):
    return public_run(service.cancel_run(ctx.engine, run_id, user["account_id"], by=user["email"]))


@router.post("/runs/{run_id}/retry", response_model=Run,
             summary="Run a Failed or Stopped run again now, with its run timestamp (the same keys and bytes)")
def retry_run(run_id: RunId, user: dict = Depends(admin_user), ctx: Context = Depends(context)):
    return public_run(service.retry_run(ctx.engine, run_id, user["account_id"]))


@router.post("/exports/{request_id}/backfill", response_model=list[Run], status_code=201,
             summary="Export past windows of a recurring export again, or for the first time, under its request id")
def backfill(request_id: Text, body: BackfillIn, user: dict = Depends(admin_user), ctx: Context = Depends(context)):
    made = service.backfill(ctx.engine, request_id, user["account_id"], start=body.from_, end=body.to,
                            replace=body.replace)
    return [public_run(run) for run in made]
