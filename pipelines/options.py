"""The export's options: one Beam `PipelineOptions` class, so the CLI, the control plane and template
metadata all read the same list. Every option also takes a dashed spelling (`--export-type`).
"""

import argparse
import json
import os

from apache_beam.options.pipeline_options import PipelineOptions

from transforms.config import (DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_REJECT_FRACTION, EXPORT_TYPES, PARQUET_CODECS,
                               TIME_BASES, ExportConfig)
from transforms.errors import ConfigError
from transforms.formats import FORMATS
from transforms.sinks.credentials import PLATFORM_KEY_ID_ENV, PLATFORM_SECRET_ENV, STS_ENDPOINT_ENV, RoleSettings
from transforms.sinks.s3 import KEY_ID_ENV, SECRET_ENV, SSE_MODES, S3Settings, Secret
from transforms.sources.window import DEFAULT_CLOCK_SKEW

__all__ = ["ExportOptions", "OPTION_HELP", "DESTINATION_OPTION_HELP", "REQUIRED_OPTIONS", "RENAMED_OPTIONS",
           "renamed_option_error", "config_from_options", "s3_settings_from", "add_destination_arguments",
           "export_arguments", "destination_values", "SECRET_ENV", "KEY_ID_ENV"]


# name -> (help, extra argparse settings); docs/options.md's table is written from this.
OPTION_HELP = {
    "source": ("event store root: a local folder or s3://bucket/path", {}),
    "destination": ("a local folder or s3://bucket[/prefix]", {}),
    "export_type": (f"one of {', '.join(EXPORT_TYPES)}", {"default": "all_events"}),
    "events": ("an event name for select_events; repeat the option for more (names may hold commas)",
               {"action": "append"}),
    "events_file": ("a JSON file holding a list of event names for select_events, with or instead of --events "
                    "(a long list's command line would grow with it)", {}),
    "format": (f"one of {', '.join(FORMATS)}", {"default": "json"}),
    "start": ("window start, inclusive, ISO-8601 instant (no offset means UTC)", {}),
    "end": ("window end, exclusive, ISO-8601 instant", {}),
    "time_basis": (f"which time the window applies to: {' or '.join(TIME_BASES)}", {"default": "event"}),
    "request_id": ("export request id, first part of every object name", {"default": "export"}),
    "database_id": ("database id, last part of every object name", {"default": "local"}),
    "run_timestamp": ("the run's logical time, yyyyMMddHHmmss UTC (default: now)", {}),
    "max_file_bytes": ("largest object, in bytes as stored", {"default": DEFAULT_MAX_FILE_BYTES, "type": int}),
    "max_reject_fraction": ("the largest share of a run's records that may be bad (rejected); above it the run "
                            "fails, naming the count and a sample reason", {"default": DEFAULT_MAX_REJECT_FRACTION}),
    "parquet_codec": (f"compression inside Parquet files: {', '.join(PARQUET_CODECS)}", {"default": "gzip"}),
    "timezone": ("IANA time zone of the yyyymmdd name part, the date split and ts", {"default": "UTC"}),
    "clock_skew_hours": ("how far a device clock may run ahead: an event-time window also reads capture "
                         "dates this long before its start", {"default": DEFAULT_CLOCK_SKEW.total_seconds() / 3600,
                                                             "type": float}),
    "captured_before": ("capture ceiling, ISO-8601 instant or epoch ms: records captured at or after it belong to "
                        "later data and are left out, so a rerun reads the same records however many late files "
                        "have landed since (the scheduler fixes it when a run is first claimed)", {}),
    "series_start": ("the first window's start when this run is one of a series of contiguous windows (a "
                     "recurring export; the scheduler passes it): then each record that cannot be placed in time "
                     "(no usable time, or filed under a folder its capture time is not in) is rejected by one run "
                     "of the series; without it the run stands alone and rejects those of every folder it reads",
                     {}),
    "manifest_copy": ("a folder of ours that also receives the manifest, for verify_export", {}),
}

