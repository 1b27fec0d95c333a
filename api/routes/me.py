"""/api/v1/me: who the token belongs to, their account, their password and their own API tokens."""

from fastapi import APIRouter, Depends, Request, Response

from api.auth import current_user
from api.context import Context, context
from api.schemas import Me, PasswordChangeIn, RoleSetup, Text, Token
from control import accounts, roles
from transforms.sinks.credentials import platform_principal

__all__ = ["router"]

router = APIRouter(tags=["account"])


@router.get("/me", response_model=Me, summary="The token's user, role and account")
def me(user: dict = Depends(current_user), ctx: Context = Depends(context)):
    account = accounts.get_account(ctx.engine, user["account_id"])
    return {"email": user["email"], "role": user["role"], "account_id": account["id"],
            "account_name": account["name"], "data_region": account["data_region"],
            "database_id": account["database_id"], "external_id": account["external_id"],
            "role_principal": platform_principal()}


@router.get("/me/role-setup", response_model=RoleSetup,
            summary="What to paste into AWS for a role destination: its policies and a CloudFormation template")
def role_setup(bucket: Text, prefix: Text = "", sse_kms_key_id: Text | None = None,
               user: dict = Depends(current_user), ctx: Context = Depends(context)):
    external_id = accounts.get_account(ctx.engine, user["account_id"])["external_id"]
    return {"trust_policy": roles.trust_policy(external_id),
            "permission_policy": roles.permission_policy(bucket, prefix, sse_kms_key_id),
            "cloudformation": roles.cloudformation_template(external_id, bucket, prefix, sse_kms_key_id)}


@router.put("/me/password", status_code=204, response_class=Response,
            summary="Change your own password (the current one is checked, and guesses are throttled)")
def change_password(body: PasswordChangeIn, request: Request, user: dict = Depends(current_user),
                    ctx: Context = Depends(context)):
    accounts.change_password(ctx.engine, user["email"], body.current_password, body.new_password,
                             client=request.client.host if request.client else None)
    return Response(status_code=204)


@router.get("/me/tokens", response_model=list[Token], summary="Your API tokens (never the tokens themselves)")
def my_tokens(user: dict = Depends(current_user), ctx: Context = Depends(context)):
    return accounts.list_tokens(ctx.engine, user["email"])


@router.delete("/me/tokens/{token_id}", status_code=204, response_class=Response,
               summary="Revoke one of your API tokens")
def revoke_my_token(token_id: int, user: dict = Depends(current_user), ctx: Context = Depends(context)):
    accounts.revoke_token(ctx.engine, user["email"], token_id)
    return Response(status_code=204)
