"""The control plane's refusals of what an account's user asks: no such thing, a clash, who are you, you may
not, too many tries. Each carries the HTTP status every surface answers with (`http_status`), so the REST
API and the console cannot disagree on it; the pipeline's own errors stay in transforms/errors.py.
"""

from transforms.errors import ConfigError, ExportError

__all__ = ["NotFoundError", "ConflictError", "AuthenticationError", "PermissionDeniedError", "TooManyAttemptsError"]


class NotFoundError(ConfigError):
    """The named destination, export, run, account, user or token does not exist (in the caller's account)."""

    code = "not_found"
    http_status = 404


class ConflictError(ConfigError):
    """The request is valid but clashes with what exists (a name taken, an export already stopped)."""

    code = "conflict"
    http_status = 409


class AuthenticationError(ExportError):
    """No credentials, or ones we do not know (a bad token or password, an expired token)."""

    exit_code = 2
    code = "unauthenticated"
    http_status = 401


class PermissionDeniedError(ExportError):
    """The user is known but their role may not do this (a viewer asking to change something)."""

    exit_code = 2
    code = "forbidden"
    http_status = 403


class TooManyAttemptsError(ExportError):
    """Log-ins for this e-mail or from this address failed too often: none is tried, not even the right
    password, until `retry_after` seconds have passed (control/login_throttle.py)."""

    exit_code = 2
    code = "too_many_attempts"
    http_status = 429

    def __init__(self, message, *, retry_after):
        super().__init__(message)
        self.retry_after = retry_after
