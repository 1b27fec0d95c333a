"""The Activity Log, the + Create Export dialog, stopping an export, and a run's objects and Verify.

The log is paged in the database (`PAGE_SIZE` entries), so a page costs the same with ten runs or ten
thousand. While any run of the account is Pending or Running the page asks the browser to refresh its
log (console.js), which fetches only this page again.
"""

import datetime as dt
import json

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from console.web import field_errors, local_path, now_utc, open_form, open_page, sentence
from control import activity as log
from control.auto_pause import paused_exports
from control.destinations import get_destination, list_destinations, public_view
from control.errors import NotFoundError
from control.event_names import event_names
from control.exports import (MAX_EVERY_HOURS, MIN_EVERY_HOURS, ONE_TIME_HORIZON, create_export, get_export,
                             list_exports, stop_export)
from control.runs import get_run, public_run, run_manifest, verify_run
from transforms.config import EXPORT_TYPES
from transforms.errors import ExportError
from transforms.formats import FORMATS

__all__ = ["router", "PAGE_SIZE"]

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
OBJECTS_SHOWN = 500   # a run's object list on one page; the manifest download has them all
EXPORT_FIELDS = ("destination", "export_type", "events", "format", "frequency", "window_from", "window_to", "every")
EXPORT_TYPE_LABELS = {"all_events": "All events", "select_events": "Selected events",
                      "all_profiles": "All user profiles"}


def _dialog(page, values=None, errors=None):
    """What the + Create Export dialog needs to render."""
    today = now_utc().date()
    try:
        names = event_names(page.account["event_store"])
        names_error = None
    except ExportError as error:
        names, names_error = [], str(error)
    return {"destinations": [public_view(d) for d in list_destinations(page.console.engine, page.account_id)],
            "event_names": names, "event_names_error": names_error, "formats": FORMATS,
            "export_types": {t: EXPORT_TYPE_LABELS.get(t, t) for t in EXPORT_TYPES},
            "every_hours": range(MIN_EVERY_HOURS, MAX_EVERY_HOURS + 1),
            "earliest": (today - ONE_TIME_HORIZON + dt.timedelta(days=1)).isoformat(), "latest": today.isoformat(),
            "values": values or {"frequency": "once", "export_type": "all_events", "format": "json", "every": "24",
                                 "window_from": (today - dt.timedelta(days=7)).isoformat(),
                                 "window_to": (today - dt.timedelta(days=1)).isoformat(), "events": []},
            "errors": errors or {}, "open": bool(errors)}


