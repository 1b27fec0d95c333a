"""/api/v1/me: who the token belongs to, and their account."""

from fastapi import APIRouter, Depends

from api.auth import current_user
from api.context import Context, context
from api.schemas import Me
from control.accounts import get_account

__all__ = ["router"]

router = APIRouter(tags=["account"])


@router.get("/me", response_model=Me, summary="The token's user, role and account")
def me(user: dict = Depends(current_user), ctx: Context = Depends(context)):
    account = get_account(ctx.engine, user["account_id"])
    return {"email": user["email"], "role": user["role"], "account_id": account["id"],
            "account_name": account["name"], "data_region": account["data_region"],
            "database_id": account["database_id"]}
