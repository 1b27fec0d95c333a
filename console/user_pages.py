"""Settings > Users (an admin changes roles, sets a new password, removes a user) and Your password (anyone
changes their own). Every rule is control.accounts' own: the last admin stays one, passwords follow
control/passwords.py, and the current password is checked as a log-in is, throttled alike."""

from fastapi import APIRouter, Request

from console.web import field_errors, open_form, open_page, sentence
from control.accounts import (ROLES, change_password, list_users, remove_user, reset_password, set_role,
                              shown_user)
from control.errors import TooManyAttemptsError
from control.passwords import MIN_PASSWORD_LENGTH
from transforms.errors import ExportError

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _users_page(page, status=200, problem=None):
    users = [shown_user(row) for row in list_users(page.console.engine, page.account_id)]
    return page.render("settings_users.html", status_code=status, users=users, roles=ROLES, problem=problem,
                       min_length=MIN_PASSWORD_LENGTH)


@router.get("/settings/users")
async def users_page(request: Request):
    page = open_page(request)
    if not page.user:
        return page.to_login()
    return _users_page(page)


async def _change(request, email, act, done):
    """An admin's change to user `email`: `act(page, form)` does it; `done` says what happened."""
    page, form, answer = await open_form(request, admin=True)
    if answer:
        return answer
    try:
        act(page, form)
    except ExportError as error:
        return _users_page(page, status=error.http_status, problem=f"{email}: {sentence(error)}")
    return page.redirect("/settings/users", flash=f"{email}: {done}.")


@router.post("/settings/users/{email}/role")
async def change_role(request: Request, email: str):
    return await _change(request, email, lambda page, form: set_role(
        page.console.engine, page.account_id, email, str(form.get("role", ""))), "role changed")


@router.post("/settings/users/{email}/password")
async def new_password(request: Request, email: str):
    return await _change(request, email, lambda page, form: reset_password(
        page.console.engine, page.account_id, email, str(form.get("password", ""))), "new password set")


@router.post("/settings/users/{email}/remove")
async def remove(request: Request, email: str):
    return await _change(request, email, lambda page, _: remove_user(page.console.engine, page.account_id, email),
                         "removed")


def _password_page(page, status=200, errors=None):
    return page.render("account_password.html", status_code=status, errors=errors or {},
                       min_length=MIN_PASSWORD_LENGTH)


@router.get("/account/password")
async def password_page(request: Request):
    page = open_page(request)
    if not page.user:
        return page.to_login()
    return _password_page(page)


@router.post("/account/password")
async def change_own_password(request: Request):
    page, form, answer = await open_form(request)
    if answer:
        return answer
    try:
        change_password(page.console.engine, page.user["email"], str(form.get("current_password", "")),
                        str(form.get("new_password", "")), request.client.host if request.client else None)
    except TooManyAttemptsError as error:
        refused = _password_page(page, status=429, errors={"current_password": sentence(error)})
        refused.headers["Retry-After"] = str(error.retry_after)
        return refused
    except ExportError as error:
        field, message = field_errors(error, ("current_password",)).popitem()
        return _password_page(page, status=error.http_status,
                              errors={"current_password" if field == "current_password" else "new_password": message})
    page.log_in(page.user)   # this session goes on; every other session of the user ends
    return page.redirect("/account/password", flash="Your password is changed.")