def _log_context(page):
    query = page.request.query_params
    search = query.get("q", "").strip()[:64]
    status = query.get("status") if query.get("status") in log.STATUSES else None
    try:
        number = max(1, int(query.get("page", "1")))
    except ValueError:
        number = 1
    engine, account = page.console.engine, page.account_id
    total = log.count_activity(engine, account, request_id=search or None, status=status)
    pages = max(1, -(-total // PAGE_SIZE))
    number = min(number, pages)
    entries = log.activity(engine, account, request_id=search or None, status=status, limit=PAGE_SIZE,
                           offset=(number - 1) * PAGE_SIZE, newest_first=True)
    live = log.any_unfinished(engine, account)
    stoppable = {r["id"] for r in list_exports(engine, account) if r["status"] in ("active", "paused")}
    return {"entries": entries, "total": total, "page_number": number, "pages": pages, "search": search,
            "status": status, "statuses": log.STATUSES, "live": live, "stoppable": stoppable,
            "type_labels": EXPORT_TYPE_LABELS}


def _activity(page, status=200, **extra):
    context = _log_context(page)
    context.update(dialog=_dialog(page), notice=None, paused=paused_exports(page.console.engine, page.account_id))
    context.update(extra)
    return page.render("activity.html", status_code=status, **context)


@router.get("/activity")
async def activity_page(request: Request):
    page = open_page(request)
    if not page.user:
        return page.to_login()
    if request.query_params.get("fragment") == "log":
        return page.render("_log.html", **_log_context(page))
    return _activity(page, notice=request.query_params.get("created") and
                     f"Export {request.query_params['created']} created. Its runs are listed below; each turns Done "
                     "when its files are in your bucket.")


def _day(text):
    try:
        return dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        raise ExportError(f"{text!r} is not a date; give it as YYYY-MM-DD, e.g. 2026-01-31" if text else
                          "Give a date (YYYY-MM-DD)") from None


def _export_request(form):
    """The form's values, and the service's keyword arguments made from them (dates become UTC instants)."""
    values = {k: str(form.get(k, "")).strip() for k in EXPORT_FIELDS if k != "events"}
    values["events"] = [str(e) for e in form.getlist("events") if str(e)]
    arguments = {"destination": values["destination"], "export_type": values["export_type"],
                 "format": values["format"], "frequency": values["frequency"],
                 "events": values["events"] if values["export_type"] == "select_events" else []}
    if values["frequency"] == "once":
        errors = {}
        days = {}
        for field in ("window_from", "window_to"):
            try:
                days[field] = _day(values[field])
            except ExportError as error:
                errors[field] = str(error)
        if not errors and days["window_to"] < days["window_from"]:   # the day after is the rule's end: say it here
            errors["window_to"] = (f"The end date {days['window_to']} is before the start date "
                                   f"{days['window_from']}; pick an end on or after the start")
        if errors:
            return values, None, errors
        now = now_utc().replace(second=0, microsecond=0)
        start = dt.datetime.combine(days["window_from"], dt.time(), dt.timezone.utc)
        # The "to" day is included: its window ends at the next midnight, or now if that is still to come.
        end = min(dt.datetime.combine(days["window_to"] + dt.timedelta(days=1), dt.time(), dt.timezone.utc), now)
        arguments.update(window_from=start, window_to=end)
    elif values["frequency"] == "recurring":
        arguments["every"] = values["every"]
    return values, arguments, {}


@router.post("/exports")
async def create(request: Request):
    page, form, answer = await open_form(request, admin=True)
    if answer:
        return answer
    values, arguments, errors = _export_request(form)
    status = 422
    if not errors:
        try:
            request_id = create_export(page.console.engine, page.account_id, **arguments)
        except ExportError as error:
            errors, status = field_errors(error, EXPORT_FIELDS), error.http_status
        else:
            return page.redirect(f"/activity?created={request_id}")
    return _activity(page, status=status, dialog=_dialog(page, values, errors))


@router.post("/exports/{request_id}/stop")
async def stop(request: Request, request_id: str):
    page, form, answer = await open_form(request, admin=True)
    if answer:
        return answer
    try:
        stop_export(page.console.engine, request_id, page.account_id, by=page.user["email"])
    except ExportError as error:
        return _activity(page, status=error.http_status, problem=sentence(error))
    return page.redirect(local_path(form.get("back")), flash=f"Export {request_id} stopped: its queued and running "
                                                            "runs end Stopped, and no further runs will start.")


def _run_context(page, run_id):
    engine = page.console.engine
    run = get_run(engine, run_id, page.account_id)
    request = get_export(engine, run["request_id"], page.account_id)
    destination = public_view(get_destination(engine, request["destination"], page.account_id))
    manifest, manifest_error = None, None
    if run["status"] == "Done":
        try:
            manifest = run_manifest(engine, page.console.settings, run_id, page.account_id)
        except ExportError as error:
            manifest_error = str(error)
    objects = (manifest or {}).get("objects", [])
    return {"run": public_run(run), "request": request, "destination": destination, "manifest": manifest,
            "manifest_error": manifest_error, "objects": objects[:OBJECTS_SHOWN], "objects_total": len(objects),
            "manifest_text": json.dumps(manifest, indent=2, ensure_ascii=False) if manifest else None,
            "run_prefix": f"{destination['prefix']}{run['request_id']}-{run['run_timestamp']}-",
            "type_labels": EXPORT_TYPE_LABELS, "findings": None, "verify_error": None}


def _run_id(text):
    try:
        return int(text)
    except ValueError:
        raise NotFoundError(f"no run {text!r}") from None


def _no_such_run(page):
    return page.render("message.html", status_code=404, title="No such run",
                       message="This account has no run by that id. It may belong to another account.")


def _verified(page, run_id):
    """The run's objects checked against its manifest by listing the bucket (read only, so a reload may
    repeat it): {problems, unlisted, counts}, or the reason it could not be done."""
    try:
        result = verify_run(page.console.engine, page.console.settings, page.console.vault, run_id, page.account_id)
    except ExportError as error:
        return None, str(error)
    findings = result["findings"]
    return {"problems": [f for f in findings if f["problem"] != "unlisted"],
            "unlisted": [f for f in findings if f["problem"] == "unlisted"], "counts": result["counts"]}, None


@router.get("/runs/{run_id}")
async def run_page(request: Request, run_id: str):
    """A run's page; `?verify=1` (where Verify's post lands) also checks its objects against the manifest."""
    page = open_page(request)
    if not page.user:
        return page.to_login()
    try:
        context = _run_context(page, _run_id(run_id))
    except NotFoundError:
        return _no_such_run(page)
    if request.query_params.get("verify") == "1" and context["run"]["status"] == "Done":
        context["findings"], context["verify_error"] = _verified(page, context["run"]["id"])
    return page.render("run.html", **context)


@router.get("/runs/{run_id}/manifest.json")
async def manifest_download(request: Request, run_id: str):
    page = open_page(request)
    if not page.user:
        return page.to_login()
    try:
        manifest = run_manifest(page.console.engine, page.console.settings, _run_id(run_id), page.account_id)
    except NotFoundError:
        return _no_such_run(page)
    except ExportError as error:
        return page.render("message.html", status_code=error.http_status, title="No manifest",
                           message=sentence(error))
    return page.respond(JSONResponse(manifest))


@router.get("/runs/{run_id}/verify")
async def verify_link(request: Request, run_id: str):
    """A verify result's address opened again (a reload, a shared link): the run's page."""
    return open_page(request).redirect(f"/runs/{run_id}")


@router.post("/runs/{run_id}/verify")
async def verify(request: Request, run_id: str):
    """Verify's button: to the run's page, which verifies (POST-redirect-GET; viewers may verify, it reads)."""
    page, _, answer = await open_form(request)
    if answer:
        return answer
    try:
        number = _run_id(run_id)
        get_run(page.console.engine, number, page.account_id)
    except NotFoundError:
        return _no_such_run(page)
    return page.redirect(f"/runs/{number}?verify=1")
