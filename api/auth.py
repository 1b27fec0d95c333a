"""Bearer-token authentication: every request acts as the token's user, inside the user's account.

`current_user` answers 401 for a missing or unknown token; `admin_user` also answers 403 for a viewer.
The checks are control.accounts' own, so the console and the API cannot disagree on them.
"""

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.context import Context, context
from control.accounts import require_admin, user_for_token

__all__ = ["current_user", "admin_user"]

_bearer = HTTPBearer(auto_error=False, description="a token from `eventexport user token EMAIL`")


def current_user(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
                 ctx: Context = Depends(context)) -> dict:
    """The token's user (email, role, account_id)."""
    token = credentials.credentials if credentials and credentials.scheme.lower() == "bearer" else None
    return user_for_token(ctx.engine, token)


def admin_user(user: dict = Depends(current_user)) -> dict:
    """The token's user, who must be an admin of their account."""
    require_admin(user)
    return user
