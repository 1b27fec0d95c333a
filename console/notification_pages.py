"""Settings > Notifications (webhooks: add, remove, send a test, recent deliveries; who gets mail and when an
export is paused) and Resume of a paused export. Every rule is control/notifications' own; a webhook's
secret goes one way, from the form to the vault, and no page shows it back."""

from fastapi import APIRouter, Request

from console.web import open_form, open_page, sentence
from control.auto_pause import paused_exports, resume_export
from control.notifications import events, outbox, preferences, webhooks
from transforms.errors import ExportError

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
_PAGE = "/settings/notifications"


def _page(page, status=200, problem=None, values=None):
    engine, account = page.console.engine, page.account_id
    with engine.connect() as connection:
        chosen = preferences.get_preferences(connection, account)
        mailed = preferences.recipients(connection, account)
    return page.render("settings_notifications.html", status_code=status, problem=problem, values=values or {},
                       webhooks=[webhooks.public_webhook(w) for w in webhooks.list_webhooks(engine, account)],
                       deliveries=[outbox.public_delivery(d) for d in outbox.recent_deliveries(engine, account)],
                       chosen=chosen, mailed=mailed, mail_on=bool(page.console.settings.smtp_host),
                       default_pause=page.console.settings.pause_after_failures,
                       paused=paused_exports(engine, account))


@router.get(_PAGE)
async def notifications_page(request: Request):
    page = open_page(request)
    if not page.user:
        return page.redirect("/login")
    return _page(page)


async def _act(request, act, done, values=None):
    """An admin's change: `act(page, form)` does it and returns what to say, else the refusal is shown."""
    page, form, answer = await open_form(request, admin=True)
    if answer:
        return answer
    try:
        said = act(page, form)
    except ExportError as error:
        return _page(page, status=error.http_status, problem=sentence(error), values=values and values(form))
    return page.redirect(_PAGE, flash=said or done)


def _number(text):
    text = str(text or "").strip()
    return int(text) if text.isdigit() else (None if not text else text)   # a non-number is refused by the rule


@router.post(f"{_PAGE}/webhooks")
async def add(request: Request):
    def save(page, form):
        webhooks.add_webhook(page.console.engine, page.console.vault, page.account_id,
                             url=str(form.get("url", "")).strip(), secret=str(form.get("secret", "")),
                             reject_threshold=_number(form.get("reject_threshold")))
    return await _act(request, save, "Webhook added.", values=lambda form: {
        "url": form.get("url", ""), "reject_threshold": form.get("reject_threshold", "")})


@router.post(_PAGE + "/webhooks/{webhook_id}/test")
async def test(request: Request, webhook_id: int):
    def send(page, _form):
        sent = events.send_test(page.console.engine, page.console.settings, page.console.vault, webhook_id,
                                page.account_id)
        if sent["status"] == "delivered":
            return f"Test delivered: the webhook answered HTTP {sent['answer']}."
        return f"Test not delivered ({sent['error']}); it is retried like any delivery."
    return await _act(request, send, "")


@router.post(_PAGE + "/webhooks/{webhook_id}/remove")
async def remove(request: Request, webhook_id: int):
    return await _act(request, lambda page, _form: webhooks.remove_webhook(
        page.console.engine, webhook_id, page.account_id), "Webhook removed.")


@router.post(f"{_PAGE}/settings")
async def save_settings(request: Request):
    def save(page, form):
        addresses = [a.strip() for a in str(form.get("email_to", "")).replace(",", "\n").splitlines() if a.strip()]
        preferences.set_preferences(page.console.engine, page.account_id, email_to=addresses or None,
                                    pause_after=_number(form.get("pause_after")))
    return await _act(request, save, "Notification settings saved.")


@router.post("/exports/{request_id}/resume")
async def resume(request: Request, request_id: str):
    page, _, answer = await open_form(request, admin=True)
    if answer:
        return answer
    try:
        resume_export(page.console.engine, request_id, page.account_id)
    except ExportError as error:
        return page.render("message.html", status_code=error.http_status, title="Not resumed",
                           message=sentence(error))
    return page.redirect("/activity", flash=f"Export {request_id} resumed: it continues from its first window not "
                                             "yet Done.")
