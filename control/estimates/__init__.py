"""Estimates before an export: the rows, compressed bytes and objects it would give, per event name.

Rows come from the store's files without reading their records (store_counts.py: Parquet footers and the
name and time columns alone; other store formats read whole when they are small, else scaled from one
sampled file). Bytes come from a small
sample encoded by the export's own encoder (sizing.py). Objects are one per (event name, day) and more
where a day's bytes pass --max_file_bytes. The error bars are what docs/performance.md measured against
real exports, widened for a name whose bytes were learned from few sampled rows.

A one-time export is estimated over its window (event time); a recurring one per window of its interval,
from the captures of the STORE_DAYS days before now (capture time, as its runs read).
"""

import collections
import datetime as dt
import math

from control.estimates.sizing import Sizer, sample_rows
from control.estimates.store_counts import count_file, profile_counts, read_counts, scaled_counts
from control.exports import parse_every
from transforms.config import DEFAULT_MAX_FILE_BYTES, EXPORT_TYPES
from transforms.errors import ConfigError
from transforms.formats import FORMATS
from transforms.records import EVENTS, PROFILES
from transforms.sinks.sharding import FILL
from transforms.sources.store_files import STORE_SUFFIXES, list_split_sizes, store_format
from transforms.sources.window import Window as ReadWindow

__all__ = ["estimate", "estimate_for_account", "CountWindow", "ROW_ERROR", "BYTE_ERROR", "STORE_DAYS",
           "READ_WHOLE_BYTES"]

STORE_DAYS = 7   # a recurring export's window is estimated from this many days of captures
# Avro and JSON Lines files up to this many bytes in all are read whole (exact counts, ~0.3 s); more are
# scaled from a sample (a large store's such files would take seconds a GB to parse).
READ_WHOLE_BYTES = 16 << 20
# Error bars, as fractions (docs/performance.md, "Estimates"): rows counted in Parquet files are exact but
# for the records an export rejects; rows scaled from another format's sample, and bytes, are measured.
ROW_ERROR = {"counted": 0.01, "scaled": 0.25}
BYTE_ERROR = {"json": 0.1, "csv": 0.1, "xml": 0.1, "parquet": 0.15, "avro": 0.1}


class CountWindow:
    """What store_counts.py needs: the time `column` the window is on, the `day_column` that dates an
    object, [start_ms, end_ms), and the selected event names, `wanted` (None: all)."""

    def __init__(self, column, day_column, start_ms, end_ms, names=None):
        self.column, self.day_column, self.start_ms, self.end_ms = column, day_column, start_ms, end_ms
        self.wanted = frozenset(names) if names else None


def _ms(moment):
    return int(moment.timestamp() * 1000)


