"""Deployment settings: numbers read from the environment or TOML and refused with the variable's name, and
one data folder (EVENTEXPORT_HOME) for everything the control plane writes."""

import os
import subprocess
import sys

import platformdirs
import pytest

from control.settings import load_settings
from tests.support.exports import REPO
from transforms.errors import ConfigError


def test_defaults_are_a_30_minute_settle_delay_and_a_6_hour_lease():
    settings = load_settings({})
    assert (settings.settle_minutes, settings.lease_seconds) == (30, 6 * 3600)


def test_environment_wins_over_toml(tmp_path):
    config = tmp_path / "deploy.toml"
    config.write_text("settle_minutes = 5\nlease_seconds = 600\n")
    settings = load_settings({"EVENTEXPORT_CONFIG": str(config), "EVENTEXPORT_LEASE_SECONDS": "2.5"})
    assert (settings.settle_minutes, settings.lease_seconds) == (5, 2.5)


@pytest.mark.parametrize("variable, value", [
    ("EVENTEXPORT_LEASE_SECONDS", "six hours"), ("EVENTEXPORT_LEASE_SECONDS", "0"),
    ("EVENTEXPORT_LEASE_SECONDS", "inf"), ("EVENTEXPORT_SETTLE_MINUTES", "-1"), ("EVENTEXPORT_SETTLE_MINUTES", ""),
])
def test_a_bad_number_names_its_variable(variable, value):
    with pytest.raises(ConfigError, match=f"{variable} '{value}' must be a number, at least"):
        load_settings({variable: value})


def test_runs_at_once_default_to_the_cores_and_one_per_account():
    settings = load_settings({})
    assert (settings.max_concurrent_runs, settings.max_runs_per_account) == (len(os.sched_getaffinity(0)), 1)
    settings = load_settings({"EVENTEXPORT_MAX_CONCURRENT_RUNS": "8", "EVENTEXPORT_MAX_RUNS_PER_ACCOUNT": "2"})
    assert (settings.max_concurrent_runs, settings.max_runs_per_account) == (8, 2)


@pytest.mark.parametrize("variable, value", [
    ("EVENTEXPORT_MAX_CONCURRENT_RUNS", "0"), ("EVENTEXPORT_MAX_CONCURRENT_RUNS", "1.5"),
    ("EVENTEXPORT_MAX_RUNS_PER_ACCOUNT", "many"),
])
def test_runs_at_once_are_whole_numbers_of_at_least_one(variable, value):
    with pytest.raises(ConfigError, match=f"{variable} '{value}' must be a whole number, at least 1"):
        load_settings({variable: value})


def test_everything_written_lives_under_the_data_folder(tmp_path):
    home = tmp_path / "home"
    settings = load_settings({"EVENTEXPORT_HOME": str(home)})
    assert settings.db == f"sqlite:///{home}/eventexport.db"
    assert (settings.key_file, settings.manifests) == (str(home / "eventexport.key"), str(home / "manifests"))
    alone = load_settings({"EVENTEXPORT_HOME": str(home), "EVENTEXPORT_MANIFESTS": "~/copies"})
    assert alone.manifests == os.path.expanduser("~/copies") and alone.key_file == settings.key_file
    assert load_settings({}).home == platformdirs.user_data_dir("eventexport", appauthor=False)


def test_the_cli_writes_nothing_to_the_folder_it_is_started_from(tmp_path):
    """`eventexport run` from a checkout used to leave eventexport.db, eventexport.key and
    eventexport-manifests/ there; now they go to EVENTEXPORT_HOME."""
    here, home = tmp_path / "here", tmp_path / "home"
    here.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTEXPORT_")}
    env.update(PYTHONPATH=str(REPO), EVENTEXPORT_HOME=str(home))
    for command in (["destination", "list"], ["run"]):
        done = subprocess.run([sys.executable, "-m", "control.cli", *command], env=env, cwd=here,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    assert list(here.iterdir()) == [] and (home / "eventexport.db").exists()


@pytest.mark.parametrize("variable, value, message", [
    ("EVENTEXPORT_METRICS_PORT", "ninety", "must be a port number"),
    ("EVENTEXPORT_METRICS_PORT", "70000", "must be a port number"),
    ("EVENTEXPORT_LOG_FORMAT", "xml", "is not one of human, json"),
    ("EVENTEXPORT_STOP_GRACE_SECONDS", "-5", "must be a number, at least 0"),
])
def test_operations_settings_are_checked(variable, value, message):
    with pytest.raises(ConfigError, match=f"{variable} '{value}' {message}"):
        load_settings({variable: value})


@pytest.mark.parametrize("options, message", [
    ("--destination_endpoint_url=http://x", "may not set --destination_endpoint_url"),
    ("--runner DaskRunner --destination-region eu-west-1", "may not set --destination_region"),
    ("--sse aws:kms", "may not set --sse"),
])
def test_runner_options_may_not_set_a_destination(options, message):
    with pytest.raises(ConfigError, match=message):
        load_settings({"EVENTEXPORT_RUNNER_OPTIONS": options})


def test_the_platform_s3_settings_come_first_and_once():
    settings = load_settings({"EVENTEXPORT_PLATFORM_S3_ENDPOINT_URL": "http://minio:9000",
                              "EVENTEXPORT_PLATFORM_S3_REGION": "eu-west-1",
                              "EVENTEXPORT_RUNNER_OPTIONS": "--temp_location s3://platform/spill"})
    assert settings.pipeline_argv() == ["--s3_endpoint_url=http://minio:9000", "--s3_region_name=eu-west-1",
                                        "--temp_location", "s3://platform/spill"]
    with pytest.raises(ConfigError, match="--s3_endpoint_url is set twice"):
        load_settings({"EVENTEXPORT_PLATFORM_S3_ENDPOINT_URL": "http://minio:9000",
                       "EVENTEXPORT_RUNNER_OPTIONS": "--s3_endpoint_url=http://other:9000"})
