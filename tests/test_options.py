"""pipelines/options.py's command-line builder: every name checked against the option list, values spelled
as the export's parser reads them back."""

import pytest

from pipelines.options import config_from_options, destination_values, export_arguments
from pipelines.runners import pipeline_options


@pytest.mark.parametrize("values, argv", [
    ({"source": "/s", "format": "csv"}, ["--source=/s", "--format=csv"]),
    ({"events": ["a", "b,c"]}, ["--events=a", "--events=b,c"]),                 # a list repeats its option
    ({"s3_path_style": True, "sse_kms_key_id": None}, ["--s3_path_style"]),     # True is a flag, None left out
    ({"s3_path_style": False, "captured_before": 1700000000000}, ["--captured_before=1700000000000"]),
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
