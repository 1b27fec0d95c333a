"""Every error answer is JSON: `{"error": {"code": "...", "message": "...", "field": "..."}}`.

The code is stable (clients branch on it), the message says what is wrong and how to fix it, and
`field` names the input at fault where there is one. Validation answers never echo the input back,
because the input may be a secret access key; an unexpected failure says only that it happened.
"""

import logging

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from control.errors import AuthenticationError, TooManyAttemptsError
from transforms.errors import ExportError

__all__ = ["install_error_handlers", "error_body", "http_error", "unexpected", "ERROR_RESPONSES"]

_log = logging.getLogger("eventexport.api")

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated", 403: "forbidden",
               413: "too_large"}

_ERROR_SCHEMA = {"application/json": {"schema": {"type": "object", "required": ["error"], "properties": {
    "error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string"}, "message": {"type": "string"},
        "field": {"type": ["string", "null"]}}}}}}}
ERROR_RESPONSES = {status: {"description": description, "content": _ERROR_SCHEMA} for status, description in (
    (401, "no token, or one we do not know"), (403, "a viewer asked to change something"),
    (404, "no such thing in the token's account"), (409, "it clashes with what exists (a name taken, already "
                                                             "stopped, a run not Done yet)"),
    (413, "the request body is larger than the server takes (1 MiB)"),
    (422, "the request breaks a rule or is not well-formed; `field` says where"),
    (429, "too many failed log-ins; try again after the Retry-After header's seconds"),
    (503, "the bucket's S3 endpoint could not be reached; try again later"))}
_NOT_AN_OBJECT = "the request body must be a JSON object (Content-Type: application/json); see /openapi.json"


def error_body(code, message, field=None):
    return {"error": {"code": code, "message": message, "field": field}}


def _export_error(_request, error):
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, AuthenticationError) else {}
    if isinstance(error, TooManyAttemptsError):
        headers["Retry-After"] = str(error.retry_after)
    return JSONResponse(error_body(error.code, str(error), error.field), status_code=error.http_status,
                        headers=headers)


def _validation_error(_request, error):
    problems = error.errors()
    first = problems[0] if problems else {"loc": (), "msg": "invalid request"}
    if tuple(first.get("loc", ())) in (("body",), ("body", 0)) and first.get("type") != "missing":
        return JSONResponse(error_body("invalid", _NOT_AN_OBJECT), status_code=422)
    names = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    where = ".".join(names)
    message = f"{where}: {first['msg']}" if where else first["msg"]
    if len(problems) > 1:
        message += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
    return JSONResponse(error_body("invalid", message, names[0] if names else None), status_code=422)


def http_error(_request, error):
    if error.status_code == 400:   # FastAPI's answer to a body that is not even text; the same as bad JSON
        return JSONResponse(error_body("invalid", _NOT_AN_OBJECT), status_code=422)
    code = _HTTP_CODES.get(error.status_code, "http_error")
    message = "no such endpoint; see /openapi.json" if error.status_code == 404 else str(error.detail)
    return JSONResponse(error_body(code, message), status_code=error.status_code, headers=error.headers)


def unexpected(_request, error):
    _log.error("unexpected %s in the API", type(error).__name__, exc_info=error)
    return JSONResponse(error_body("internal", "the server failed unexpectedly; the error is in its log"),
                        status_code=500)


def install_error_handlers(app: FastAPI):
    """The API's refusals as JSON. HTTP errors and unexpected failures are the composition root's to
    install (server/app.py), which answers them as pages under the console's path."""
    app.add_exception_handler(ExportError, _export_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
