"""pipelines/runners.py: a Flink run never depends on Beam downloading its job server at run time."""

import pytest

import pipelines.options  # noqa: F401; registers the export's options with Beam
from pipelines.runners import pipeline_options
from transforms.errors import ConfigError

BASE = ["--source", "/store", "--destination", "/out", "--end", "2024-03-11T00:00:00Z", "--runner"]


@pytest.mark.parametrize("runner", ["FlinkRunner", "apache_beam.runners.portability.flink_runner.FlinkRunner"])
@pytest.mark.parametrize("extra,named", [
    ([], None), (["--flink_master=localhost:8081"], None),
    (["--flink_job_server_jar=/no/such/job-server.jar"], "/no/such/job-server.jar"),
    (["--flink_job_server_jar=https://repo.example/job-server.jar"], "https://repo.example/job-server.jar")])
def test_flink_without_a_job_server_or_a_local_jar_is_refused(runner, extra, named):
    with pytest.raises(ConfigError) as refused:
        pipeline_options(BASE + [runner, *extra])
    message = str(refused.value)
    assert "make install-flink" in message and "--job_endpoint" in message, message
    if named:
        assert f"({named} is not a file)" in message


@pytest.mark.parametrize("how", ["jar", "endpoint"])
def test_flink_with_a_local_jar_or_a_deployed_job_server_is_accepted(tmp_path, how):
    jar = tmp_path / "beam-runners-flink-1.20-job-server.jar"
    jar.write_bytes(b"PK")
    extra = [f"--flink_job_server_jar={jar}"] if how == "jar" else ["--job_endpoint=flink-job-server:8099"]
    options = pipeline_options(BASE + ["FlinkRunner", "--flink_master=localhost:8081", *extra])
    assert options.get_all_options()["runner"] == "FlinkRunner"
