"""pipelines/options.py: the command-line builder (every name checked against the option list, values spelled
as the export's parser reads them back); the destination's options, whose old spellings are refused naming
the option that replaced them, and Beam's S3 options, the platform's, which never reach the destination."""

import pytest

from pipelines import check_destination, verify_export
from pipelines.options import config_from_options, destination_values, export_arguments
from pipelines.runners import pipeline_options
from transforms.errors import ConfigError


@pytest.mark.parametrize("values, argv", [
    ({"source": "/s", "format": "csv"}, ["--source=/s", "--format=csv"]),
    ({"events": ["a", "b,c"]}, ["--events=a", "--events=b,c"]),                 # a list repeats its option
    ({"destination_path_style": True, "sse_kms_key_id": None}, ["--destination_path_style"]),   # True: a flag
    ({"destination_path_style": False, "captured_before": 1700000000000}, ["--captured_before=1700000000000"]),
])
def test_arguments_are_spelled_from_the_option_list(values, argv):
    assert export_arguments(values) == argv


def test_a_name_that_is_not_an_option_is_refused():
    with pytest.raises(ValueError, match="not an export option: time_base"):
        export_arguments({"source": "/s", "time_base": "capture"})


def test_what_the_builder_writes_the_export_reads_back():
    values = {"source": "/store", "export_type": "select_events",
              "events": ["App Launched", "a,b", "--end", "x=y", "-"], "start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z", "request_id": "r1",
              "run_timestamp": "20260102000000",
              **destination_values(bucket="cust", prefix="exports/", endpoint_url="https://s3.example.com",
                                   region="eu-west-1", path_style=True, sse="AES256")}
    config = config_from_options(pipeline_options(export_arguments(values)))
    assert config.events == ("App Launched", "a,b", "--end", "x=y", "-")
    assert (config.destination.bucket, config.destination.prefix) == ("cust", "exports/")
    s3 = config.destination.s3
    assert (s3.endpoint_url, s3.region, s3.path_style, s3.sse) == ("https://s3.example.com", "eu-west-1", True,
                                                                   "AES256")
    assert (config.request_id, config.run_timestamp) == ("r1", "20260102000000")


BASE = ["--end", "2024-03-10T00:00:00Z", "--start", "2024-03-09T00:00:00Z"]
LOCAL_TO_S3 = ["--source", "/data/store/events", "--destination", "s3://acme-exports/x", *BASE]


def _config(argv):
    return config_from_options(pipeline_options(argv))


def test_a_saved_destination_is_destination_options_alone():
    values = destination_values(bucket="cust", endpoint_url="https://tenant.example", region="eu-west-1",
                                path_style=True)
    assert not [name for name in values if name.startswith("s3_")]
    options = pipeline_options(export_arguments({"source": "s3://platform/events", "end": "2026-01-02T00:00:00Z",
                                                 "start": "2026-01-01T00:00:00Z", **values}))
    assert options.get_all_options()["s3_endpoint_url"] is None


@pytest.mark.parametrize("old, new", [
    (["--s3_region", "eu-west-1"], "--destination_region"), (["--s3-region=eu-west-1"], "--destination_region"),
    (["--s3_path_style"], "--destination_path_style"), (["--s3-path-style"], "--destination_path_style"),
    (["--s3_endpoint_url", "http://minio:9000"], "--destination_endpoint_url"),
])
def test_an_old_destination_spelling_names_its_replacement(old, new):
    with pytest.raises(ConfigError, match=f"no longer sets the destination: use {new} "):
        _config(LOCAL_TO_S3 + old)


@pytest.mark.parametrize("platform", [
    ["--source", "s3://platform-store/events", "--destination", "s3://acme-exports/x"],
    ["--source", "/data/store/events", "--destination", "s3://acme-exports/x", "--temp_location", "s3://platform/t"],
    ["--source", "/data/store/events", "--destination", "/exports", "--temp_location", "/tmp"],
])
def test_beams_endpoint_is_the_platforms_and_never_the_destinations(platform):
    config = _config(platform + BASE + ["--s3_endpoint_url", "http://platform:9000", "--s3_region_name", "eu-west-1"])
    assert (config.destination.s3.endpoint_url, config.destination.s3.region) == (None, None)
    if not config.destination.is_s3:
        return
    config = _config(platform + BASE + ["--s3_endpoint_url", "http://platform:9000",
                                        "--destination_endpoint_url", "http://customer:9000",
                                        "--destination_region", "us-west-2", "--destination_path_style"])
    s3 = config.destination.s3
    assert (s3.endpoint_url, s3.region, s3.path_style) == ("http://customer:9000", "us-west-2", True)


def test_a_dashed_beam_option_is_refused_not_dropped():
    with pytest.raises(ConfigError, match="--s3-endpoint-url: Beam's own options are spelled with underscores"):
        _config(["--source", "s3://platform-store/events", "--destination", "/exports", *BASE,
                 "--s3-endpoint-url", "http://platform:9000"])


@pytest.mark.parametrize("cli", [check_destination, verify_export])
@pytest.mark.parametrize("old, new", [(["--s3_endpoint_url", "http://minio:9000"], "--destination_endpoint_url"),
                                      (["--s3-region", "eu-west-1"], "--destination_region"),
                                      (["--s3_path_style"], "--destination_path_style")])
def test_the_small_clis_refuse_the_old_spellings(cli, old, new, capsys):
    with pytest.raises(SystemExit) as exit_status:
        cli.main(["--destination", "s3://acme-exports/x", "--manifest", "m.json", *old])
    assert exit_status.value.code == 2
    assert f"no longer sets the destination: use {new} " in capsys.readouterr().err
