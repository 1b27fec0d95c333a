"""The export's options: one Beam `PipelineOptions` class, so the CLI, the control plane and template
metadata all read the same list. Every option also takes a dashed spelling (`--export-type`).
"""

from apache_beam.options.pipeline_options import PipelineOptions

from transforms.config import (DEFAULT_MAX_FILE_BYTES, EXPORT_TYPES, PARQUET_CODECS, TIME_BASES,
                               ExportConfig)
from transforms.formats import FORMATS
from transforms.window import DEFAULT_CLOCK_SKEW

__all__ = ["ExportOptions", "OPTION_HELP", "config_from_options"]

# name -> (help, extra argparse settings); the README's option table is written from this.
OPTION_HELP = {
    "source": ("event store root: a local folder or s3://bucket/path", {}),
    "destination": ("a local folder or s3://bucket[/prefix]", {}),
    "export_type": (f"one of {', '.join(EXPORT_TYPES)}", {"default": "all_events"}),
    "events": ("an event name for select_events; repeat the option for more (names may hold commas)",
               {"action": "append"}),
    "format": (f"one of {', '.join(FORMATS)}", {"default": "json"}),
    "start": ("window start, inclusive, ISO-8601 instant (no offset means UTC)", {}),
    "end": ("window end, exclusive, ISO-8601 instant", {}),
    "time_basis": (f"which time the window applies to: {' or '.join(TIME_BASES)}", {"default": "event"}),
    "request_id": ("export request id, first part of every object name", {"default": "export"}),
    "database_id": ("database id, last part of every object name", {"default": "local"}),
    "run_timestamp": ("the run's logical time, yyyyMMddHHmmss UTC (default: now)", {}),
    "max_file_bytes": ("largest object, in bytes as stored", {"default": DEFAULT_MAX_FILE_BYTES, "type": int}),
    "parquet_codec": (f"compression inside Parquet files: {', '.join(PARQUET_CODECS)}", {"default": "gzip"}),
    "timezone": ("IANA time zone of the yyyymmdd name part, the date split and ts", {"default": "UTC"}),
    "clock_skew_hours": ("how far a device clock may run ahead: an event-time window also reads capture "
                         "dates this long before its start", {"default": DEFAULT_CLOCK_SKEW.total_seconds() / 3600,
                                                             "type": float}),
}


class ExportOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        for name, (text, settings) in OPTION_HELP.items():
            flags = [f"--{name}"] + ([f"--{name.replace('_', '-')}"] if "_" in name else [])
            parser.add_argument(*flags, dest=name, help=text, **settings)


def config_from_options(options, now=None):
    """Validated `ExportConfig` from parsed options (raises ConfigError naming the bad one)."""
    values = options.view_as(ExportOptions).get_all_options(retain_unknown_options=False)
    return ExportConfig.build(**{name: values.get(name) for name in OPTION_HELP if values.get(name) is not None},
                              now=now)
