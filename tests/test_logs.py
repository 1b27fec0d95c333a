"""Log lines: human by default, one JSON object a line with EVENTEXPORT_LOG_FORMAT=json, each with the
account, request id and run id it is about; `eventexport serve` (uvicorn's own lines included) read back
line by line."""

import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import urllib.request

import pytest

from tests.support.exports import REPO
from transforms.errors import ConfigError
from transforms.runtime import logs

FIELDS = {"time", "level", "logger", "message", "account", "request_id", "run_id"}


@pytest.fixture
def captured():
    stream = io.StringIO()
    yield stream
    logs.configure("human")   # back to the default for the tests after


def test_json_records_carry_the_bound_account_request_and_run(captured):
    logs.configure("json", stream=captured)
    log = logging.getLogger("eventexport.test")
    log.info("before")
    with logs.bind(account="acme", request_id="f00d", run_id=7):
        log.warning("inside %s", "the run")
    logging.getLogger("some.library").info("below WARNING: not ours, not shown")
    first, second = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert FIELDS <= set(first) and (first["account"], first["run_id"], first["level"]) == (None, None, "INFO")
    assert (second["account"], second["request_id"], second["run_id"]) == ("acme", "f00d", 7)
    assert (second["message"], second["level"], second["logger"]) == ("inside the run", "WARNING", "eventexport.test")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00", second["time"])


def test_human_is_the_default_and_a_line_stays_the_message(captured):
    logs.configure(None, stream=captured)
    logging.getLogger("eventexport.test").info("plain")
    assert captured.getvalue().rstrip().endswith("INFO eventexport.test: plain")
    assert logs.line("human", "exported 3 objects", rows=5) == "exported 3 objects"
    shown = json.loads(logs.line("json", "exported 3 objects", rows=5, logger="eventexport.pipeline"))
    assert (shown["message"], shown["rows"], shown["logger"]) == ("exported 3 objects", 5, "eventexport.pipeline")


def test_an_unknown_format_names_the_variable_and_the_choices():
    with pytest.raises(ConfigError, match="EVENTEXPORT_LOG_FORMAT 'yaml' is not one of human, json"):
        logs.log_format("yaml")


def test_the_api_server_logs_json_lines_uvicorn_s_included(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO), EVENTEXPORT_HOME=str(tmp_path), EVENTEXPORT_LOG_FORMAT="json")
    server = subprocess.Popen([sys.executable, "-m", "control.cli", "serve", "--port", "0"], env=env,
                              stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        seen = []
        while not any("running on" in line["message"].lower() for line in seen):
            seen.append(json.loads(server.stderr.readline()))
        url = re.search(r"http://[\d.]+:\d+", seen[-1]["message"]).group(0)
        with urllib.request.urlopen(f"{url}/healthz", timeout=30) as answer:   # nosec B310  # our local server
            assert json.loads(answer.read()) == {"status": "up"}
    finally:
        server.send_signal(signal.SIGTERM)
        access, rest = server.communicate(timeout=60)   # uvicorn's access log on stdout, the rest on stderr
    lines = seen + [json.loads(line) for line in (rest + access).splitlines()]
    assert all(FIELDS <= set(line) for line in lines), lines
    assert any(line["logger"] == "uvicorn.access" and "/healthz" in line["message"] for line in lines)
    assert any(line["logger"] == "eventexport.schema" for line in lines)   # its database was created
