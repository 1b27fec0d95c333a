"""Settings > Partners > Exports > Edit: a saved destination's role or key (rotation), prefix, endpoint and
encryption.

The destinations service runs the connection test on the new settings and saves them only if it passes
(control/destinations.py, `edit_destination`), so a refused edit leaves the destination as it was. The
stored key is never shown: the key fields start empty, and left empty they keep the key. The role ARN is
shown; a role ARN or a new key typed replaces whichever of the two the destination had.
"""

from fastapi import APIRouter, Request

from console.web import field_errors, open_form, open_page
from control.destinations import EDITABLE, edit_destination, get_destination, public_view
from control.errors import NotFoundError
from transforms.errors import ExportError
from transforms.sinks.s3 import SSE_MODES

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_SHOWN = tuple(f for f in EDITABLE if f not in ("role_arn", "access_key_id", "secret_access_key"))


def _edit_page(page, name, status=200, values=None, errors=None):
    try:
        current = public_view(get_destination(page.console.engine, name, page.account_id))
    except NotFoundError:
        return page.render("message.html", status_code=404, title="No such destination",
                           message="This account has no destination by that name.")
    values = values or {k: current[k] or "" for k in (*_SHOWN, "role_arn")}
    return page.render("destination_edit.html", status_code=status, destination=current, values=values,
                       errors=errors or {}, sse_modes=SSE_MODES)


@router.get("/settings/exports/{name}/edit")
async def edit_form(request: Request, name: str):
    page = open_page(request)
    if not page.user:
        return page.to_login()
    return _edit_page(page, name)


def _changes(form):
    """The form's values, and the changes to ask for: the key only when a new key ID is typed."""
    values = {k: str(form.get(k, "")).strip() for k in _SHOWN if k != "path_style"}
    values["path_style"] = form.get("path_style") in ("on", "true", "1")
    changes = dict(values, **{k: values[k] or None for k in ("endpoint_url", "region", "sse_kms_key_id")})
    values["role_arn"] = str(form.get("role_arn", "")).strip()
    key_id = str(form.get("access_key_id", "")).strip()
    if key_id:
        changes.update(access_key_id=key_id, secret_access_key=str(form.get("secret_access_key", "")))
    elif values["role_arn"]:
        changes["role_arn"] = values["role_arn"]
    return values, changes


@router.post("/settings/exports/{name}/edit")
async def edit(request: Request, name: str):
    page, form, answer = await open_form(request, admin=True)
    if answer:
        return answer
    values, changes = _changes(form)
    try:
        edit_destination(page.console.engine, page.console.vault, name, page.account_id, **changes)
    except ExportError as error:
        return _edit_page(page, name, status=error.http_status, values=values,
                          errors=field_errors(error, EDITABLE))
    return page.redirect("/settings/exports", flash=f"Destination {name!r} saved: its connection test passed, and "
                                                   "the next run of each of its exports uses the new settings.")
