"""/api/v1/exports: export requests, with every rule the CLI enforces (control/exports.py holds them)."""

from fastapi import APIRouter, Depends

from api.auth import admin_user, current_user
from api.context import Context, context
from api.schemas import Export, ExportIn, Text
from control import exports as service

__all__ = ["router"]

router = APIRouter(tags=["exports"])


@router.get("/exports", response_model=list[Export], summary="The account's export requests, oldest first")
def list_exports(user: dict = Depends(current_user), ctx: Context = Depends(context)):
    return [service.public_export(row) for row in service.list_exports(ctx.engine, user["account_id"])]


@router.post("/exports", response_model=Export, status_code=201, summary="Create an export request")
def create_export(body: ExportIn, user: dict = Depends(admin_user), ctx: Context = Depends(context)):
    request_id = service.create_export(ctx.engine, user["account_id"], **body.model_dump())
    return service.public_export(service.get_export(ctx.engine, request_id, user["account_id"]))


@router.get("/exports/{request_id}", response_model=Export, summary="One export request")
def show_export(request_id: Text, user: dict = Depends(current_user), ctx: Context = Depends(context)):
    return service.public_export(service.get_export(ctx.engine, request_id, user["account_id"]))


@router.post("/exports/{request_id}/stop", response_model=Export,
             summary="Stop a request: no new windows; its Pending, Failed and Running runs end Stopped")
def stop_export(request_id: Text, user: dict = Depends(admin_user), ctx: Context = Depends(context)):
    service.stop_export(ctx.engine, request_id, user["account_id"], by=user["email"])
    return service.public_export(service.get_export(ctx.engine, request_id, user["account_id"]))
