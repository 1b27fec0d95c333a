"""/api/v1/users and /api/v1/me's password and tokens (api/routes/users.py, api/routes/me.py): an admin manages
the account's users and their tokens, a user their own password and tokens; tokens expire; other accounts'
users answer 404, viewers 403, and the last admin stays one."""

import datetime as dt

import sqlalchemy as sa

from control import accounts
from control.models import api_tokens
from tests.support.api_deployment import bearer, deployment, stores  # noqa: F401 (fixtures)

API = "/api/v1"


def _call(d, token, method, path, body=None):
    return d.client.request(method, API + path, headers=bearer(token), **({"json": body} if body is not None else {}))


def _error(response, status, field=None):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert field is None or error["field"] == field, error
    return error["message"]


def test_an_admin_lists_and_manages_the_accounts_users(deployment):
    d, acme, globex = deployment, deployment.tenants["default"], deployment.tenants["globex"]
    listed = _call(d, acme.admin, "GET", "/users").json()
    assert [(u["email"], u["role"]) for u in listed] == [("admin@default.example", "admin"),
                                                          ("viewer@default.example", "viewer")]
    assert all(set(u) == {"email", "role", "created_at"} for u in listed)   # never a hash
    assert _call(d, acme.viewer, "GET", "/users").status_code == 403
    for method, path, body in (("PATCH", "/users/viewer@globex.example", {"role": "admin"}),
                               ("DELETE", "/users/viewer@globex.example", None),
                               ("PUT", "/users/viewer@globex.example/password", {"password": "plum tractor window"}),
                               ("GET", "/users/viewer@globex.example/tokens", None)):
        assert _call(d, acme.admin, method, path, body).status_code == 404, (method, path)   # another account's
        assert _call(d, acme.viewer, method, path, body).status_code == 403, (method, path)
    assert "last admin" in _error(_call(d, acme.admin, "PATCH", "/users/admin@default.example", {"role": "viewer"}),
                                  409, "email")
    assert _call(d, acme.admin, "PATCH", "/users/viewer@default.example", {"role": "admin"}).json()["role"] == "admin"
    assert _call(d, acme.viewer, "GET", "/users").status_code == 200   # the role holds from the next request
    assert "too easy to guess" in _error(_call(d, acme.admin, "PUT", "/users/viewer@default.example/password",
                                               {"password": "password1234"}), 422, "password")
    assert _call(d, acme.admin, "PUT", "/users/viewer@default.example/password",
                 {"password": "plum tractor window ferry"}).status_code == 204
    assert _call(d, acme.admin, "DELETE", "/users/viewer@default.example").status_code == 204
    assert _call(d, acme.viewer, "GET", "/me").status_code == 401   # a removed user's tokens went with them
    assert _call(d, globex.viewer, "GET", "/me").status_code == 200


def test_a_user_changes_their_own_password(deployment):
    d, acme = deployment, deployment.tenants["default"]
    assert "current password is wrong" in _error(_call(d, acme.viewer, "PUT", "/me/password", {
        "current_password": "not it at all", "new_password": "plum tractor window ferry"}), 422, "current_password")
    assert "too short" in _error(_call(d, acme.viewer, "PUT", "/me/password", {
        "current_password": "viewer-password-default", "new_password": "short"}), 422, "password")
    assert _call(d, acme.viewer, "PUT", "/me/password", {
        "current_password": "viewer-password-default", "new_password": "plum tractor window ferry"}).status_code == 204
    for _ in range(5):
        _call(d, acme.viewer, "PUT", "/me/password", {"current_password": "a wrong guess", "new_password": "x" * 12})
    throttled = _call(d, acme.viewer, "PUT", "/me/password", {
        "current_password": "plum tractor window ferry", "new_password": "another plum tractor"})
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0


def test_tokens_are_listed_revoked_one_by_one_and_expire(deployment):
    d, acme = deployment, deployment.tenants["default"]
    second = accounts.issue_token(d.engine, "viewer@default.example", "laptop", days=7)
    mine = _call(d, second, "GET", "/me/tokens").json()
    assert [t["label"] for t in mine] == ["tests", "laptop"] and all("hash" not in str(t) for t in mine)
    created = dt.datetime.fromisoformat(mine[0]["created_at"].replace("Z", "+00:00"))
    assert dt.datetime.fromisoformat(mine[0]["expires_at"].replace("Z", "+00:00")) - created == dt.timedelta(days=90)
    assert _call(d, acme.admin, "GET", "/users/viewer@default.example/tokens").json() == mine
    assert _call(d, second, "DELETE", f"/me/tokens/{mine[0]['id']}").status_code == 204
    assert _call(d, acme.viewer, "GET", "/me").status_code == 401 and _call(d, second, "GET", "/me").status_code == 200
    assert _call(d, second, "DELETE", "/me/tokens/999999").status_code == 404
    with d.engine.begin() as connection:   # a week has passed
        connection.execute(sa.update(api_tokens).values(expires_at=dt.datetime(2020, 1, 1)))
    assert "expired on 2020-01-01" in _error(_call(d, second, "GET", "/me"), 401)
    assert _call(d, acme.admin, "GET", "/me").status_code == 401
