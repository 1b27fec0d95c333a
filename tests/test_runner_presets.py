"""The runner presets in templates/runners/, checked as far as can be without their clusters.

For Flink and Dataflow nothing is submitted (their job servers and services are not reachable here):
each preset is read the way the control plane reads it, parsed by the export's own option parser
(unknown options are errors), validated by Beam's own validator for that runner, and the pipeline is
built under its options and turned into the proto the runner would receive, whose leaf transforms must
be ones those runners execute, with no ParDo of more than one output. The Dask preset runs for real
in tests/test_export_dask.py and tests/test_control_dask.py.
"""

import re
import shlex
import subprocess
import sys
from os.path import basename
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import FlinkRunnerOptions, PortableOptions, WorkerOptions
from apache_beam.options.pipeline_options_validator import PipelineOptionsValidator
from apache_beam.portability.api import beam_runner_api_pb2
from apache_beam.runners.portability.portable_runner import PortableRunner
from apache_beam.transforms import environments

from control.settings import load_settings
from pipelines.export import build_pipeline
from pipelines.options import config_from_options
from pipelines.runners import DASK_RUNNER, pipeline_options
from tests.support.exports import REPO
from tests.support.stores import GEN_END, GEN_START
from transforms.sources.store_files import list_splits

PRESETS = REPO / "templates" / "runners"
# What Flink's and Dataflow's portable translators execute: Beam's primitive transforms.
PRIMITIVES = {"beam:transform:impulse:v1", "beam:transform:pardo:v1", "beam:transform:group_by_key:v1",
              "beam:transform:flatten:v1", "beam:transform:window_into:v1"}


def preset_argv(name, store, destination):
    """The export's argv as the control plane builds it from the preset (EVENTEXPORT_CONFIG)."""
    settings = load_settings({"EVENTEXPORT_CONFIG": str(PRESETS / f"{name}.toml")})
    return ["--source", store, "--destination", destination, "--format", "json", "--start", GEN_START,
            "--end", GEN_END, "--runner", settings.runner, *shlex.split(settings.runner_options)]


def build(options):
    """The export's pipeline under `options`; constructing it creates the runner object, runs nothing."""
    config = config_from_options(options)
    config = config.__class__(**{**config.__dict__, "spill_dir": "/tmp/unused-spill"})
    pipeline = beam.Pipeline(options=options)
    build_pipeline(pipeline, config, list_splits(config.source, config.shape,
                                                 config.window.partition_filter(config.shape)))
    return pipeline


def leaves(proto):
    return [t for t in proto.components.transforms.values() if not t.subtransforms]


def assert_runs_only_primitives(proto):
    found = {t.spec.urn for t in leaves(proto)}
    assert found <= PRIMITIVES, found - PRIMITIVES
    pardos = [t for t in leaves(proto) if t.spec.urn == "beam:transform:pardo:v1"]
    assert pardos and all(len(t.outputs) == 1 for t in pardos), [t.unique_name for t in pardos if len(t.outputs) > 1]


def docker_image(proto):
    images = set()
    for environment in proto.components.environments.values():
        if environment.urn == "beam:env:docker:v1":
            images.add(beam_runner_api_pb2.DockerPayload.FromString(environment.payload).container_image)
    return images


def test_flink_preset_validates_and_builds_for_a_job_server(generated, tmp_path):
    argv = preset_argv("flink", generated[0], str(tmp_path))
    assert "--environment_type=LOOPBACK" not in argv   # only works where the launcher is the worker
    options = pipeline_options(argv)
    from apache_beam.runners.portability.flink_runner import FlinkRunner
    assert PipelineOptionsValidator(options, FlinkRunner()).validate() == []
    portable = options.view_as(PortableOptions)
    assert portable.job_endpoint and portable.environment_type == "DOCKER"
    proto = PortableRunner.get_proto_pipeline(build(options), options)   # what the job server would get
    assert_runs_only_primitives(proto)
    assert docker_image(proto) == {portable.environment_config}
    environment = environments.Environment.from_options(portable)
    assert isinstance(environment, environments.DockerEnvironment)


