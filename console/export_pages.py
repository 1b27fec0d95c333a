"""An export's page (its settings, destination, next run and runs, with Stop and Backfill) and the per-run
Cancel and Retry buttons, shown on the run page and in the log.

Every rule is control/run_actions.py's (the API and CLI call the same functions); a button's form carries
`back`, the console page to return to, which is only ever a path of this console (console/web.py).
"""

import datetime as dt

from fastapi import APIRouter, Request

from console.web import local_path, now_utc, open_form, open_page, sentence
from control.destinations import get_destination, public_view
from control.errors import NotFoundError
from control.exports import get_export
from control.models import utc
from control.run_actions import backfill, cancel_run, retry_run
from control.runs import list_runs
from transforms.errors import ConfigError, ExportError

__all__ = ["router", "RUNS_SHOWN", "next_window_end"]

router = APIRouter(include_in_schema=False)

RUNS_SHOWN = 100   # an export page lists its newest runs; the log pages through them all
_LOCAL = "%Y-%m-%dT%H:%M:%S"   # what a datetime-local input with step="1" sends and shows (windows start on
                               # the second their export was created)


def next_window_end(request, now):
    """When an active recurring export's next window ends (its run starts once its data is in), else None."""
    if request["status"] != "active" or request["frequency"] != "recurring":
        return None
    every, created = dt.timedelta(hours=request["every_hours"]), request["created_at"]
    return created + ((utc(now) - created) // every + 1) * every


def _backfill_defaults(request, now):
    """The last window that has ended, as the Backfill dialog's first suggestion."""
    end = next_window_end(request, now)
    if end is None:
        return {}
    every = dt.timedelta(hours=request["every_hours"])
    return {"from": (end - 2 * every).strftime(_LOCAL), "to": (end - every).strftime(_LOCAL)}


def _export_page(page, request_id, status=200, backfill_values=None, backfill_error=None):
    engine, account = page.console.engine, page.account_id
    try:
        request = get_export(engine, request_id, account)
    except NotFoundError:
        return page.render("message.html", status_code=404, title="No such export",
                           message="This account has no export by that request ID. It may belong to another account.")
    destination = public_view(get_destination(engine, request["destination"], account))
    now = now_utc()
    return page.render("export.html", status_code=status, request=request, destination=destination,
                       runs=list_runs(engine, account, request_id=request_id, limit=RUNS_SHOWN),
                       next_end=next_window_end(request, now),
                       backfill_values=backfill_values or _backfill_defaults(request, now),
                       backfill_error=backfill_error)


@router.get("/exports/{request_id}")
async def export_page(request: Request, request_id: str):
    page = open_page(request)
    if not page.user:
        return page.to_login()
    return _export_page(page, request_id)


def _utc_input(text, label):
    try:   # a browser leaves the seconds out when they are 0
        return dt.datetime.fromisoformat(str(text or "").strip()).replace(tzinfo=dt.timezone.utc)
    except ValueError:
        raise ConfigError(f"The {label} {text!r} is not a date and time; give it as YYYY-MM-DD HH:MM:SS (UTC)",
                          field="from" if label == "start" else "to") from None


@router.post("/exports/{request_id}/backfill")
async def backfill_form(request: Request, request_id: str):
    page, form, answer = await open_form(request, admin=True)
    if answer:
        return answer
    values = {"from": str(form.get("from", "")), "to": str(form.get("to", "")), "replace": bool(form.get("replace"))}
    try:
        made = backfill(page.console.engine, request_id, page.account_id, start=_utc_input(values["from"], "start"),
                        end=_utc_input(values["to"], "end"), replace=values["replace"])
    except ExportError as error:
        return _export_page(page, request_id, status=error.http_status, backfill_values=values,
                            backfill_error=sentence(error))
    return page.redirect(f"/exports/{request_id}", flash=f"Backfill: {len(made)} window(s) queued under request "
                                                         f"{request_id}; they run before its newer windows.")


async def _run_action(request, run_id, act, done):
    page, form, answer = await open_form(request, admin=True)
    if answer:
        return answer
    back = local_path(form.get("back"), f"/runs/{run_id}")
    try:
        run = act(page, int(run_id))
    except ValueError:
        return page.render("message.html", status_code=404, title="No such run", message=f"No run {run_id!r}.")
    except ExportError as error:
        return page.render("message.html", status_code=error.http_status, title="Not done", message=sentence(error))
    return page.redirect(back, flash=f"Run {run['id']} of {run['request_id']} {done}.")


@router.post("/runs/{run_id}/cancel")
async def cancel(request: Request, run_id: str):
    return await _run_action(request, run_id, lambda page, number: cancel_run(
        page.console.engine, number, page.account_id, by=page.user["email"]), "cancelled: it ends Stopped")


@router.post("/runs/{run_id}/retry")
async def retry(request: Request, run_id: str):
    return await _run_action(request, run_id, lambda page, number: retry_run(
        page.console.engine, number, page.account_id), "queued again: it runs now, writing the same files")
