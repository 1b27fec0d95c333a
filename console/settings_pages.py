"""Settings > Partners > Exports: the account's S3 destinations, the AWS S3 form with Test connection,
the data-region table, and what to paste into AWS: the permission policy for the role or key, the role's
trust policy with the account's external id, and both as a CloudFormation template (control/roles.py).

The secret access key goes one way: from the form to the destinations service, which seals it. No
page or JSON answer ever carries it (or the stored key id) back; a form shown again after a refusal
keeps every other value and asks for the secret afresh.
"""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from console.web import field_errors, open_form, open_page, sentence
from control.destinations import (add_destination, list_destinations, public_view, remove_destination,
                                  test_connection, test_destination)
from control.roles import role_setup
from transforms.errors import ExportError
from transforms.sinks.credentials import platform_principal
from transforms.sinks.s3 import SSE_MODES
from transforms.sinks.preflight import DATA_REGION_NAMES

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

FIELDS = ("name", "bucket", "data_region", "role_arn", "access_key_id", "secret_access_key", "prefix", "endpoint_url",
          "path_style", "sse", "sse_kms_key_id", "region")
_KEPT = ("name", "bucket", "data_region", "auth", "role_arn", "prefix", "endpoint_url", "path_style", "sse",
         "sse_kms_key_id", "region")
_KEY_FIELDS = ("access_key_id", "secret_access_key")
PLACEHOLDER_BUCKET = "YOUR-BUCKET-NAME"


def _settings_page(page, status=200, values=None, errors=None, result=None):
    values = values or {"data_region": page.account.get("data_region") or "", "sse": "none", "auth": "role"}
    destinations = [public_view(d) for d in list_destinations(page.console.engine, page.account_id)]
    setup = _setup(page, values)
    return page.render("settings_exports.html", status_code=status, destinations=destinations, values=values,
                       errors=errors or {}, result=result, data_regions=DATA_REGION_NAMES, sse_modes=SSE_MODES,
                       setup=setup, external_id=page.account["external_id"], principal=platform_principal(),
                       account_region=page.account.get("data_region"))


def _setup(page, values):
    """The policies and template for what the form holds so far (a placeholder for a bucket not yet typed)."""
    kms_key = values.get("sse_kms_key_id") if values.get("sse") == "aws:kms" else None
    return role_setup(page.account["external_id"], values.get("bucket") or PLACEHOLDER_BUCKET,
                      values.get("prefix") or "", kms_key)


@router.get("/settings/exports/role-setup")
async def role_setup_texts(request: Request):
    """The policies and template for the typed bucket, prefix and KMS key, for console.js to show as they change;
    `download=1` answers the CloudFormation template as a file."""
    page = open_page(request)
    if not page.user:
        return page.redirect("/login")
    values = {k: request.query_params.get(k, "").strip() for k in ("bucket", "prefix", "sse", "sse_kms_key_id")}
    setup = _setup(page, values)
    if request.query_params.get("download"):
        return page.respond(Response(setup["cloudformation"], media_type="application/json", headers={
            "Content-Disposition": 'attachment; filename="eventexport-role.json"'}))
    return page.respond(JSONResponse(setup))


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
    chosen = form.get("auth") or ("key" if values["access_key_id"] else "role")   # no choice sent: what was typed
    values["auth"] = "key" if chosen == "key" else "role"
    arguments = {k: v for k, v in values.items() if k != "auth"}
    for optional in ("endpoint_url", "region", "sse_kms_key_id", "data_region", "role_arn", *_KEY_FIELDS):
        arguments[optional] = arguments[optional] or None
    for unused in _KEY_FIELDS if values["auth"] == "role" else ("role_arn",):
        arguments[unused] = None   # the other way's fields, hidden in the form, are not sent on
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