REQUIRED_OPTIONS = frozenset({"source", "destination", "end"})

# The customer's bucket, and nothing else: Beam's own S3 options (--s3_endpoint_url, --s3_region_name,
# --s3_access_key_id) are the platform's S3, where the store, its mark and the spill live (DESIGN.md, "Two S3
# worlds"); the destination's client is built from these alone.
DESTINATION_OPTION_HELP = {
    "destination_endpoint_url": ("the destination's S3-compatible endpoint (MinIO, R2, a local server); the "
                                 "platform's S3 (an s3:// --source, --temp_location) is Beam's --s3_endpoint_url",
                                 {}),
    "destination_region": ("the destination bucket's region (default: boto3's)", {}),
    "destination_path_style": ("path-style addressing for the destination, for S3-compatible servers",
                               {"action": "store_true"}),
    "destination_access_key_id": (f"the destination key id (or ${KEY_ID_ENV}); its secret from ${SECRET_ENV}. "
                                  "Without it: boto3's standard chain (AWS_ACCESS_KEY_ID, profile, role)", {}),
    "destination_role_arn": ("an IAM role of the customer's to assume instead of a key: STS AssumeRole with "
                             f"--destination_external_id, as the deployment's identity (${PLATFORM_KEY_ID_ENV} and "
                             f"${PLATFORM_SECRET_ENV}, else boto3's chain; STS at ${STS_ENDPOINT_ENV} if set)", {}),
    "destination_external_id": ("the account's external id, which the role's trust policy requires", {}),
    "destination_role_session_name": ("the AssumeRole session's name (the account and the export)", {}),
    "sse": (f"server-side encryption: {', '.join(SSE_MODES)}", {"default": "none"}),
    "sse_kms_key_id": ("KMS key id or ARN for --sse aws:kms", {}),
}

# Old destination spellings -> the option that replaced them. --s3_region and --s3_path_style were ours;
# --s3_endpoint_url is Beam's, and means the platform's endpoint alone now.
RENAMED_OPTIONS = {"s3_region": "destination_region", "s3_path_style": "destination_path_style",
                   "s3_endpoint_url": "destination_endpoint_url"}


def renamed_option_error(name):
    """The refusal of an old destination spelling `name` (s3_region, ...), naming the option that replaced it."""
    return ConfigError(f"--{name} no longer sets the destination: use --{RENAMED_OPTIONS[name]} (Beam's --s3_* "
                       "options are the platform's S3 alone: the store, its mark and the --temp_location spill)")


class ExportOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        for name, (text, settings) in {**OPTION_HELP, **DESTINATION_OPTION_HELP}.items():
            flags = [f"--{name}"] + ([f"--{name.replace('_', '-')}"] if "_" in name else [])
            parser.add_argument(*flags, dest=name, help=text, **settings)


# options read here rather than passed on to ExportConfig
_READ_HERE = frozenset({"events_file"})


def _events_in(path):
    """The event names of an --events_file: a JSON list of texts."""
    try:
        with open(path, "rb") as handle:
            names = json.load(handle)
    except (OSError, ValueError) as error:
        raise ConfigError(f"--events_file {path!r} cannot be read as JSON: {error}; give a file holding a list "
                          'of event names, e.g. ["App Launched", "Charged"]') from None
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ConfigError(f"--events_file {path!r} does not hold a list of texts; give a file holding a list of "
                          'event names, e.g. ["App Launched", "Charged"]')
    return names


def config_from_options(options, now=None):
    """Validated `ExportConfig` from parsed options (raises ConfigError naming the bad one)."""
    values = options.get_all_options(retain_unknown_options=False)
    given = {name: values.get(name) for name in OPTION_HELP if values.get(name) is not None and name not in _READ_HERE}
    if values.get("events_file"):
        given["events"] = (given.get("events") or []) + _events_in(values["events_file"])
    config = ExportConfig.build(**given, s3=s3_settings_from(values), now=now)
    _check_platform_endpoint(values, config)
    return config


