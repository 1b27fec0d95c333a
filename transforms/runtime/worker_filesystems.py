"""Beam's FileSystems (s3:// store roots and spill folders) configured on workers that Beam leaves bare.

Beam's own runners hand the pipeline options to FileSystems in every worker; the DaskRunner does not,
and Beam's S3 filesystem cannot even start without them. So the launcher passes the options that say
where storage is (endpoint, region, TLS), never a credential: workers reach the platform's storage with
their own credentials (environment, profile or instance role), as on every other runner.
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


_SET_HERE = {}  # the options this module gave FileSystems in this process, and from which flags


def use_filesystem_options(flags):
    """Give FileSystems `flags` in a worker whose runner gave it nothing (a DaskRunner worker). A Dask
    worker outlives a run, so a later run's flags replace what an earlier run set here."""
    current = FileSystems._pipeline_options  # pylint: disable=protected-access; Beam has no getter
    if current is None or (current is _SET_HERE.get("options") and _SET_HERE.get("flags") != flags):
        _SET_HERE.update(options=PipelineOptions(list(flags)), flags=flags)
        FileSystems.set_options(_SET_HERE["options"])
