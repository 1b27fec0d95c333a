"""Security review checks (SECURITY.md): bandit finds nothing unexplained, and every input that reaches a
path or an object key (prefixes, ids, event names) is refused or encoded so it stays where it belongs."""

import json
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO, export_ok, ms, write_store
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
    from tests import reliability
    records = [reliability.event(f"name-{i}", ms("2024-03-05T10:00:00Z") + i, name=name)
               for i, name in enumerate(PATH_LIKE_NAMES)]
    source = write_store(tmp_path / "store", {"captured_date=2024-03-05": [records]}, "jsonl")
    dest = export_ok(source, tmp_path / "nest" / "out", "json", "2024-03-05T00:00:00Z", "2024-03-06T00:00:00Z")
    written = [os.path.join(folder, name) for folder, _, names in os.walk(tmp_path) for name in names]
    assert sorted(os.path.dirname(path) for path in written if "store" not in path) == [str(dest)] * (
        len(PATH_LIKE_NAMES) + 1)   # one object per name, and the manifest
    assert sorted(reliability.exported_ids(reliability.folder_files(dest))) == sorted(r["event_id"] for r in records)
