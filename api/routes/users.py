"""/api/v1/users: an admin manages the account's users (role, removal, a new password) and their tokens."""

from fastapi import APIRouter, Depends, Response

from api.auth import admin_user
from api.context import Context, context
from api.schemas import PasswordIn, RoleIn, Text, Token, User
from control import accounts

__all__ = ["router"]

router = APIRouter(tags=["users"])


@router.get("/users", response_model=list[User], summary="The account's users")
def list_users(user: dict = Depends(admin_user), ctx: Context = Depends(context)):
    return [accounts.shown_user(row) for row in accounts.list_users(ctx.engine, user["account_id"])]


@router.patch("/users/{email}", response_model=User, summary="Change a user's role (the last admin stays one)")
def change_role(email: Text, body: RoleIn, user: dict = Depends(admin_user), ctx: Context = Depends(context)):
    return accounts.shown_user(accounts.set_role(ctx.engine, user["account_id"], email, body.role))


@router.delete("/users/{email}", status_code=204, response_class=Response,
               summary="Remove a user and their tokens (not the last admin)")
def remove_user(email: Text, user: dict = Depends(admin_user), ctx: Context = Depends(context)):
    accounts.remove_user(ctx.engine, user["account_id"], email)
    return Response(status_code=204)


@router.put("/users/{email}/password", status_code=204, response_class=Response,
            summary="Set a new password for a user")
def reset_password(email: Text, body: PasswordIn, user: dict = Depends(admin_user), ctx: Context = Depends(context)):
    accounts.reset_password(ctx.engine, user["account_id"], email, body.password)
    return Response(status_code=204)


@router.get("/users/{email}/tokens", response_model=list[Token], summary="A user's API tokens")
def list_tokens(email: Text, user: dict = Depends(admin_user), ctx: Context = Depends(context)):
    return accounts.list_tokens(ctx.engine, email, user["account_id"])


@router.delete("/users/{email}/tokens/{token_id}", status_code=204, response_class=Response,
               summary="Revoke one API token of a user")
def revoke_token(email: Text, token_id: int, user: dict = Depends(admin_user), ctx: Context = Depends(context)):
    accounts.revoke_token(ctx.engine, email, token_id, user["account_id"])
    return Response(status_code=204)
