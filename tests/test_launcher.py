"""control/launcher.py: the command line of a claimed run, and how a pipeline's end becomes the run's outcome.

A real pipeline child is started for the failure case; the success case runs in every scheduler test
(tests/test_control.py, tests/test_scheduler.py)."""

import datetime as dt

import pytest
from apache_beam.options.pipeline_options import S3Options

from control.launcher import RunFailed, _failure, pipeline_command, run_export
from control.settings import load_settings
from pipelines.options import config_from_options
from pipelines.runners import pipeline_options
from transforms.runtime.worker_filesystems import filesystem_flags
from transforms.sinks.s3 import S3Settings, Secret

KEY = S3Settings(access_key_id=Secret("AKIDLAUNCHER"), secret_access_key=Secret("launcher-secret-value"))


def _rows(tmp_path, events=()):
    settings = load_settings({"EVENTEXPORT_MANIFESTS": str(tmp_path / "manifests")})
    account = {"id": "acme", "event_store": str(tmp_path / "missing-store"), "profile_store": None,
               "database_id": "eu1"}
    request = {"id": "req1", "export_type": "select_events" if events else "all_events", "events": list(events),
               "format": "csv", "frequency": "recurring", "created_at": dt.datetime(2025, 12, 31, 18)}
    destination = {"bucket": "cust", "prefix": "exports/", "endpoint_url": "https://s3.example.com",
                   "region": "eu-west-1", "path_style": True, "sse": "none", "sse_kms_key_id": None}
    run = {"window_start": dt.datetime(2026, 1, 1), "window_end": dt.datetime(2026, 1, 1, 6),
           "time_basis": "capture", "run_timestamp": "20260101060000", "captured_before": 1767247200000}
    return settings, account, request, destination, run


def test_the_command_carries_the_run_and_its_destination_but_never_the_key(tmp_path):
    command = pipeline_command(*_rows(tmp_path, events=["Charged", "-x"]), scratch=str(tmp_path))
    assert command[1:3] == ["-m", "pipelines.export"]
    assert not any("AKIDLAUNCHER" in part or "launcher-secret" in part for part in command)
    config = config_from_options(pipeline_options(command[3:]))
    assert (config.source, config.export_type, config.events) == (str(tmp_path / "missing-store"), "select_events",
                                                                   ("Charged", "-x"))
    assert (config.request_id, config.run_timestamp, config.database_id) == ("req1", "20260101060000", "eu1")
    assert (config.window.basis, config.window.captured_before_ms) == ("capture", 1767247200000)
    assert config.window.series_start_ms == 1767204000000                   # the request's first window
    assert (config.destination.bucket, config.destination.s3.endpoint_url) == ("cust", "https://s3.example.com")
    assert config.manifest_copy == str(tmp_path / "manifests")


def test_ten_thousand_event_names_leave_the_command_line_short(tmp_path):
    names = [f"event {n} " + "x" * 500 for n in range(10_000)]     # 5 MB of names
    (tmp_path / "few").mkdir()
    (tmp_path / "lot").mkdir()
    short = pipeline_command(*_rows(tmp_path, events=["Charged"]), scratch=str(tmp_path / "few"))
    command = pipeline_command(*_rows(tmp_path, events=names), scratch=str(tmp_path / "lot"))
    assert len(command) == len(short) and len(" ".join(command)) == len(" ".join(short))
    assert config_from_options(pipeline_options(command[3:])).events == tuple(names)


@pytest.mark.parametrize("lines, message", [
    (["WARNING beam: noise", "eventexport: error: the store is gone", ""], "the store is gone"),
    (["Traceback (most recent call last):", "MemoryError", ""], "MemoryError"),
    ([], "exit status -9"),
])
def test_a_failed_child_says_its_own_words(lines, message):
    assert str(_failure(-9, lines)) == message