def test_install_flink_fetches_beams_own_job_server_for_the_pinned_flink(generated, tmp_path):
    """`make install-flink` asks Maven for the very jar Beam would download at run time for the preset's
    --flink_version (one Beam publishes) and the launcher's Beam version, and keeps it under .cache/flink/."""
    from apache_beam.utils.subprocess_server import JavaJarServer
    argv = preset_argv("flink", generated[0], str(tmp_path))
    assert any(arg.startswith("--flink_version=") for arg in argv)   # pinned, not Beam's default
    version = pipeline_options(argv).view_as(FlinkRunnerOptions).flink_version
    assert version in FlinkRunnerOptions.PUBLISHED_FLINK_VERSIONS
    url = JavaJarServer.path_to_beam_jar(f":runners:flink:{version}:job-server:shadowJar")
    group, artifact, beam_version, jar = url.split("/maven2/", 1)[1].rsplit("/", 3)
    assert beam_version == beam.__version__
    plan = subprocess.run(["make", "-np", "install-flink"], cwd=REPO, capture_output=True, text=True,
                          check=True).stdout
    assert f"-Dartifact={group.replace('/', '.')}:{artifact}:{beam_version} -DoutputDirectory=.cache/flink/ " in plan
    # the file the target stands for is the one dependency:copy writes, and the --flink_job_server_jar to pass
    assert f"\nFLINK_JOB_SERVER := .cache/flink/{basename(jar)}\n" in plan


def dataflow_proto(pipeline, options, image):
    """What DataflowRunner.run_pipeline makes of `pipeline` before it calls the service (Beam 2.77's
    steps, less the staging and the API client, which need Google Cloud)."""
    from apache_beam.runners.dataflow.dataflow_runner import DataflowRunner
    from apache_beam.runners.dataflow.ptransform_overrides import get_dataflow_transform_overrides
    from apache_beam.runners.portability.fn_api_runner import translations
    runner = DataflowRunner()
    pipeline.visit(runner.combinefn_visitor())
    pipeline.visit(runner.side_input_visitor(deterministic_key_coders=True))
    pipeline.replace_all(DataflowRunner._PTRANSFORM_OVERRIDES)
    pipeline.replace_all(get_dataflow_transform_overrides(options) or [])
    runner._adjust_pipeline_for_dataflow_v2(pipeline)
    proto = pipeline.to_runner_api(default_environment=environments.DockerEnvironment.from_container_image(image))
    return translations.optimize_pipeline(proto, phases=[translations.pack_combiners, translations.sort_stages],
                                          known_runner_urns=frozenset(), partial=True)


def test_dataflow_preset_validates_and_builds(generated, tmp_path):
    options = pipeline_options(preset_argv("dataflow", generated[0], str(tmp_path)))
    from apache_beam.runners.dataflow.dataflow_runner import DataflowRunner
    validator = PipelineOptionsValidator(options, DataflowRunner())
    assert validator.is_service_runner()                  # the checks the service itself needs ran
    assert validator.validate() == []
    image = options.view_as(WorkerOptions).sdk_container_image
    proto = dataflow_proto(build(options), options, image)
    assert_runs_only_primitives(proto)
    assert docker_image(proto) == {image}


@pytest.mark.parametrize("name,drop,add", [("dataflow", "--project", []),
                                           ("flink", "--environment_", ["--environment_type=PROCESS"])])
def test_validation_catches_a_broken_preset(generated, tmp_path, name, drop, add):
    """The validation above can fail: a Dataflow preset without its project, a Flink one whose workers
    are processes with no command to start them, are reported."""
    argv = [arg for arg in preset_argv(name, generated[0], str(tmp_path)) if not arg.startswith(drop)] + add
    options = pipeline_options(argv)
    if name == "dataflow":
        from apache_beam.runners.dataflow.dataflow_runner import DataflowRunner as Runner
    else:
        from apache_beam.runners.portability.flink_runner import FlinkRunner as Runner
    assert PipelineOptionsValidator(options, Runner()).validate() != []


def test_dask_preset_parses_for_the_dask_runner(generated, tmp_path):
    options = pipeline_options(preset_argv("dask", generated[0], str(tmp_path)))
    values = options.get_all_options()
    assert values["runner"] == DASK_RUNNER and values["address"] and values["temp_location"].startswith("s3://")


def test_sdk_image_matches_the_launcher():
    """Workers must run the launcher's Python and Beam, or the pickled steps do not load."""
    text = (REPO / "templates" / "sdk.Dockerfile").read_text()
    python = re.search(r"ARG PYTHON_VERSION=(\S+)", text).group(1)
    beam_version = re.search(r"ARG BEAM_VERSION=(\S+)", text).group(1)
    assert python == f"{sys.version_info.major}.{sys.version_info.minor}"
    assert beam_version == beam.__version__
    assert "pip install --no-cache-dir /eventexport" in text
    for package in ("pipelines", "transforms"):
        assert f"COPY {package} /eventexport/{package}" in text and (Path(REPO) / package).is_dir()