def _check_platform_endpoint(values, config):
    """--s3_endpoint_url where nothing of the platform's is on S3 but the destination is: it was meant for the
    destination, as it once was, and would not reach it."""
    on_s3 = [value for value in (config.source, values.get("temp_location")) if (value or "").startswith("s3://")]
    if values.get("s3_endpoint_url") and config.destination.is_s3 and not on_s3 \
            and not values.get("destination_endpoint_url"):
        raise renamed_option_error("s3_endpoint_url")


class _Refused(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(str(renamed_option_error(self.dest)))


def add_destination_arguments(parser):
    """The destination options, for the small CLIs that are not Beam pipelines (check, verify), where the old
    --s3_* spellings can only have meant the destination: they are refused, naming the new option."""
    for name, (text, settings) in DESTINATION_OPTION_HELP.items():
        parser.add_argument(f"--{name}", f"--{name.replace('_', '-')}", dest=name, help=text, **settings)
    for name in RENAMED_OPTIONS:
        parser.add_argument(f"--{name}", f"--{name.replace('_', '-')}", dest=name, nargs="?", action=_Refused,
                            help=argparse.SUPPRESS)


def s3_settings_from(values, environ=os.environ):
    """Destination S3 settings from parsed option values (a dict), the secret from the environment; nothing of
    Beam's S3 options (the platform's) enters them."""
    role = None
    if values.get("destination_role_arn"):
        role = RoleSettings(values["destination_role_arn"], values.get("destination_external_id") or "",
                            values.get("destination_role_session_name") or "eventexport")
    key_id = None if role else values.get("destination_access_key_id") or environ.get(KEY_ID_ENV)
    secret = environ.get(SECRET_ENV) if key_id else None
    if key_id and not secret:
        raise ConfigError(f"--destination_access_key_id needs its secret in ${SECRET_ENV}")
    return S3Settings(
        role=role, region=values.get("destination_region"), endpoint_url=values.get("destination_endpoint_url"),
        path_style=bool(values.get("destination_path_style")), access_key_id=Secret(key_id) if key_id else None,
        secret_access_key=Secret(secret) if secret else None, sse=values.get("sse") or "none",
        sse_kms_key_id=values.get("sse_kms_key_id"))


def destination_values(*, bucket, prefix="", endpoint_url=None, region=None, path_style=False, sse="none",
                       sse_kms_key_id=None, role=None):
    """A saved destination as option values for `export_arguments`: destination options and nothing else, so a
    tenant's endpoint never becomes the platform's (Beam's --s3_endpoint_url); its key goes by environment, its
    `role` (RoleSettings: no secret in it) as options."""
    return {"destination": f"s3://{bucket}/{prefix}", "destination_endpoint_url": endpoint_url,
            "destination_region": region, "destination_path_style": path_style, "sse": sse,
            "sse_kms_key_id": sse_kms_key_id, "destination_role_arn": role and role.role_arn,
            "destination_external_id": role and role.external_id,
            "destination_role_session_name": role and role.session_name}


def export_arguments(values):
    """The export's command line (without the program) for option values, name -> value: None and False
    are left out, True is a flag, a list or tuple repeats its option. Each value is joined to its option
    (`--events=-x`), so a value that starts with a dash is never read as an option. A name that is not an
    option of the export is a ValueError, so a caller cannot drift from the option list above."""
    unknown = sorted(set(values) - set(OPTION_HELP) - set(DESTINATION_OPTION_HELP))
    if unknown:
        raise ValueError(f"not an export option: {', '.join(unknown)}")
    argv = []
    for name, value in values.items():
        if value is None or value is False:
            continue
        if value is True:
            argv.append(f"--{name}")
        else:
            for each in value if isinstance(value, (list, tuple)) else [value]:
                argv.append(f"--{name}={each}")
    return argv