@pytest.mark.parametrize("store", ["/srv/platform/stores/acme/events", "s3://platform-store/acme/events/"])
def test_a_run_s_error_names_store_files_relative_to_the_store(store):
    root = store.rstrip("/")
    lines = [f"eventexport: error: store file '{root}/2026/01/01/00/part-3.parquet' cannot be read, it is damaged",
             f"eventexport: error: --source '{root}' does not exist"]
    assert str(_failure(1, lines[:1], store)) == "store file '2026/01/01/00/part-3.parquet' cannot be read, it is damaged"
    assert str(_failure(1, lines[1:], store)) == "--source 'the store' does not exist"
    assert "platform" not in str(_failure(1, lines, store))


@pytest.mark.slow
def test_a_failing_pipeline_s_error_line_is_the_run_s_error(tmp_path):
    settings, account, request, destination, run = _rows(tmp_path)
    destination["endpoint_url"] = "http://127.0.0.1:9"   # nothing listens there (the discard port)
    progress = []
    with pytest.raises(RunFailed, match="^could not connect to S3 for bucket 'cust'"):
        run_export(settings, account, request, destination, run, KEY, progress.append)
    assert progress == []


TENANT = "http://tenant.example:9000"
PLATFORM = "http://platform.internal:9000"
EVIL = "--s3_endpoint_url=http://evil.example"
ACCOUNT = {"id": "acme", "event_store": "s3://platform-store/acme/events", "profile_store": None,
           "database_id": "eu1"}
REQUEST = {"id": "r1", "export_type": "select_events", "format": "json", "events": [EVIL, "App Launched"],
           "frequency": "recurring", "created_at": dt.datetime(2024, 3, 9)}
RUN = {"window_start": dt.datetime(2024, 3, 10), "window_end": dt.datetime(2024, 3, 10, 4), "time_basis": "capture",
       "run_timestamp": "20240310040000", "captured_before": 1_710_043_200_000}
DESTINATION = {"bucket": "acme-exports", "prefix": "exports/", "endpoint_url": TENANT, "region": None,
               "data_region": "EU", "path_style": True, "sse": "none", "sse_kms_key_id": None}


@pytest.mark.parametrize("deployment", [
    {},
    {"EVENTEXPORT_PLATFORM_S3_ENDPOINT_URL": PLATFORM, "EVENTEXPORT_PLATFORM_S3_REGION": "eu-west-1"},
    {"EVENTEXPORT_RUNNER_OPTIONS": f"--s3_endpoint_url={PLATFORM} --s3_region_name eu-west-1 --direct_num_workers=2"},
    {"EVENTEXPORT_RUNNER_OPTIONS": f"--s3_endpoint_url {PLATFORM} --temp_location s3://platform-temp/spill"},
], ids=["no platform settings", "platform settings", "runner options", "runner options with spill"])
def test_a_tenants_endpoint_is_only_ever_the_destinations(deployment, monkeypatch, tmp_path):
    """A tenant's saved destination becomes destination options and nothing else, so a tenant's endpoint never
    becomes the platform's S3 (DESIGN.md, "Two S3 worlds"), whatever the deployment's runner options hold."""
    for name in ("EVENTEXPORT_DESTINATION_ACCESS_KEY_ID", "EVENTEXPORT_DESTINATION_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    command = pipeline_command(load_settings(deployment), ACCOUNT, REQUEST, DESTINATION, RUN, scratch=str(tmp_path))
    assert command[1:3] == ["-m", "pipelines.export"]
    options = pipeline_options(command[3:])
    platform = options.view_as(S3Options)
    assert platform.s3_endpoint_url == (PLATFORM if deployment else None)
    assert not any(TENANT in flag or "evil" in flag for flag in filesystem_flags(options))   # what workers get
    config = config_from_options(options)
    assert (config.destination.s3.endpoint_url, config.destination.s3.region, config.destination.s3.path_style) \
        == (TENANT, "eu-west-1", True)   # the region: the bucket's, else the data region's
    assert config.events == (EVIL, "App Launched")   # a tenant's event name stays an event name
    assert config.source == ACCOUNT["event_store"]
