"""Deployment settings that are numbers: read from the environment or TOML, refused with the variable's name."""

import os

import pytest

from control.settings import load_settings
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
