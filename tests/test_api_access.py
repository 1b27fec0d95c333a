"""Who may do what through the REST API: every endpoint with no token, a bad token, another account's
admin, and a viewer; malformed bodies on every write; and no response ever carries a secret.

Account `default` owns a destination, an export request and a (Pending) run; `globex` owns nothing of
it. Another account's ids answer 404, a viewer's write 403, a missing or unknown token 401, and
afterwards everything `default` owns is as it was.
"""

import datetime as dt

import pytest

from control.scheduler import plan_runs
from tests.support.api_deployment import bearer, deployment, destination_body, stores  # noqa: F401 (fixtures)

API = "/api/v1"

# (method, path, is a write, body builder or None); {dest}, {request}, {run} are default's ids
RESOURCES = [
    ("GET", "/destinations/{dest}", False), ("POST", "/destinations/{dest}/test", True),
    ("DELETE", "/destinations/{dest}", True), ("GET", "/exports/{request}", False),
    ("POST", "/exports/{request}/stop", True), ("GET", "/runs/{run}", False), ("GET", "/runs/{run}/objects", False),
    ("GET", "/runs/{run}/manifest", False), ("POST", "/runs/{run}/verify", False),
    ("PATCH", "/destinations/{dest}", True), ("POST", "/runs/{run}/cancel", True), ("POST", "/runs/{run}/retry", True),
    ("POST", "/exports/{request}/backfill", True),
]
COLLECTIONS = [("GET", "/me", False), ("GET", "/destinations", False), ("POST", "/destinations", True),
               ("POST", "/connection-tests", True), ("GET", "/exports", False), ("POST", "/exports", True),
               ("GET", "/runs", False), ("GET", "/activity", False)]
ENDPOINTS = RESOURCES + COLLECTIONS


@pytest.fixture
def owned(deployment):
    """default's destination, export request and run; every response the test sees is kept for a secret scan."""
    d, acme = deployment, deployment.tenants["default"]
    assert d.client.post(f"{API}/destinations", json=destination_body(d, acme), headers=bearer(acme.admin)).is_success
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    created = d.client.post(f"{API}/exports", headers=bearer(acme.admin), json={
        "destination": "acme", "export_type": "all_events", "format": "json", "frequency": "once",
        "window_from": (now - dt.timedelta(days=1)).isoformat(), "window_to": now.isoformat()})
    plan_runs(d.engine, now)
    run = d.client.get(f"{API}/runs", headers=bearer(acme.viewer)).json()["items"][0]
    ids = {"dest": "acme", "request": created.json()["id"], "run": run["id"]}
    responses = []
    yield ids, responses
    secrets = [t.key.secret_access_key for t in d.tenants.values()] + [t.key.access_key_id for t in d.tenants.values()]
    assert responses and not [r.text for r in responses if any(s in r.text for s in secrets)]


def _body(d, path):
    acme = d.tenants["default"]
    if path in ("/destinations", "/connection-tests"):
        return destination_body(d, acme, name="other")
    if path == "/exports":
        return {"destination": "acme", "export_type": "all_events", "format": "csv", "frequency": "recurring",
                "every": "6h"}
    if path == "/destinations/{dest}":
        return {"prefix": "elsewhere"}
    if path == "/exports/{request}/backfill":
        return {"from": "2026-11-20T00:00:00Z", "to": "2026-11-21T00:00:00Z"}
    return None


def _call(d, responses, method, path, ids, headers):
    kwargs = {"json": _body(d, path)} if method in ("POST", "PATCH") else {}
    response = d.client.request(method, API + path.format(**ids), headers=headers, **kwargs)
    responses.append(response)
    return response


def _code(response):
    return response.json()["error"]["code"]


BAD_HEADERS = [{}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"},
               {"Authorization": "Bearer eet_not-a-token-we-issued"}, {"Authorization": "Bearer not-even-our-shape"}]


def test_no_or_unknown_token_answers_401_everywhere(deployment, owned):
    ids, responses = owned
    for headers in BAD_HEADERS:
        for method, path, _write in ENDPOINTS:
            response = _call(deployment, responses, method, path, ids, headers)
            assert response.status_code == 401 and _code(response) == "unauthenticated", (headers, method, path,
                                                                                           response.text)
            assert response.headers["www-authenticate"] == "Bearer"


