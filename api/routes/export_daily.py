"""/api/v1/exports/{request_id}/daily: an export's rows per day, which the export page charts."""

from fastapi import APIRouter, Depends

from api.auth import current_user
from api.context import Context, context
from api.schemas import DailyCounts, Text
from control.daily import daily_counts

__all__ = ["router"]

router = APIRouter(tags=["exports"])


@router.get("/exports/{request_id}/daily", response_model=DailyCounts,
            summary="Rows exported, rejected and left to later runs per day of an export's Done windows")
def export_daily(request_id: Text, user: dict = Depends(current_user), ctx: Context = Depends(context)):
    return daily_counts(ctx.engine, request_id, user["account_id"])
