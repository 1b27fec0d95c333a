"""The validated settings of one export run, built once from options, then passed to every step.

Everything a step needs is here, so the pipeline is a function of this value alone: no clock (the run
timestamp is a setting), no globals. Each check names the bad value and the fix.
"""

import dataclasses
import datetime as dt
import os
import zoneinfo

from transforms.sinks.target import Destination, parse_destination
from transforms.sinks.s3 import S3Settings
from transforms.errors import ConfigError
from transforms.formats import FORMATS
from transforms.sinks.naming import check_id
from transforms.records import EVENTS, PROFILES
from transforms.sources.window import DEFAULT_CLOCK_SKEW, Window, parse_ceiling, parse_instant, to_ms

__all__ = ["ExportConfig", "EXPORT_TYPES", "TIME_BASES", "PARQUET_CODECS", "DEFAULT_MAX_FILE_BYTES",
           "DEFAULT_MAX_REJECT_FRACTION"]

EXPORT_TYPES = ("all_events", "select_events", "all_profiles")
TIME_BASES = ("event", "capture")
PARQUET_CODECS = ("gzip", "zstd", "snappy")
DEFAULT_MAX_FILE_BYTES = 100 * 1024 * 1024
# A healthy store rejects a handful of records; one per hundred means something upstream broke, and a
# run that is mostly rejects must not end Done.
DEFAULT_MAX_REJECT_FRACTION = 0.01


def _choice(option, value, choices):
    if value not in choices:
        raise ConfigError(f"{option} {value!r} is not one of {', '.join(choices)}")
    return value


