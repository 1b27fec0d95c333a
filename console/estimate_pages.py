"""The console's JSON for numbers drawn in the browser: the Create Export dialog's estimate and an export's
daily chart. The same service functions answer the REST API (api/routes/estimates.py, export_daily.py);
these answer the console's session, whose pages cannot hold an API token.
"""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from console.log_pages import _export_request   # the dialog's form, read as Create Export reads it
from console.web import open_form, open_page
from control.daily import daily_counts
from control.estimates import estimate_for_account
from control.errors import NotFoundError
from transforms.errors import ExportError

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.post("/estimates")
async def estimate(request: Request):
    """The estimate of the export the Create Export dialog describes (any logged-in user may ask)."""
    page, form, answer = await open_form(request)
    if answer:   # logged out or a stale form: the page says so; the dialog shows that it has no estimate
        return answer
    _, arguments, errors = _export_request(form)
    if errors:
        return page.respond(JSONResponse({"errors": errors}, 422))
    arguments.pop("destination", None)
    try:
        found = estimate_for_account(page.console.engine, page.console.settings, page.account_id, **arguments)
    except ExportError as error:
        return page.respond(JSONResponse({"errors": {error.field or "_form": str(error)}}, 422))
    return page.respond(JSONResponse(found))


@router.get("/exports/{request_id}/daily.json")
async def daily(request: Request, request_id: str):
    """An export's rows per day, which _export_chart.html draws."""
    page = open_page(request)
    if not page.user:
        return page.respond(JSONResponse({"error": "log in first"}, 401))
    try:
        return page.respond(JSONResponse(daily_counts(page.console.engine, request_id, page.account_id)))
    except NotFoundError as error:
        return page.respond(JSONResponse({"error": str(error)}, 404))
