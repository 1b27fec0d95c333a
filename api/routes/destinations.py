"""/api/v1/destinations: a customer's buckets. Adding or editing one runs the connection test first."""

from fastapi import APIRouter, Depends, Response

from api.auth import admin_user, current_user
from api.context import Context, context
from api.schemas import ConnectionResult, Destination, DestinationIn, DestinationPatch, Text
from control import destinations as service

__all__ = ["router"]

router = APIRouter(tags=["destinations"])


def _passed(region):
    return ConnectionResult(bucket_region=region, message=f"connection test passed (bucket region {region})")


@router.get("/destinations", response_model=list[Destination], summary="The account's destinations")
def list_destinations(user: dict = Depends(current_user), ctx: Context = Depends(context)):
    return [service.public_view(row) for row in service.list_destinations(ctx.engine, user["account_id"])]


@router.post("/destinations", response_model=Destination, status_code=201,
             summary="Test a bucket and key, then save them")
def add_destination(body: DestinationIn, user: dict = Depends(admin_user), ctx: Context = Depends(context)):
    row = service.add_destination(ctx.engine, ctx.vault, user["account_id"], **body.model_dump())
    return service.public_view(row)


@router.post("/connection-tests", response_model=ConnectionResult,
             summary="Run the connection test on a destination without saving it")
def test_connection(body: DestinationIn, user: dict = Depends(admin_user), ctx: Context = Depends(context)):
    return _passed(service.test_connection(ctx.engine, ctx.vault, user["account_id"], **body.model_dump()))


@router.get("/destinations/{name}", response_model=Destination, summary="One destination")
def show_destination(name: Text, user: dict = Depends(current_user), ctx: Context = Depends(context)):
    return service.public_view(service.get_destination(ctx.engine, name, user["account_id"]))


@router.patch("/destinations/{name}", response_model=Destination,
              summary="Change a destination's key, prefix, endpoint or encryption; saved only if the connection "
                      "test passes")
def edit_destination(name: Text, body: DestinationPatch, user: dict = Depends(admin_user),
                     ctx: Context = Depends(context)):
    changes = body.model_dump(exclude_unset=True)
    return service.public_view(service.edit_destination(ctx.engine, ctx.vault, name, user["account_id"], **changes))


@router.post("/destinations/{name}/test", response_model=ConnectionResult,
             summary="Run the connection test again on a saved destination")
def test_destination(name: Text, user: dict = Depends(admin_user), ctx: Context = Depends(context)):
    return _passed(service.test_destination(ctx.engine, ctx.vault, name, user["account_id"]))


@router.delete("/destinations/{name}", status_code=204, response_class=Response,
               summary="Remove a destination no export names")
def remove_destination(name: Text, user: dict = Depends(admin_user), ctx: Context = Depends(context)):
    service.remove_destination(ctx.engine, name, user["account_id"])
    return Response(status_code=204)
