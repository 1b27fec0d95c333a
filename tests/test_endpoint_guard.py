"""transforms/sinks/endpoint_guard.py: no endpoint an account names makes our servers call into our network.

A real listener on 127.0.0.1 (and ::1) must receive nothing, whatever the spelling, from the connection
test through the REST API, from a pipeline run, and from a guarded connection asked directly; with the
deployment's allowance on, the same listener is reached, so the check can fail.
"""

import os
import socket
import subprocess
import sys
import threading

import pytest
from fastapi.testclient import TestClient

from control import accounts
from control.settings import load_settings
from server.app import create_app
from tests.support.exports import REPO
from tests.support.stores import HAND_END, HAND_START
from transforms.errors import ConfigError, ExportError
from transforms.sinks.endpoint_guard import (ALLOW_PRIVATE_ENV, EndpointRefusedError, GuardedHTTPConnection,
                                             check_host, private_allowed, refusal)
from transforms.sinks.preflight import check_destination
from transforms.sinks.s3 import S3Settings, Secret, client_for

LOOPBACK_SPELLINGS = ("127.0.0.1", "localhost", "LocalHost", "[::1]", "2130706433", "0x7f.1", "127.1", "0x7f000001",
                      "017700000001", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[0:0:0:0:0:ffff:127.0.0.1]")


@pytest.mark.parametrize("address, rule", [
    ("127.0.0.1", "loopback"), ("127.255.0.9", "loopback"), ("::1", "loopback"), ("::ffff:127.0.0.1", "loopback"),
    ("64:ff9b::7f00:1", "loopback"), ("2002:7f00:1::", "loopback"), ("10.1.2.3", "private"),
    ("172.16.0.1", "private"), ("172.31.255.255", "private"), ("192.168.1.1", "private"), ("fc00::1", "private"),
    ("fd12:3456::1", "private"), ("::ffff:192.168.0.1", "private"), ("169.254.0.1", "link-local"),
    ("fe80::1", "link-local"), ("fe80::1%eth0", "link-local"), ("169.254.169.254", "metadata"),
    ("fd00:ec2::254", "metadata"), ("100.100.100.200", "metadata"), ("100.64.0.1", "shared"),
    ("100.127.255.254", "shared"), ("224.0.0.1", "multicast"), ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"), ("0.1.2.3", "reserved"), ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"), ("192.0.2.1", "reserved"), ("198.18.0.1", "reserved"),
    ("2001:db8::1", "reserved"), ("::10.0.0.1", "private"),
])
def test_non_public_addresses_are_refused_naming_the_rule(address, rule):
    assert rule in refusal(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "52.95.110.1", "100.128.0.1", "172.32.0.1", "2606:4700::1111",
                                     "2a05:d018::1", "::ffff:8.8.8.8"])
def test_public_unicast_addresses_pass(address):
    assert refusal(address) is None


@pytest.mark.parametrize("value, allowed", [("true", True), ("TRUE", True), ("1", True), ("yes", True),
                                            ("false", False), ("0", False), ("", False)])
def test_the_allowance_is_off_unless_set(value, allowed, monkeypatch):
    assert private_allowed({ALLOW_PRIVATE_ENV: value}) is allowed
    assert private_allowed({}) is False
    monkeypatch.setenv(ALLOW_PRIVATE_ENV, value)
    assert S3Settings().allow_private_endpoints is allowed


def test_a_misspelt_allowance_is_refused():
    with pytest.raises(ConfigError, match=ALLOW_PRIVATE_ENV):
        private_allowed({ALLOW_PRIVATE_ENV: "treu"})


class Listener:
    """TCP listeners on 127.0.0.1 and ::1 (where the machine has IPv6) on one port, recording every
    connection and every byte; `answer` is sent back to whoever connects."""

    def __init__(self, answer=b""):
        self.answer, self.connections, self.received = answer, [], b""
        self.sockets = [socket.create_server(("127.0.0.1", 0))]
        self.port = self.sockets[0].getsockname()[1]
        try:
            self.sockets.append(socket.create_server(("::1", self.port), family=socket.AF_INET6))
        except OSError:
            pass   # no IPv6 here: [::1] cannot reach anything either
        for listening in self.sockets:
            threading.Thread(target=self._serve, args=(listening,), daemon=True).start()

    def _serve(self, listening):
        while True:
            try:
                connection, peer = listening.accept()
            except OSError:
                return
            self.connections.append(peer)
            with connection:
                connection.settimeout(2)
                try:
                    self.received += connection.recv(65536)
                    connection.sendall(self.answer)
                except OSError:
                    pass

    def close(self):
        for listening in self.sockets:
            listening.close()


