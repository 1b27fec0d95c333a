"""The console's log-in and sessions over HTTP (no browser): pages need a log-in (a link survives it), the
cookie cannot be forged, a logged-out session or one older than the user's last password is refused, every
form needs the session's CSRF token, wrong log-ins wait, and users manage their own passwords."""

import urllib.parse
import uuid

from fastapi.testclient import TestClient

from control import accounts, destinations, exports
from tests.support.console_deployment import (ADMIN, OUTSIDER, PASSWORD, csrf_of, deployment, log_in,  # noqa: F401
                                              logged_in, post_form, store)


def test_pages_need_a_log_in_and_a_wrong_password_says_so(deployment):
    client = logged_in(deployment, email=None)
    assert client.get("/console/activity", follow_redirects=False).headers["location"] == "/console/login"
    for path in ("/console/settings/exports", "/console/runs/1?verify=1"):   # a link survives the log-in
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/console/login?" + urllib.parse.urlencode(
            {"next": path.removeprefix("/console")})
    refused = log_in(client, ADMIN, "not the password")
    assert refused.status_code == 401 and "Wrong email or password." in refused.text
    token = csrf_of(client.get("/console/login?next=%2Fruns%2F1").text)
    for sent, lands in (("/runs/1", "/console/runs/1"), ("//evil.example/x", "/console/activity"),
                        ("https://evil.example/", "/console/activity"), ("/\\evil.example", "/console/activity")):
        answer = client.post("/console/login", data={"csrf_token": token, "email": ADMIN, "password": PASSWORD,
                                                     "next": sent}, follow_redirects=False)
        assert answer.headers["location"] == lands, sent
        token = csrf_of(client.get("/console/activity").text)   # logged in: a new session, a new token
    assert log_in(client, ADMIN).headers["location"] == "/console/activity"
    assert client.get("/console/activity").status_code == 200


def test_session_cookie_is_httponly_samesite_and_cannot_be_forged(deployment):
    client = logged_in(deployment, email=None)
    answer = log_in(client, ADMIN)
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "max-age=" in cookie
    value = client.cookies.get("eventexport_session")
    forged = TestClient(deployment["app"], cookies={"eventexport_session": value[:-3] + "abc"})
    assert forged.get("/console/activity", follow_redirects=False).headers["location"] == "/console/login"


def test_a_logged_out_sessions_cookie_is_refused_and_the_users_other_sessions_are_not(deployment):
    client, other = logged_in(deployment), logged_in(deployment)
    copy = client.cookies.get("eventexport_session")
    answer = post_form(client, "/console/logout", "/console/activity", {})
    assert answer.status_code == 303 and answer.headers["location"] == "/console/login"
    replayed = TestClient(deployment["app"], cookies={"eventexport_session": copy})
    for path in ("/console/activity", "/console/settings/exports"):
        assert replayed.get(path, follow_redirects=False).headers["location"].startswith("/console/login")
    assert replayed.post("/console/logout", data={}, follow_redirects=False).headers["location"] == "/console/login"
    assert other.get("/console/activity", follow_redirects=False).status_code == 200
    assert log_in(client, ADMIN).status_code == 303   # and the user can log in again
    assert client.get("/console/activity", follow_redirects=False).status_code == 200


def test_every_form_needs_the_sessions_csrf_token(deployment):
    before = len(exports.list_exports(deployment["engine"]))
    client, other = logged_in(deployment), logged_in(deployment)
    stale = csrf_of(other.get("/console/activity").text)   # another session's token
    form = {"destination": "acme", "export_type": "all_events", "format": "json", "frequency": "recurring",
            "every": "6"}
    for token in (None, stale):
        data = dict(form, **({"csrf_token": token} if token else {}))
        assert client.post("/console/exports", data=data).status_code == 403
    for path in ("/console/settings/exports", "/console/logout", "/console/settings/exports/acme/remove"):
        assert client.post(path, data={"csrf_token": stale}, follow_redirects=False).status_code == 403
    assert len(exports.list_exports(deployment["engine"])) == before
    assert destinations.list_destinations(deployment["engine"])   # not removed
    assert client.get("/console/activity", follow_redirects=False).status_code == 200   # still logged in