@dataclasses.dataclass(frozen=True)
class ExportConfig:
    source: str
    destination: Destination
    export_type: str
    events: tuple
    format: str
    window: Window
    request_id: str
    database_id: str
    run_timestamp: str
    max_file_bytes: int
    parquet_codec: str
    timezone: str
    manifest_copy: str = None
    max_reject_fraction: float = DEFAULT_MAX_REJECT_FRACTION
    spill_dir: str = None   # set by the launcher for each run (transforms/shuffle/spill.py)
    filesystem_flags: tuple = ()   # where storage is, for workers (transforms/runtime/worker_filesystems.py)
    # Whether a step may hold an element's outputs back and emit them when its bundle finishes, so that
    # the next store file is read while the last one is partitioned (transforms/runtime/prefetch.py). Beam's
    # DaskRunner collects a bundle's outputs before it finishes the bundle: what finish_bundle emits
    # there is lost.
    overlap: bool = True

    @property
    def shape(self):
        return PROFILES if self.export_type == "all_profiles" else EVENTS

    def run_description(self):
        """The manifest's header: what was asked for, without any credential."""
        return {
            "request_id": self.request_id, "run_timestamp": self.run_timestamp, "database_id": self.database_id,
            "export_type": self.export_type, "events": list(self.events), "format": self.format,
            "timezone": self.timezone, "window": self.window.describe(),
            "server_side_encryption": self.destination.s3.sse,
        }

    @classmethod
    def build(cls, *, source, destination, export_type="all_events", events=(), format="json", start=None,
              end=None, time_basis="event", request_id="export", database_id="local", run_timestamp=None,
              max_file_bytes=DEFAULT_MAX_FILE_BYTES, parquet_codec="gzip", timezone="UTC",
              clock_skew_hours=DEFAULT_CLOCK_SKEW.total_seconds() / 3600, manifest_copy=None, s3=S3Settings(),
              max_reject_fraction=DEFAULT_MAX_REJECT_FRACTION, captured_before=None, series_start=None, now=None):
        """Validate raw option values; `now` (UTC datetime) is only used to default the run timestamp.

        `manifest_copy`: a folder (ours, not the customer's) that also receives the manifest, so the run
        can be verified later with a key that may not read the bucket.
        """
        if not source:
            raise ConfigError("--source is required: the event store root, a local folder or s3://bucket/path")
        _choice("--export_type", export_type, EXPORT_TYPES)
        _choice("--format", format, FORMATS)
        _choice("--time_basis", time_basis, TIME_BASES)
        _choice("--parquet_codec", parquet_codec, PARQUET_CODECS)
        events = tuple(events or ())
        if export_type == "select_events" and not events:
            raise ConfigError("--export_type select_events needs at least one --events NAME (repeat it for more)")
        if export_type != "select_events" and events:
            raise ConfigError(f"--events is only for --export_type select_events, not {export_type}")
        if any(not name for name in events):
            raise ConfigError("--events '' is empty; name an event")
        try:
            zoneinfo.ZoneInfo(timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"--timezone {timezone!r} is not an IANA time zone such as UTC or Asia/Kolkata") from None
        if end is None:
            raise ConfigError("--end is required: the window's exclusive end, e.g. 2026-11-01T00:00:00Z")
        end_ms = to_ms(parse_instant(end, "--end"))
        as_of = export_type == "all_profiles" and time_basis == "event"
        if start is None and not as_of:
            raise ConfigError("--start is required: the window's inclusive start, e.g. 2026-10-31T00:00:00Z")
        start_ms = None if start is None else to_ms(parse_instant(start, "--start"))
        if start_ms is not None and start_ms >= end_ms:
            raise ConfigError(f"--start {start} is not before --end {end}; the window is [start, end)")
        try:
            max_file_bytes, skew = int(max_file_bytes), float(clock_skew_hours)
        except (TypeError, ValueError):
            raise ConfigError("--max_file_bytes and --clock_skew_hours take numbers") from None
        if max_file_bytes < 1:
            raise ConfigError(f"--max_file_bytes {max_file_bytes} must be a positive number of bytes")
        try:
            max_reject_fraction = float(max_reject_fraction)
        except (TypeError, ValueError):
            raise ConfigError(f"--max_reject_fraction {max_reject_fraction!r} is not a number") from None
        if not 0 <= max_reject_fraction <= 1:
            raise ConfigError(f"--max_reject_fraction {max_reject_fraction} must be between 0 and 1, e.g. 0.01")
        if skew < 0:
            raise ConfigError(f"--clock_skew_hours {clock_skew_hours} must not be negative")
        ceiling = None if captured_before is None else parse_ceiling(captured_before)
        on_capture_time = time_basis == "capture" or export_type == "all_profiles"
        if ceiling is not None and on_capture_time and ceiling < end_ms:
            raise ConfigError(f"--captured_before {captured_before} is before --end {end} of a window on capture "
                              "time: the captures in between would belong to no run; set it at or after --end, "
                              "or leave it out")
        series_start_ms = None if series_start is None else to_ms(parse_instant(series_start, "--series_start"))
        if series_start_ms is not None and as_of:
            raise ConfigError("--series_start is for windows with a --start; an all_profiles export as of --end "
                              "stands alone")
        if series_start_ms is not None and series_start_ms > start_ms:
            raise ConfigError(f"--series_start {series_start} is after --start {start}: it is the start of the "
                              "series' first window, so at or before this window's start")
        if run_timestamp is None:
            run_timestamp = (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y%m%d%H%M%S")
        try:
            dt.datetime.strptime(run_timestamp, "%Y%m%d%H%M%S")
            if len(run_timestamp) != 14:
                raise ValueError
        except (TypeError, ValueError):
            raise ConfigError(f"--run_timestamp {run_timestamp!r} is not yyyyMMddHHmmss, e.g. 20261101000000") from None
        return cls(
            source=source if "://" in source else os.path.abspath(source),
            destination=parse_destination(destination, s3),
            export_type=export_type, events=events, format=format,
            window=Window(None if as_of else start_ms, end_ms, time_basis, int(skew * 3600 * 1000), ceiling,
                          series_start_ms),
            request_id=check_id("--request_id", request_id), database_id=check_id("--database_id", database_id),
            run_timestamp=run_timestamp, max_file_bytes=max_file_bytes, parquet_codec=parquet_codec,
            timezone=timezone, manifest_copy=manifest_copy, max_reject_fraction=max_reject_fraction,
        )
