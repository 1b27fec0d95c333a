"""The export command line as a person meets it: `--help` lists every option with its meaning and default,
docs/options.md's table says the same, and a destination without any credentials says where credentials
come from."""

import os
import subprocess
import sys

from pipelines.export import run
from pipelines.export_help import options_table, write_options_table
from pipelines.options import OPTION_HELP, REQUIRED_OPTIONS, DESTINATION_OPTION_HELP
from tests.support.exports import REPO
from tests.support.stores import HAND_END, HAND_START
from transforms.sinks.s3 import KEY_ID_ENV, SECRET_ENV


def _flat(text):
    return " ".join(text.split())


def test_help_lists_every_option_with_meaning_and_default():
    status, text = run(["--help"])
    assert status == 0
    flat = _flat(text)
    for name, (meaning, settings) in {**OPTION_HELP, **DESTINATION_OPTION_HELP}.items():
        assert f"--{name}" in flat, name
        assert _flat(meaning) in flat, name
        if name in REQUIRED_OPTIONS:
            assert f"{_flat(meaning)} (required)" in flat, name
        elif "default" in settings and "default" not in meaning:
            assert f"{_flat(meaning)} (default: {settings['default']})" in flat, name
    for beam_option in ("--runner", "--temp_location", "--flink_master", "--job_endpoint", "--num_workers"):
        assert beam_option in flat
    assert "passed through to the runner" in flat
    assert KEY_ID_ENV in flat and SECRET_ENV in flat


def test_docs_option_table_is_the_one_generated_from_the_options(tmp_path):
    committed = (REPO / "docs" / "options.md").read_text(encoding="utf-8")
    assert options_table() in committed, "run: python -m pipelines.export_help --markdown docs/options.md"
    for name, (meaning, _) in {**OPTION_HELP, **DESTINATION_OPTION_HELP}.items():
        assert f"| `--{name}` |" in committed and meaning in committed, name
    stale = tmp_path / "options.md"
    stale.write_text(committed.replace("| `--format` |", "| `--formats` |"), encoding="utf-8")
    write_options_table(stale)
    assert stale.read_text(encoding="utf-8") == committed


def test_help_from_the_command_line_exits_zero_on_stdout():
    done = subprocess.run([sys.executable, "-m", "pipelines.export", "--help"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: python -m pipelines.export --source STORE")
    assert "--export_type" in done.stdout and "(default: json)" in done.stdout


def test_destination_without_credentials_names_what_provides_them(hand_stores, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "EVENTEXPORT_"))}
    # No credential anywhere in boto3's chain; instance metadata is off so nothing leaves this machine.
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_EC2_METADATA_DISABLED="true", AWS_DEFAULT_REGION="eu-west-1")
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.export", "--source", hand_stores["parquet"], "--destination",
         "s3://acme-exports/x", "--destination_endpoint_url", "http://127.0.0.1:9", "--start", HAND_START,
         "--end", HAND_END], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "NoCredentialsError" not in done.stderr and "Traceback" not in done.stderr
    error = [line for line in done.stderr.splitlines() if line.startswith("eventexport: error:")]
    assert error and "no credentials for bucket 'acme-exports'" in error[0]
    for source in ("--destination_access_key_id", KEY_ID_ENV, SECRET_ENV, "AWS_ACCESS_KEY_ID", "AWS_PROFILE"):
        assert source in error[0]
