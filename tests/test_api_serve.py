"""`eventexport serve`: uvicorn serving the API over real HTTP, on 127.0.0.1 unless told otherwise."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.slow   # `eventexport serve` started as a server process

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTEXPORT_")}
    env.update(PYTHONPATH=ROOT, EVENTEXPORT_DB=f"sqlite:///{tmp_path}/eventexport.db",
               EVENTEXPORT_KEY_FILE=str(tmp_path / "master.key"))
    return env


def _get(url, token=None):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_serve_binds_localhost_by_default_and_answers_over_http(tmp_path):
    env = _env(tmp_path)
    cli = [sys.executable, "-m", "control.cli"]
    subprocess.run([*cli, "user", "add", "ops@example.com", "--role", "viewer"], env=env, check=True, cwd=tmp_path)
    token = subprocess.run([*cli, "user", "token", "ops@example.com"], env=env, check=True, cwd=tmp_path,
                           capture_output=True, text=True).stdout.strip()
    server = subprocess.Popen([*cli, "serve", "--port", "0"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            lines.append(server.stderr.readline())
            found = re.search(r"running on http://([\d.]+):(\d+)", lines[-1], re.IGNORECASE)
            if found or server.poll() is not None:
                break
        assert found, "".join(lines)
        host, port = found.groups()
        assert host == "127.0.0.1"
        base = f"http://{host}:{port}"
        status, schema = _get(f"{base}/openapi.json")
        assert status == 200 and {"/api/v1/destinations", "/api/v1/runs/{run_id}"} <= set(schema["paths"])
        status, me = _get(f"{base}/api/v1/me", token)
        assert status == 200 and me.pop("external_id").startswith("eex-")   # the account's, for role destinations
        assert me == {"email": "ops@example.com", "role": "viewer", "account_id": "default",
                      "account_name": "Default account", "data_region": None, "database_id": "local",
                      "role_principal": None}
        status, body = _get(f"{base}/api/v1/me")
        assert status == 401 and body["error"]["code"] == "unauthenticated"
    finally:
        server.send_signal(signal.SIGINT)
        lines += server.communicate(timeout=30)
    assert server.returncode == 0
    assert "GET /api/v1/me" in lines[-2] and token not in "".join(lines)   # the access log never holds a token
