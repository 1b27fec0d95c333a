"""/api/v1/estimates: what an export with given settings would give, before it is created."""

from fastapi import APIRouter, Depends

from api.auth import current_user
from api.context import Context, context
from api.schemas import Estimate, EstimateIn
from control.estimates import estimate_for_account

__all__ = ["router"]

router = APIRouter(tags=["exports"])


@router.post("/estimates", response_model=Estimate,
             summary="Rows, compressed bytes and objects an export would give, per event, with error bars")
def create_estimate(body: EstimateIn, user: dict = Depends(current_user), ctx: Context = Depends(context)):
    return estimate_for_account(ctx.engine, ctx.settings, user["account_id"], **body.model_dump())