def test_thirty_wrong_log_ins_then_the_right_one_waits(deployment):
    email = f"guessed-{uuid.uuid4().hex[:6]}@acme.example"
    accounts.add_user(deployment["engine"], account="default", email=email, role="viewer", password=PASSWORD)
    client = logged_in(deployment, email=None)
    statuses = [log_in(client, email, f"wrong guess {n:02d}").status_code for n in range(30)]
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
    right = log_in(client, email)
    assert right.status_code == 429 and 0 < int(right.headers["retry-after"]) <= 30
    assert "Too many failed log-ins" in right.text and right.headers["content-type"].startswith("text/html")
    assert client.get("/console/activity", follow_redirects=False).headers["location"] == "/console/login"


def test_an_admin_manages_users_and_anyone_changes_their_own_password(deployment):
    engine, suffix = deployment["engine"], uuid.uuid4().hex[:6]
    member = f"member-{suffix}@acme.example"
    accounts.add_user(engine, account="default", email=member, role="viewer", password=PASSWORD)
    admin = logged_in(deployment)
    page = admin.get("/console/settings/users").text
    assert member in page and f"/console/settings/users/{member.replace('@', '%40')}/remove" in page
    promoted = post_form(admin, f"/console/settings/users/{member}/role", "/console/settings/users", {"role": "admin"})
    assert promoted.status_code == 303 and "role changed" in admin.get(promoted.headers["location"]).text
    assert accounts.get_user(engine, member)["role"] == "admin"
    weak = post_form(admin, f"/console/settings/users/{member}/password", "/console/settings/users",
                 {"password": "aaaaaaaaaaaa"})
    assert weak.status_code == 422 and "too easy to guess" in weak.text
    reset = post_form(admin, f"/console/settings/users/{member}/password", "/console/settings/users",
                  {"password": "plum tractor window ferry"})
    assert reset.status_code == 303
    own = logged_in(deployment, email=None)
    assert log_in(own, member, "plum tractor window ferry").status_code == 303
    wrong = post_form(own, "/console/account/password", "/console/account/password",
                  {"current_password": "not my password", "new_password": "another plum tractor"})
    assert wrong.status_code == 422 and "The current password is wrong" in wrong.text
    changed = post_form(own, "/console/account/password", "/console/account/password",
                    {"current_password": "plum tractor window ferry", "new_password": "quiet harbour lantern 42"})
    assert changed.status_code == 303 and "Your password is changed" in own.get(changed.headers["location"]).text
    assert accounts.authenticate(engine, member, "quiet harbour lantern 42")["email"] == member
    removed = post_form(admin, f"/console/settings/users/{member}/remove", "/console/settings/users", {})
    assert removed.status_code == 303
    assert own.get("/console/activity", follow_redirects=False).headers["location"] == "/console/login"
    last = post_form(logged_in(deployment, OUTSIDER), f"/console/settings/users/{OUTSIDER}/role", "/console/settings/users",
                 {"role": "viewer"})
    assert last.status_code == 409 and "last admin" in last.text


def test_setting_a_password_ends_the_users_other_sessions(deployment):
    engine, member = deployment["engine"], f"member-{uuid.uuid4().hex[:6]}@acme.example"
    accounts.add_user(engine, account="default", email=member, role="viewer", password=PASSWORD)
    here, elsewhere, stolen = (logged_in(deployment, member) for _ in range(3))
    changed = post_form(here, "/console/account/password", "/console/account/password",
                    {"current_password": PASSWORD, "new_password": "quiet harbour lantern 42"})
    assert changed.status_code == 303
    assert here.get("/console/activity", follow_redirects=False).status_code == 200   # the changer goes on
    for other in (elsewhere, stolen):
        assert other.get("/console/activity", follow_redirects=False).headers["location"] == "/console/login"
    again = logged_in(deployment, email=None)
    assert log_in(again, member, "quiet harbour lantern 42").status_code == 303
    reset = post_form(logged_in(deployment), f"/console/settings/users/{member}/password", "/console/settings/users",
                  {"password": "plum tractor window ferry"})
    assert reset.status_code == 303   # an admin's reset ends the user's sessions too
    for other in (here, again):
        assert other.get("/console/activity", follow_redirects=False).headers["location"] == "/console/login"
