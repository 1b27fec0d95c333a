"""Settings > Partners > Exports: the account's S3 destinations, the AWS S3 form with Test connection,
the data-region table and the least-privilege policy to give the key.

The secret access key goes one way: from the form to the destinations service, which seals it. No
page or JSON answer ever carries it (or the stored key id) back; a form shown again after a refusal
keeps every other value and asks for the secret afresh.
"""

import json

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from console.web import field_errors, open_form, open_page, sentence
from control.destinations import (add_destination, list_destinations, public_view, remove_destination,
                                  test_connection, test_destination)
from transforms.errors import ExportError
from transforms.sinks.s3 import SSE_MODES
from transforms.sinks.preflight import DATA_REGIONS, least_privilege_policy

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

FIELDS = ("name", "bucket", "data_region", "access_key_id", "secret_access_key", "prefix", "endpoint_url",
          "path_style", "sse", "sse_kms_key_id", "region")
_KEPT = ("name", "bucket", "data_region", "prefix", "endpoint_url", "path_style", "sse", "sse_kms_key_id", "region")
PLACEHOLDER_BUCKET = "YOUR-BUCKET-NAME"


def _settings_page(page, status=200, values=None, errors=None, result=None):
    values = values or {"data_region": page.account.get("data_region") or "", "sse": "none"}
    destinations = [public_view(d) for d in list_destinations(page.console.engine, page.account_id)]
    policy = least_privilege_policy(values.get("bucket") or PLACEHOLDER_BUCKET)
    return page.render("settings_exports.html", status_code=status, destinations=destinations, values=values,
                       errors=errors or {}, result=result, data_regions=DATA_REGIONS, sse_modes=SSE_MODES,
                       policy_text=json.dumps(policy, indent=2), placeholder_bucket=PLACEHOLDER_BUCKET,
                       account_region=page.account.get("data_region"))


@router.get("/settings/exports")
async def settings_exports(request: Request):
    page = open_page(request)
    if not page.user:
        return page.to_login()
    return _settings_page(page, values=(page.session.get("flash") or {}).get("values"))


def _arguments(form):
    values = {k: str(form.get(k, "")).strip() for k in FIELDS if k != "path_style"}
    values["path_style"] = form.get("path_style") in ("on", "true", "1")
    values["secret_access_key"] = str(form.get("secret_access_key", ""))   # spaces may be part of a secret
    arguments = dict(values)
    for optional in ("endpoint_url", "region", "sse_kms_key_id", "data_region"):
        arguments[optional] = arguments[optional] or None
    return {k: values[k] for k in _KEPT}, arguments


def _answer(page, wants_json, values, *, errors=None, status=422, result=None, saved=None):
    """JSON for console.js (which keeps the typed secret in place); else a refusal drawn again with its
    status, or a redirect whose page shows the outcome and the form's values (never the secret)."""
    if wants_json:
        body = {"ok": not errors, "errors": errors or {}, "message": result and result["message"]}
        if saved:
            body["redirect"] = page.url(f"/settings/exports?saved={saved}")
        return page.respond(JSONResponse(body, status_code=status if errors else 200))
    if saved:
        return page.redirect(f"/settings/exports?saved={saved}")
    if errors:
        return _settings_page(page, status=status, values=values, errors=errors, result=result)
    return page.redirect("/settings/exports", flash=result["message"], values=values)


@router.post("/settings/exports")
async def save_or_test(request: Request):
    """The AWS S3 form: `action=test` runs the connection test only, `action=save` tests and saves."""
    page, form, answer = await open_form(request, admin=True)
    if answer:
        return answer
    wants_json = "application/json" in request.headers.get("accept", "")
    values, arguments = _arguments(form)
    engine, vault, account = page.console.engine, page.console.vault, page.account_id
    try:
        if form.get("action") == "test":
            arguments.pop("name")
            region = test_connection(engine, vault, account, **arguments)
            return _answer(page, wants_json, values, result={
                "ok": True, "message": f"Connection test passed: listed bucket {arguments['bucket']!r} "
                                       f"(region {region}) and put a test object under the prefix."})
        add_destination(engine, vault, account, **arguments)
    except ExportError as error:
        errors = field_errors(error, FIELDS)
        return _answer(page, wants_json, values, errors=errors, status=error.http_status,
                       result={"ok": False, "message": sentence(error)} if "_form" in errors else None)
    return _answer(page, wants_json, values, saved=arguments["name"])


@router.post("/settings/exports/{name}/test")
async def test_saved(request: Request, name: str):
    """A saved destination's Test button: it puts the test object, so it is an admin's, as in the API."""
    page, _, answer = await open_form(request, admin=True)
    if answer:
        return answer
    try:
        region = test_destination(page.console.engine, page.console.vault, name, page.account_id)
    except ExportError as error:
        return _settings_page(page, status=error.http_status, result={"ok": False, "message": f"{name}: {error}"})
    return page.redirect("/settings/exports", flash=f"{name}: connection test passed (bucket region {region}).")


@router.post("/settings/exports/{name}/remove")
async def remove(request: Request, name: str):
    page, _, answer = await open_form(request, admin=True)
    if answer:
        return answer
    try:
        remove_destination(page.console.engine, name, page.account_id)
    except ExportError as error:
        return _settings_page(page, status=error.http_status, result={"ok": False, "message": sentence(error)})
    return page.redirect("/settings/exports", flash=f"Destination {name!r} removed.")
