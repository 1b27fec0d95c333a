"""Beam's FileSystems (s3:// store roots and spill folders) configured on workers that Beam leaves bare.

Beam's own portable runners (Flink, Dataflow) hand the pipeline options to FileSystems in every worker,
and the in-process runner's workers share the launcher's; but the FnApiRunner's multi_processing workers
start with empty options and the DaskRunner's with none, so Beam's S3 filesystem, and the platform's
S3 client (platform_s3.py), would not know where the platform's S3 is. So the launcher passes the
options that say where storage is (endpoint, region, TLS), never a credential: workers reach the
platform's storage with their own credentials (environment, profile or instance role), as on every
other runner.
"""

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, S3Options

__all__ = ["filesystem_flags", "use_filesystem_options"]

_WHERE_OPTIONS = ("s3_endpoint_url", "s3_region_name", "s3_api_version", "s3_verify")


def filesystem_flags(options):
    """The storage-location options of parsed `options`, as flags a worker can parse again."""
    s3 = options.view_as(S3Options)
    flags = [f"--{name}={getattr(s3, name)}" for name in _WHERE_OPTIONS if getattr(s3, name)]
    return tuple(flags + (["--s3_disable_ssl"] if s3.s3_disable_ssl else []))


def use_filesystem_options(flags):
    """Give FileSystems `flags` in a worker whose options do not say where storage is (a multi_processing or
    DaskRunner worker). Options that say the same are kept, with whatever keys they hold (the in-process
    runner's, the launcher's own). A Dask worker outlives a run, so a later run's flags replace an earlier's."""
    current = FileSystems._pipeline_options  # pylint: disable=protected-access; Beam has no getter
    if current is None or filesystem_flags(current) != tuple(flags):
        FileSystems.set_options(PipelineOptions(list(flags)))
