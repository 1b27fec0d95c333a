"""Logging in and out. The password is checked by the accounts service (argon2), never here, and failed
log-ins are throttled there per e-mail and per client address: while one must wait the page answers 429
with Retry-After, whatever the password."""

from fastapi import APIRouter, Request

from console.web import local_path, open_page, sentence
from control.accounts import authenticate
from control.errors import AuthenticationError, TooManyAttemptsError

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/")
async def home(request: Request):
    page = open_page(request)
    return page.redirect("/activity" if page.user else "/login")


@router.get("/login")
async def login_form(request: Request):
    page = open_page(request)
    target = local_path(request.query_params.get("next"))
    if page.user:
        return page.redirect(target)
    return page.render("login.html", email="", error=None, next=target)


@router.post("/login")
async def login(request: Request):
    page = open_page(request)
    form = await page.form()
    if form is None:
        page.log_out()   # a fresh token for the next try
        return page.render("login.html", status_code=403, email="",
                           error="The log-in form had expired. Please try again.", next=local_path(None))
    email, target = str(form.get("email", "")), local_path(form.get("next"))
    client = request.client.host if request.client else None
    try:
        user = authenticate(page.console.engine, email, str(form.get("password", "")), client)
    except TooManyAttemptsError as error:
        answer = page.render("login.html", status_code=429, email=email, error=f"{sentence(error)}.", next=target)
        answer.headers["Retry-After"] = str(error.retry_after)
        return answer
    except AuthenticationError as error:
        return page.render("login.html", status_code=401, email=email, error=f"{sentence(error)}.", next=target)
    page.log_in(user)
    return page.redirect(target)


@router.post("/logout")
async def logout(request: Request):
    page = open_page(request)
    if not page.user:   # logged out already (in another tab, say): nothing to end
        return page.redirect("/login")
    if await page.form() is None:
        return page.refuse_stale_form()
    page.log_out()
    return page.redirect("/login")