def test_another_accounts_ids_answer_404_and_its_lists_are_its_own(deployment, owned):
    d, globex = deployment, deployment.tenants["globex"]
    ids, responses = owned
    for token in (globex.admin, globex.viewer):
        for method, path, write in RESOURCES:
            response = _call(d, responses, method, path, ids, bearer(token))
            expected = 403 if write and token == globex.viewer else 404
            assert response.status_code == expected, (method, path, response.text)
        for path in ("/destinations", "/exports"):
            assert _call(d, responses, "GET", path, ids, bearer(token)).json() == []
        for path in ("/runs", "/activity"):
            assert _call(d, responses, "GET", path, ids, bearer(token)).json()["total"] == 0
    # globex may not point an export at default's destination by its name
    response = _call(d, responses, "POST", "/exports", ids, bearer(globex.admin))
    assert response.status_code == 422 and response.json()["error"]["field"] == "destination"


def test_a_viewer_reads_but_every_write_answers_403(deployment, owned):
    d, acme = deployment, deployment.tenants["default"]
    ids, responses = owned
    for method, path, write in ENDPOINTS:
        response = _call(d, responses, method, path, ids, bearer(acme.viewer))
        if write:
            assert response.status_code == 403 and _code(response) == "forbidden", (method, path, response.text)
        else:   # a Pending run has no objects or manifest yet: 409, never a refusal of the viewer
            assert response.status_code in (200, 409), (method, path, response.text)


def test_what_default_owns_is_untouched_by_the_others(deployment, owned):
    d, acme, globex = deployment, deployment.tenants["default"], deployment.tenants["globex"]
    ids, responses = owned
    for token in (globex.admin, globex.viewer, acme.viewer):
        for method, path, write in ENDPOINTS:
            if write:
                _call(d, responses, method, path, ids, bearer(token))
    assert [r["name"] for r in _call(d, responses, "GET", "/destinations", ids, bearer(acme.viewer)).json()] == ["acme"]
    assert _call(d, responses, "GET", "/exports/{request}", ids, bearer(acme.viewer)).json()["status"] == "active"
    assert _call(d, responses, "GET", "/runs/{run}", ids, bearer(acme.viewer)).json()["status"] == "Pending"
    assert _call(d, responses, "GET", "/destinations/{dest}", ids, bearer(acme.viewer)).json()["prefix"] == "exports/"
    assert [e["id"] for e in _call(d, responses, "GET", "/exports", ids, bearer(acme.viewer)).json()] == [
        ids["request"]]
    # the admin's own writes do work, so the refusals above were not for some other reason
    cancelled = _call(d, responses, "POST", "/runs/{run}/cancel", ids, bearer(acme.admin))
    assert (cancelled.status_code, cancelled.json()["stopped_by"]) == (200, "admin@default.example"), cancelled.text
    assert _call(d, responses, "POST", "/runs/{run}/retry", ids, bearer(acme.admin)).json()["status"] == "Pending"
    assert _call(d, responses, "POST", "/exports/{request}/stop", ids, bearer(acme.admin)).status_code == 200


MALFORMED = [
    ("not json", b"{'name': 'acme'"), ("a list", b"[]"), ("a number", b"7"), ("empty", b""),
    ("null", b"null"), ("nested garbage", b'{"name": {"x": [1, 2]}}'),
]


def test_malformed_bodies_answer_422_without_echoing_them(deployment, owned):
    d, acme = deployment, deployment.tenants["default"]
    ids, responses = owned
    for path in ("/destinations", "/connection-tests", "/exports"):
        for label, content in MALFORMED:
            response = d.client.post(API + path, content=content,
                                     headers={**bearer(acme.admin), "Content-Type": "application/json"})
            responses.append(response)
            assert response.status_code == 422 and _code(response) == "invalid", (path, label, response.text)
            assert "input" not in response.json()["error"]


def test_a_rejected_secret_is_never_echoed(deployment, owned):
    d, acme = deployment, deployment.tenants["default"]
    ids, responses = owned
    leaked = destination_body(d, acme, name="x" * 101)
    leaked["unexpected"] = acme.key.secret_access_key        # an extra field carrying the secret
    for body in (leaked, dict(destination_body(d, acme), secret_access_key=[acme.key.secret_access_key]),
                 dict(destination_body(d, acme), sse=acme.key.secret_access_key)):
        response = d.client.post(f"{API}/destinations", json=body, headers=bearer(acme.admin))
        responses.append(response)
        assert response.status_code == 422, response.text
