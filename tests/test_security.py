"""Security review checks (SECURITY.md): bandit finds nothing unexplained, and every input that reaches a
path or an object key (prefixes, ids, event names) is refused or encoded so it stays where it belongs."""

import json
import os
import re
import subprocess
import sys

import pytest

from pipelines.options import SECRET_ENV
from tests.support.control_deployment import add_destination, create, deployment, ee, store  # noqa: F401 (fixtures)
from tests.support.exports import REPO, export_ok
from tests.support.stores import ms, write_store
from transforms.config import ExportConfig
from transforms.sinks.target import MAX_PREFIX_BYTES, parse_destination
from transforms.errors import ConfigError
from transforms.sinks.naming import object_key

# What a deployment runs: every top-level package but the tests and the benchmarks.
SHIPPED = sorted(init.parent.name for init in REPO.glob("*/__init__.py") if init.parent.name not in ("tests", "benchmarks"))
# B404 flags every `import subprocess`; each actual call is judged where it is made (B603, with a reason).
SKIPPED = "B404"


def test_bandit_finds_nothing_and_every_exception_says_why():
    done = subprocess.run([sys.executable, "-m", "bandit", "-q", "-r", *SHIPPED, "-s", SKIPPED, "-f", "json"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    report = json.loads(done.stdout)
    assert [f"{r['filename']}:{r['line_number']} {r['test_id']} {r['issue_text']}" for r in report["results"]] == []
    assert report["errors"] == [] and done.returncode == 0, done.stderr
    sources = sorted(path for folder in SHIPPED for path in (REPO / folder).rglob("*.py"))
    assert {name for name in report["metrics"] if name != "_totals"} == {str(p.relative_to(REPO)) for p in sources}
    unexplained = []
    for path in sources:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if "nosec" in line and not re.search(r"# nosec B\d{3}  # \w+", line):
                unexplained.append(f"{path.relative_to(REPO)}:{number}")
    assert unexplained == [], "a '# nosec' needs its test id and '  # why'"


@pytest.mark.parametrize("text, prefix", [
    ("s3://bucket", ""), ("s3://bucket/", ""), ("s3://bucket/exports", "exports/"),
    ("s3://bucket/exports/team-a/", "exports/team-a/"), ("s3://bucket/..data/x.y", "..data/x.y/"),
    ("s3://bucket/" + "p" * MAX_PREFIX_BYTES, "p" * MAX_PREFIX_BYTES + "/"),
])
def test_safe_prefixes_are_kept(text, prefix):
    assert parse_destination(text).prefix == prefix


@pytest.mark.parametrize("text", [
    "s3://bucket//exports", "s3://bucket/../other", "s3://bucket/exports/../../x", "s3://bucket/a/./b",
    "s3://bucket/a//b", "s3://bucket/..", "s3://bucket/a\\..\\b", "s3://bucket/a\nb", "s3://bucket/a\x00b",
    "s3://bucket/" + "p" * (MAX_PREFIX_BYTES + 1), "s3://../x", "s3://Bucket/x", "gs://bucket/x",
])
def test_prefixes_that_could_leave_their_folder_are_refused(text):
    with pytest.raises(ConfigError, match="--destination"):
        parse_destination(text)


@pytest.mark.parametrize("option, value", [
    ("request_id", "../x"), ("request_id", "/etc"), ("request_id", "a/b"), ("request_id", "a\\b"),
    ("request_id", ""), ("request_id", "x" * 65), ("database_id", "./"), ("database_id", "db-1"),
    ("database_id", "a b"),
])
def test_ids_that_would_need_encoding_are_refused(tmp_path, option, value):
    with pytest.raises(ConfigError, match=f"--{option}"):
        ExportConfig.build(source=str(tmp_path), destination=str(tmp_path / "out"), start="2024-03-05T00:00:00Z",
                           end="2024-03-06T00:00:00Z", **{option: value})


PATH_LIKE_NAMES = ("../../escaped", "/etc/passwd", "..", ".", "a\\..\\b", "C:\\Windows", "~root", "%2e%2e%2f")


@pytest.mark.parametrize("name", PATH_LIKE_NAMES)
def test_an_event_name_is_one_encoded_file_name(name):
    key = object_key("exports/", "req", "20240305000000", name, 20240305, 0, "db", ".json.gz")
    base = key[len("exports/"):]
    assert "/" not in base and "\\" not in base and base not in (".", "..")
    assert re.fullmatch(r"req-20240305000000-(?:%[0-9A-F]{2}|[A-Za-z0-9._~])+-20240305-0000-db\.json\.gz", base)


def test_path_like_event_names_stay_inside_a_local_destination(tmp_path):
    from tests.support import reliability
    records = [reliability.event(f"name-{i}", ms("2024-03-05T10:00:00Z") + i, name=name)
               for i, name in enumerate(PATH_LIKE_NAMES)]
    source = write_store(tmp_path / "store", {"captured_date=2024-03-05": [records]}, "jsonl")
    dest = export_ok(source, tmp_path / "nest" / "out", "json", "2024-03-05T00:00:00Z", "2024-03-06T00:00:00Z")
    written = [os.path.join(folder, name) for folder, _, names in os.walk(tmp_path) for name in names]
    assert sorted(os.path.dirname(path) for path in written if "store" not in path) == [str(dest)] * (
        len(PATH_LIKE_NAMES) + 1)   # one object per name, and the manifest
    assert sorted(reliability.exported_ids(reliability.folder_files(dest))) == sorted(r["event_id"] for r in records)


@pytest.mark.slow
@pytest.mark.parametrize("deployment", ["sqlite"], indirect=True)   # the same lines on any database
def test_json_logs_of_a_failing_run_parse_line_by_line_and_hold_no_secret(deployment):
    """A run fails (its key was deleted after it was saved) with EVENTEXPORT_LOG_FORMAT=json: every line the
    scheduler and the pipeline write is one JSON object, the failure names the account, request and run,
    and neither the customer's secret nor the master key appears anywhere."""
    master = "m" * 43 + "="   # a Fernet key: 32 bytes, urlsafe base64
    deployment["env"].update(EVENTEXPORT_MASTER_KEY=master, EVENTEXPORT_LOG_FORMAT="json")
    add_destination(deployment)
    request = create(deployment, "--type", "all_events", "--format", "json", "--frequency", "once",
                     "--from", "2026-11-18T00:00:00Z", "--to", "2026-11-19T00:00:00Z")
    key = deployment["key"]
    deployment["server"].admin_client("iam").delete_access_key(UserName=f"export-{deployment['bucket']}",
                                                               AccessKeyId=key.access_key_id)
    done = ee(deployment, "run", "--as-of", "2026-11-20T00:00:00Z")   # ee checks the secret is in neither stream
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in (done.stdout + done.stderr).splitlines()]
    assert all({"time", "level", "logger", "message", "account", "request_id", "run_id"} <= set(line)
               for line in lines), lines
    failed = [line for line in lines if line["run_id"] is not None]
    assert len(failed) == 1 and (failed[0]["account"], failed[0]["request_id"]) == ("default", request)
    assert "Failed: S3 does not know the access key id" in failed[0]["message"]
    assert master not in done.stdout + done.stderr

    pipeline = subprocess.run(
        [sys.executable, "-m", "pipelines.export", "--source", deployment["env"]["EVENTEXPORT_EVENT_STORE"],
         "--destination", f"s3://{deployment['bucket']}/x", "--start", "2026-11-18T00:00:00Z",
         "--end", "2026-11-19T00:00:00Z", "--destination_endpoint_url", deployment["server"].endpoint_url,
         "--destination_path_style", "--destination_access_key_id", key.access_key_id],
        env=dict(deployment["env"], **{SECRET_ENV: key.secret_access_key}), capture_output=True, text=True,
        timeout=300)
    assert pipeline.returncode == 3 and key.secret_access_key not in pipeline.stdout + pipeline.stderr
    (error,) = [json.loads(line) for line in pipeline.stderr.splitlines()]
    assert error["level"] == "ERROR" and error["message"].startswith("S3 does not know the access key id")