def _window(shape, frequency, window_from, window_to, every, now, events):
    """(CountWindow, share of its counts one export run gives, the window as shown)."""
    if frequency == "once":
        if window_from is None or window_to is None or window_to <= window_from:
            raise ConfigError("A one-time export's estimate needs its window: window_from before window_to",
                              field="window_from")
        start, end, share, basis = window_from, window_to, 1.0, "event"
    elif frequency == "recurring":
        hours = parse_every(every)
        end = now.replace(minute=0, second=0, microsecond=0)
        start, share, basis = end - dt.timedelta(days=STORE_DAYS), hours / (24 * STORE_DAYS), "capture"
    else:
        raise ConfigError(f"The frequency {frequency!r} is not one of once, recurring", field="frequency")
    column = shape.window_column(basis)
    window = CountWindow(column, shape.event_time_column(), _ms(start), _ms(end), events or None)
    return window, share, basis, {"start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                  "end": end.strftime("%Y-%m-%dT%H:%M:%SZ"), "time_basis": basis}


def _count(files, window, shape):
    """(Counter {(name, day): rows}, files counted exactly, files scaled from a sample)."""
    parquet = [(path, size) for path, size in files if store_format(path) == "parquet"]
    others = [(path, size) for path, size in files if store_format(path) != "parquet"]
    counts, tables, scaled = collections.Counter(), [], []
    for path, size in parquet:
        found = count_file(path, size, window, shape)
        if shape.name_column:
            counts += found
        else:
            tables.extend(found)
    if sum(size for _, size in others) <= READ_WHOLE_BYTES:
        found = read_counts(others, window, shape)
        if shape.name_column:
            counts += found
        else:
            tables.extend(found)
    else:
        scaled = others
    if not shape.name_column:
        counts = profile_counts(tables, shape.fixed_name)
    by_suffix = collections.defaultdict(list)   # a .jsonl.gz file holds more records a byte than a .jsonl
    for path, size in scaled:
        by_suffix[next(suffix for suffix in STORE_SUFFIXES if path.endswith(suffix))].append((path, size))
    for group in by_suffix.values():
        counts += scaled_counts(group, window, shape)
    return counts, len(files) - len(scaled), len(scaled)


def estimate(store_root, *, export_type, format, frequency, events=(), window_from=None, window_to=None,
             every=None, now=None, max_file_bytes=DEFAULT_MAX_FILE_BYTES, parquet_codec="gzip"):
    """The estimate of an export with these settings over the store at `store_root` (a dict; see the API's
    Estimate schema)."""
    if format not in FORMATS:
        raise ConfigError(f"The format {format!r} is not one of {', '.join(FORMATS)}", field="format")
    if export_type not in EXPORT_TYPES:
        raise ConfigError(f"The export type {export_type!r} is not one of {', '.join(EXPORT_TYPES)}",
                          field="export_type")
    if not store_root:
        raise ConfigError("This account has no store to estimate from", field="export_type")
    shape = PROFILES if export_type == "all_profiles" else EVENTS
    events = sorted(set(events or ())) if export_type == "select_events" else []
    now = now or dt.datetime.now(dt.timezone.utc)
    window, share, basis, shown = _window(shape, frequency, window_from, window_to, every, now, events)
    reading = ReadWindow(window.start_ms, window.end_ms, "capture" if basis == "capture" else "event")
    files = list_split_sizes(store_root, shape, reading.partition_filter(shape))
    counts, counted, scaled = _count(files, window, shape)
    sample = sample_rows(files, shape, window.column) if files else None
    sizer = Sizer(sample, shape, format, parquet_codec, set(events) or None) if sample else None
    per_event = collections.defaultdict(lambda: {"rows": 0.0, "bytes": 0.0, "objects": 0})
    for (name, _day), rows in sorted(counts.items()):
        rows *= share
        whole = sizer.bytes(name, rows) if sizer and rows >= 0.5 else 0
        objects = max(1, math.ceil(whole / (max_file_bytes * FILL))) if whole else 0
        entry = per_event[name]
        entry["rows"] += rows
        entry["bytes"] += objects * sizer.bytes(name, rows / objects) if objects else 0
        entry["objects"] += objects
    row_error = ROW_ERROR["scaled" if scaled else "counted"]
    items = []
    for name, entry in sorted(per_event.items()):
        sampled = sizer.sampled(name) if sizer else 0
        items.append({"event_name": name, "rows": round(entry["rows"]), "bytes": round(entry["bytes"]),
                      "objects": entry["objects"], "rows_error": row_error,
                      "bytes_error": round(BYTE_ERROR[format] + (1 / math.sqrt(sampled) if sampled else 0.5), 3)})
    return {
        "format": format, "window": shown, "per": "export" if frequency == "once" else f"run (every {every})",
        "rows": sum(i["rows"] for i in items), "bytes": sum(i["bytes"] for i in items),
        "objects": sum(i["objects"] for i in items), "rows_error": row_error, "bytes_error": BYTE_ERROR[format],
        "events": items,
        "missing_events": [name for name in events if name not in per_event],
        "basis": {"files": len(files), "files_counted": counted, "files_scaled": scaled,
                  "sampled_rows": 0 if sample is None else sample.num_rows},
    }


def estimate_for_account(engine, settings, account_id, **export):
    """The estimate of an export of the account's own store (its event or profile store, by export type),
    read with the platform's S3 settings as the pipelines are."""
    from control.accounts import get_account
    from control.readiness import use_store_options
    account = get_account(engine, account_id)
    store = account["profile_store"] if export.get("export_type") == "all_profiles" else account["event_store"]
    use_store_options(settings)
    return estimate(store, **export)
