"""What every request handler needs from the running app: the database, the settings and the vault.

server/app.py's `create_app` puts one `Context` on `app.state.context`; the API's handlers take it with
`Depends(context)`.
"""

import dataclasses

from fastapi import Request

__all__ = ["Context", "context"]


@dataclasses.dataclass(frozen=True)
class Context:
    engine: object     # sqlalchemy Engine
    settings: object   # control.settings.Settings
    vault: object      # control.secrets.Vault


def context(request: Request) -> Context:
    return request.app.state.context
