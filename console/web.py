"""What every console page shares: the services it calls, the logged-in user, CSRF checks, rendering.

The console is a thin skin over control/: every rule lives in the service functions it calls (the same
ones the CLI and the REST API call), and a refusal's `field` says which input to show it beside. Every
form post that changes something is an admin's (`open_form(request, admin=True)` answers a viewer 403
before reading the form), a refusal is shown with its real status (403, 404, 409, 422), and a post
that worked answers with a redirect (POST-redirect-GET: a reload never posts again), its outcome carried
to the next page in the session (`flash`).
"""

import dataclasses
import datetime as dt
import hmac
import os
import urllib.parse

from fastapi.responses import RedirectResponse
from fastapi.templating import Jinja2Templates

from console.session import CSRF_FIELD, CSRF_HEADER, SESSION_AGE, SessionCodec
from control.accounts import get_account, require_admin, session_user
from control.errors import NotFoundError, PermissionDeniedError
from control.sessions import end_session, session_ended
from transforms.errors import ExportError

__all__ = ["Console", "Page", "open_page", "open_form", "field_errors", "sentence", "now_utc", "local_path",
           "TEMPLATES"]

TEMPLATES = os.path.join(os.path.dirname(__file__), "templates")
# Starlette's parser refuses a form of over 1,000 fields with a bare 400; an export's own rule should say
# what is over its limit (1,000 event names) instead. The body limit (server/body_limit.py) bounds the work.
_MAX_FORM_FIELDS = 100_000
_HOME = "/activity"   # where a log-in lands unless it came from a link


@dataclasses.dataclass
class Console:
    """The services the pages use, made once when the console is mounted."""

    settings: object
    engine: object
    vault: object
    codec: SessionCodec
    templates: Jinja2Templates
    prefix: str


@dataclasses.dataclass
class Page:
    """One request as the console sees it: its session, user and account (None when logged out)."""

    request: object
    console: Console
    session: dict
    fresh_session: bool
    user: dict = None
    account: dict = None

    @property
    def account_id(self):
        return self.user["account_id"]

    @property
    def is_admin(self):
        return self.user is not None and self.user["role"] == "admin"

    def url(self, path):
        return f"{self.console.prefix}{path}"

    def _finish(self, response):
        if self.fresh_session:
            self.console.codec.write(response, self.session, self.request.url.scheme == "https")
        response.headers["Cache-Control"] = "no-store"   # security headers: server/headers.py, on every answer
        return response

    def render(self, template, status_code=200, **context):
        flash = self.session.pop("flash", None)
        if flash:
            self.fresh_session = True   # shown once: the cookie is written again without it
        context.update(page=self, user=self.user, account=self.account, csrf_field=CSRF_FIELD,
                       csrf_token=self.session["csrf"], prefix=self.console.prefix, flash=flash)
        return self._finish(self.console.templates.TemplateResponse(self.request, template, context,
                                                                   status_code=status_code))

    def redirect(self, path, flash=None, values=None):
        """303 to `path`; `flash`, when given, is what was done, shown on that page once, with a form's
        `values` for it to show again."""
        if flash:
            self.session["flash"] = {"message": flash, "values": values}
            self.fresh_session = True
        return self._finish(RedirectResponse(self.url(path), status_code=303))

    def to_login(self):
        """To the log-in page, which comes back to this page (its path and query) once logged in."""
        here = self.request.url.path.removeprefix(self.console.prefix) or "/"
        if self.request.url.query:
            here += "?" + self.request.url.query
        if here in ("/", _HOME):   # where a log-in lands anyway
            return self.redirect("/login")
        return self.redirect("/login?" + urllib.parse.urlencode({"next": here}))

    def respond(self, response):
        return self._finish(response)

    def log_in(self, user):
        """A new session for `user` (also after they changed their own password: it stays logged in, every
        other session of theirs is refused)."""
        _, stamp = session_user(self.console.engine, user["email"])
        self.session = self.console.codec.new(user["email"], stamp)
        self.fresh_session = True

    def log_out(self):
        """A fresh anonymous session; a user's session is ended on the server too, so no copy of its cookie
        works again."""
        if self.session.get("email"):
            end_session(self.console.engine, self.session["id"], now_utc() + dt.timedelta(seconds=SESSION_AGE))
        self.session = self.console.codec.new()
        self.fresh_session = True

    async def form(self):
        """The posted form, or None when its CSRF token is missing or is not this session's."""
        form = await self.request.form(max_fields=_MAX_FORM_FIELDS)
        sent = form.get(CSRF_FIELD) or self.request.headers.get(CSRF_HEADER)
        return form if self.console.codec.csrf_ok(self.session, sent) else None

    def refuse_stale_form(self):
        return self.render("message.html", status_code=403, title="This form has expired",
                           message="The page was open too long or in another session. Reload it and try again.")


def open_page(request):
    """The request's page; its user and account are filled in when the session names a user who still exists."""
    console = request.app.state.console
    session, valid = console.codec.read(request)
    page = Page(request, console, session, fresh_session=not valid)
    if session.get("email") and session_ended(console.engine, session["id"]):
        page.session, page.fresh_session = console.codec.new(), True   # logged out: a copy of its cookie
    elif session.get("email"):
        try:
            user, stamp = session_user(console.engine, session["email"])
            if not hmac.compare_digest(stamp, str(session.get("stamp"))):
                raise NotFoundError("the password was set again since this session began")
            page.user, page.account = user, get_account(console.engine, user["account_id"])
        except ExportError:   # the user was removed, or their password set again: log out
            page.user = None
            page.log_out()
    return page


def sentence(error):
    """An error's message as a sentence on a page: the pipeline's own messages start in lower case (they
    follow 'eventexport: error:' on a terminal), the page shows them alone."""
    message = str(error)
    return message[:1].upper() + message[1:]


def field_errors(error, known):
    """{field: message} for a refusal: beside its field when the form has it, else at the form's top."""
    field = getattr(error, "field", None)
    return {field if field in known else "_form": sentence(error)}


def local_path(text, default=_HOME):
    """`text` if it is a path of this console (a `next` or `back` a form carries), else `default`: never another
    site ("//evil.example", "https://...", "/\\evil.example"), so a link cannot send a user elsewhere."""
    text = str(text or "")
    parsed = urllib.parse.urlsplit(text)
    if (not text.startswith("/") or text.startswith("//") or "\\" in text or parsed.scheme or parsed.netloc
            or any(ord(c) < 32 for c in text)):
        return default
    return text


def now_utc():
    return dt.datetime.now(dt.timezone.utc)


def _refuse(page, error):
    """A refusal as a page with its real status (the same the REST API answers)."""
    return page.render("message.html", status_code=error.http_status, title="Not done", message=sentence(error))


async def open_form(request, admin=False):
    """(page, form, answer) for a logged-in user's POST: `answer` is set, and must be returned at once, when
    the visitor is not logged in (the log-in page), is a viewer and `admin` is asked (403, the form unread),
    or the form's CSRF token is not this session's."""
    page = open_page(request)
    if not page.user:   # a form's address is no page to come back to
        return page, None, page.redirect("/login")
    if admin:
        try:
            require_admin(page.user)
        except PermissionDeniedError as error:
            return page, None, _refuse(page, error)
    form = await page.form()
    if form is None:
        return page, None, page.refuse_stale_form()
    return page, form, None