@pytest.fixture
def listener():
    running = Listener(answer=b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: 77\r\n"
                              b"Connection: close\r\n\r\n<Error><Code>InternalProbeSecret</Code><Message>m</Message>"
                              b"</Error>")
    yield running
    running.close()


@pytest.fixture
def guarded(monkeypatch):
    monkeypatch.setenv(ALLOW_PRIVATE_ENV, "false")


@pytest.fixture
def api(tmp_path):
    """The deployment's app with an admin's token."""
    app = create_app(load_settings({"EVENTEXPORT_DB": f"sqlite:///{tmp_path}/ee.db",
                                    "EVENTEXPORT_KEY_FILE": str(tmp_path / "master.key")}))
    engine = app.state.context.engine
    accounts.add_user(engine, account="default", email="admin@example.com", role="admin")
    token = accounts.issue_token(engine, "admin@example.com")
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client
    engine.dispose()


def _destination(endpoint):
    return {"name": "probe", "bucket": "internal-probe", "data_region": "EU", "access_key_id": "AKIAEXAMPLE",
            "secret_access_key": "secret-of-the-probe", "endpoint_url": endpoint, "path_style": True}


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_the_connection_test_and_save_refuse_every_spelling_and_send_nothing(host, listener, guarded, api):
    body = _destination(f"http://{host}:{listener.port}")
    for path in ("/api/v1/connection-tests", "/api/v1/destinations"):
        answer = api.post(path, json=body)
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert error["field"] == "endpoint_url" and "loopback address" in error["message"], error
        assert "could not connect" in error["message"] and "InternalProbeSecret" not in error["message"]
    assert api.get("/api/v1/destinations").json() == []
    assert listener.connections == [] and listener.received == b""


def test_the_metadata_address_is_refused_before_any_request(guarded, api):
    answer = api.post("/api/v1/connection-tests", json=_destination("http://169.254.169.254"))
    assert answer.status_code == 422 and "cloud metadata address" in answer.json()["error"]["message"]


def test_a_name_resolving_to_a_private_address_is_refused():
    with pytest.raises(EndpointRefusedError, match="localhost .127.0.0.1.: it is a loopback address"):
        check_host("localhost", 443)


def test_the_guarded_connection_itself_refuses_at_connect_time(listener):
    """The check that counts is made where the socket is opened, on the address it opens: asked directly
    (no pre-check before it), the connection still never reaches the listener."""
    from urllib3.exceptions import NewConnectionError
    for host in ("localhost", "127.0.0.1", "::1"):
        with pytest.raises(NewConnectionError, match="loopback address"):
            GuardedHTTPConnection(host, listener.port).connect()
    assert listener.connections == []


def test_a_run_refuses_the_endpoint_and_sends_nothing(listener, guarded, hand_stores, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO), EVENTEXPORT_DESTINATION_SECRET_ACCESS_KEY="secret-of-the-probe")
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.export", "--source", hand_stores["parquet"], "--destination",
         "s3://internal-probe/x", "--destination_endpoint_url", f"http://localhost:{listener.port}",
         "--destination_path_style", "--destination_region", "eu-west-1", "--destination_access_key_id", "AKIAEXAMPLE",
         "--start", HAND_START, "--end", HAND_END],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "loopback address" in done.stderr and "Traceback" not in done.stderr
    assert listener.connections == []


def test_with_the_allowance_the_listener_is_reached_and_its_words_stay_out(listener, monkeypatch):
    monkeypatch.setenv(ALLOW_PRIVATE_ENV, "true")
    settings = S3Settings(region="eu-west-1", endpoint_url=f"http://127.0.0.1:{listener.port}", path_style=True,
                          access_key_id=Secret("AKIAEXAMPLE"), secret_access_key=Secret("secret-of-the-probe"))
    assert settings.allow_private_endpoints
    with pytest.raises(ExportError) as refused:
        check_destination(settings, "internal-probe", "")
    assert listener.connections and b"internal-probe" in listener.received
    assert "InternalProbeSecret" not in str(refused.value)
    client_for.cache_clear()
