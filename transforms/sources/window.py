"""The export window and which store partitions can hold its rows.

Partition pruning is where correctness and cost meet: the store is laid out by *capture* date, so a
capture-time window reads exactly its own dates, while an event-time window must also read every later
capture date (an SDK may deliver an event days after it happened). Only a device clock running ahead
lets an event be captured *before* it happened; `clock_skew` bounds that, so an event-time window also
reads `clock_skew` before its start.

A capture ceiling (`captured_before_ms`) bounds what an event-time window reads: without one, a window
read again after more late captures landed (a failed run retried) would export more rows than the first
attempt. With it, captures at or after the ceiling belong to later data, not to this run, and store
folders that start at or after it are not read for rows: an event-time window only counts, in them, its
records captured at or after the ceiling (transforms/sources/later_data.py), so that its reconciliation
accounts for all of its later data wherever it was filed.
"""

import dataclasses
import datetime as dt

from transforms.errors import ConfigError

__all__ = ["Window", "parse_instant", "parse_ceiling", "DEFAULT_CLOCK_SKEW"]

DEFAULT_CLOCK_SKEW = dt.timedelta(hours=24)
_UTC = dt.timezone.utc


def parse_instant(text, option):
    """ISO-8601 instant -> aware UTC datetime; a value without an offset is taken as UTC."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise ConfigError(
            f"{option} {text!r} is not an ISO-8601 instant; write it like 2026-11-01T00:00:00Z") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=_UTC)
    return value.astimezone(_UTC)


def parse_ceiling(text, option="--captured_before"):
    """An ISO-8601 instant or whole epoch milliseconds (the store's own unit) -> epoch ms."""
    text = str(text).strip()
    if text.isascii() and text.isdigit():
        return int(text)
    try:
        return to_ms(parse_instant(text, option))
    except ConfigError:
        raise ConfigError(f"{option} {text!r} is neither an ISO-8601 instant nor epoch milliseconds; write it "
                          "like 2026-11-01T00:00:00Z or 1793491200000") from None


def to_ms(instant):
    return int(instant.timestamp() * 1000)


def _folder_span(date_text, hour):
    """[first, last) epoch ms of the store folder of a date 'YYYY-MM-DD' (UTC) and hour (None: the day)."""
    first = dt.datetime.strptime(date_text, "%Y-%m-%d").replace(tzinfo=_UTC)
    if hour is not None:
        first += dt.timedelta(hours=hour)
    last = first + (dt.timedelta(days=1) if hour is None else dt.timedelta(hours=1))
    return to_ms(first), to_ms(last)


@dataclasses.dataclass(frozen=True)
class Window:
    """[start, end) in epoch ms on `basis` time; `start` None means "everything before end".

    `captured_before_ms`: the capture ceiling (None: none); it applies to the store's capture time,
    `captured_at` for events and `updated_at` for profiles, the time the store's folders are named by.
    `series_start_ms`: the first window's start when this one is part of a series of contiguous windows
    (None: the run stands alone); it decides which run rejects a record that cannot be placed in time
    (transforms/sources/placement.py).
    """

    start_ms: object
    end_ms: int
    basis: str
    clock_skew_ms: int = int(DEFAULT_CLOCK_SKEW.total_seconds() * 1000)
    captured_before_ms: object = None
    series_start_ms: object = None

    def partition_filter(self, shape):
        """A predicate on (date 'YYYY-MM-DD', hour int or None) of a store folder: may it hold rows?

        Folder dates and hours are UTC, as the store contract says.
        """
        capture_exact = shape.kind == "profiles" or self.basis == "capture"
        low = None
        if self.start_ms is not None:
            low = self.start_ms if capture_exact else self.start_ms - self.clock_skew_ms
        high = self.end_ms if capture_exact else None
        if self.captured_before_ms is not None:
            high = self.captured_before_ms if high is None else min(high, self.captured_before_ms)

        def may_hold(date_text, hour):
            first, last = _folder_span(date_text, hour)
            return (low is None or last > low) and (high is None or first < high)

        return may_hold

    def later_filter(self, shape):
        """A predicate like partition_filter's for the folders the capture ceiling keeps this window from
        reading that may still hold records of it, all captured at or after the ceiling: later data, which
        the run counts there. None when there are none: without a ceiling, and on capture time (profiles
        too), whose ceiling is never before the window's end."""
        if self.captured_before_ms is None or shape.kind == "profiles" or self.basis == "capture":
            return None
        low = None if self.start_ms is None else self.start_ms - self.clock_skew_ms

        def may_hold(date_text, hour):
            first, last = _folder_span(date_text, hour)
            return first >= self.captured_before_ms and (low is None or last > low)

        return may_hold

    def describe(self):
        """ISO text of the window, for the manifest and the summary."""
        def iso(ms):
            return None if ms is None else (
                dt.datetime.fromtimestamp(ms / 1000, _UTC).isoformat().replace("+00:00", "Z"))
        return {"start": iso(self.start_ms), "end": iso(self.end_ms), "time_basis": self.basis,
                "captured_before": iso(self.captured_before_ms)}
