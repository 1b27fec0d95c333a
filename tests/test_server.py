"""The composition root (server/): the REST API and the console on one app, neither importing the other,
and the answers every path gets from the app as a whole (HTTP errors, security headers, body limit)."""

import ast

import pytest
from fastapi.testclient import TestClient

from control.settings import load_settings
from server.app import create_app
from server.body_limit import MAX_BODY_BYTES
from server.headers import HSTS, OTHER_POLICY, PAGE_POLICY
from tests.support.exports import REPO


def _imported_packages(package):
    found = set()
    for path in (REPO / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
    return found


@pytest.mark.parametrize("package, never", [("api", {"console", "server"}), ("console", {"api", "server"}),
                                            ("control", {"api", "console"}), ("transforms", {"control", "server"})])
def test_layers_do_not_import_upwards_or_sideways(package, never):
    assert _imported_packages(package) & never == set()


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    folder = tmp_path_factory.mktemp("server")
    app = create_app(load_settings({"EVENTEXPORT_DB": f"sqlite:///{folder}/ee.db",
                                    "EVENTEXPORT_KEY_FILE": str(folder / "master.key")}))
    with TestClient(app) as running:
        yield running
    app.state.context.engine.dispose()


@pytest.mark.parametrize("path, page", [("/console/login", True), ("/console/no/such/page", True),
                                        ("/console/static/console.css", False), ("/api/v1/me", False),
                                        ("/api/v1/no-such-endpoint", False), ("/openapi.json", False)])
def test_every_answer_carries_the_security_headers(client, path, page):
    answer = client.get(path)
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "same-origin" and answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["content-security-policy"] == (PAGE_POLICY if page else OTHER_POLICY)
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert "strict-transport-security" not in answer.headers   # plain HTTP: a browser would ignore it
    assert client.get(f"https://testserver{path}").headers["strict-transport-security"] == HSTS


def test_an_unknown_console_path_gets_a_page_and_an_unknown_api_path_json(client):
    page = client.get("/console/no/such/page")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "No such page" in page.text and "<!doctype html>" in page.text
    api = client.get("/api/v1/no-such-endpoint")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"


def _chunks(total):
    sent = 0
    while sent < total:
        yield b"x" * 65536
        sent += 65536


@pytest.mark.parametrize("path, kind, page", [
    ("/api/v1/exports", "application/json", False), ("/api/v1/connection-tests", "application/json", False),
    ("/console/login", "application/x-www-form-urlencoded", True),
    ("/console/login", "multipart/form-data; boundary=x", True)])
def test_bodies_over_a_mebibyte_are_refused_413_before_parsing(client, path, kind, page):
    declared = client.post(path, content=b"x" * (MAX_BODY_BYTES + 1), headers={"content-type": kind})
    chunked = client.post(path, content=_chunks(MAX_BODY_BYTES + 65536), headers={"content-type": kind})
    for answer in (declared, chunked):
        assert answer.status_code == 413, answer.text[:200]
        assert answer.headers["x-content-type-options"] == "nosniff"
        if page:
            assert answer.headers["content-type"].startswith("text/html") and "Too large" in answer.text
        else:
            assert answer.json()["error"]["code"] == "too_large" and "1 MiB" in answer.json()["error"]["message"]
    assert "transfer-encoding" in {k.lower() for k in chunked.request.headers}   # no length was declared


def test_a_body_within_the_limit_is_read(client):
    answer = client.post("/api/v1/exports", content=b"{" + b" " * (MAX_BODY_BYTES - 2) + b"}",
                         headers={"content-type": "application/json"})
    assert answer.status_code == 401   # read and handled: no token
