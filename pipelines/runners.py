"""Which Beam runner an export runs on, and the runner-specific options that must be settled first.

- No runner, or DirectRunner: the in-process FnApiRunner (Beam's DirectRunner first tries to download
  the Prism runner; the FnApiRunner never touches the network).
- DaskRunner (the short name or its dotted path): Beam registers DaskOptions (`--dask_client_address`,
  ...) only once its module is imported, so it is imported before the options are read. Its Create puts
  up to 128 elements in one dask partition, which would read a whole store in one task on one worker;
  one store file per partition (`--dask_partition_size=1`, unless set) lets every worker read and write.
- FlinkRunner: Beam would download its Flink job server jar from Maven Central at run time when it is
  given neither a deployed job server (`--job_endpoint`) nor a local jar (`--flink_job_server_jar`,
  which `make install-flink` fetches); a run must not depend on that download, so one of them is required.
- Any other runner (DataflowRunner, ...) is Beam's to resolve.
"""

import ipaddress
import os
import socket

from apache_beam.options.pipeline_options import (FlinkRunnerOptions, GoogleCloudOptions, PipelineOptions,
                                                  PortableOptions, StandardOptions)

from pipelines.options import RENAMED_OPTIONS, renamed_option_error
from transforms.errors import ConfigError, RunnerFailedError

__all__ = ["pipeline_options", "is_dask", "close_runner", "runner_failure", "DASK_RUNNER", "OFFLINE_RUNNER"]

OFFLINE_RUNNER = "FnApiRunner"
DASK_RUNNER = "apache_beam.runners.dask.dask_runner.DaskRunner"
_DASK_NAMES = ("DaskRunner", DASK_RUNNER)
_DASK_PARTITIONING = ("--dask_npartitions", "--dask_partition_size")
_FLINK_NAMES = ("FlinkRunner", "apache_beam.runners.portability.flink_runner.FlinkRunner")


def is_dask(options):
    return options.view_as(StandardOptions).runner in _DASK_NAMES


def pipeline_options(argv):
    """Parsed options for `argv`, the runner settled; unknown options are an error, not a warning."""
    argv = list(argv)
    options = PipelineOptions(argv)
    if is_dask(options):
        try:
            import apache_beam.runners.dask.dask_runner  # noqa: F401; registers DaskOptions
        except ImportError:
            raise ConfigError("--runner DaskRunner needs dask.distributed: pip install 'eventexport[dask]'") from None
        if not any(arg.split("=", 1)[0] in _DASK_PARTITIONING for arg in argv):
            argv.append("--dask_partition_size=1")
        options = PipelineOptions(argv)
        options.view_as(StandardOptions).runner = DASK_RUNNER
        _check_dask_temp_location(options)
    known = options.get_all_options(retain_unknown_options=False)
    everything = options.get_all_options(retain_unknown_options=True)
    # Beam's own options have no dashed spelling: Beam drops `--s3-endpoint-url X` with a warning, and the
    # platform's storage calls would go to AWS's endpoint instead.
    dropped = sorted(name for name in known if everything[name] != known[name])
    if dropped:
        raise ConfigError(f"--{dropped[0].replace('_', '-')}: Beam's own options are spelled with underscores "
                          f"only; write --{dropped[0]}")
    unknown = sorted(set(everything) - set(known))
    renamed = [name for name in unknown if name.replace("-", "_") in RENAMED_OPTIONS]
    if renamed:
        raise renamed_option_error(renamed[0].replace("-", "_"))
    if unknown:  # Beam would only warn and drop it; a misspelled option must not change the export
        raise ConfigError(f"unknown option --{unknown[0]}; see docs/options.md or --help")
    _check_flink_job_server(options)
    standard = options.view_as(StandardOptions)
    if standard.runner in (None, "DirectRunner"):
        standard.runner = OFFLINE_RUNNER
    return options


def _is_this_machine(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in ("localhost", socket.gethostname(), socket.getfqdn())


def _check_dask_temp_location(options):
    """Spilled pieces written on one machine must be readable on every other: a scheduler elsewhere
    needs --temp_location on storage all workers share."""
    address = options.get_all_options().get("address")
    if not address or options.view_as(GoogleCloudOptions).temp_location:
        return
    host = address.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]")
    if not _is_this_machine(host):
        raise ConfigError(f"--dask_client_address {address}: workers on other machines cannot read this "
                          "machine's temp folder; add --temp_location s3://PLATFORM-BUCKET/prefix (the "
                          "platform's bucket, never the customer's) or a folder every worker mounts")


def _check_flink_job_server(options):
    if options.view_as(StandardOptions).runner not in _FLINK_NAMES or options.view_as(PortableOptions).job_endpoint:
        return
    jar = options.view_as(FlinkRunnerOptions).flink_job_server_jar
    if jar and os.path.isfile(jar):
        return
    found = f" ({jar} is not a file)" if jar else ""
    raise ConfigError(f"--runner FlinkRunner needs a job server that is not downloaded at run time{found}: "
                      "--job_endpoint=HOST:8099 of a deployed Beam Flink job server, or "
                      "--flink_job_server_jar=PATH of a local jar (`make install-flink` fetches it into .cache/flink/)")


def close_runner(result):
    """Let go of what the runner holds in the launcher (the DaskRunner's client connection)."""
    client = getattr(result, "client", None)
    if client is not None:
        client.close()


def runner_failure(error, options):
    """`error` from waiting on a Dask run, as RunnerFailedError when the cluster lost the run (a worker
    killed once more than the scheduler's allowed failures, a scheduler that went away); None when it is
    an error of the export itself, which keeps its own message."""
    if not is_dask(options) or not type(error).__module__.startswith(("distributed", "tornado")):
        return None
    address = options.get_all_options().get("address") or "the local cluster"
    return RunnerFailedError(f"the Dask cluster at {address} lost the run ({type(error).__name__}: "
                             f"{str(error).splitlines()[0] if str(error) else 'no detail'}); nothing is "
                             "half-written that a rerun will not overwrite: rerun with the same --run_timestamp")
