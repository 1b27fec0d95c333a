"""The export window and which store partitions can hold its rows.

Partition pruning is where correctness and cost meet: the store is laid out by *capture* date, so a
capture-time window reads exactly its own dates, while an event-time window must also read every later
capture date (an SDK may deliver an event days after it happened). Only a device clock running ahead
lets an event be captured *before* it happened; `clock_skew` bounds that, so an event-time window also
reads `clock_skew` before its start.

A capture ceiling (`captured_before_ms`) bounds what an event-time window reads: without one, a window
read again after more late captures landed (a failed run retried) would export more rows than the first
attempt. With it, captures at or after the ceiling belong to later data, not to this run, and store
folders that start at or after it are not even listed.
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
            day = dt.datetime.strptime(date_text, "%Y-%m-%d").replace(tzinfo=_UTC)
            first = day if hour is None else day + dt.timedelta(hours=hour)
            last = first + (dt.timedelta(days=1) if hour is None else dt.timedelta(hours=1))
            if low is not None and to_ms(last) <= low:
                return False
            return high is None or to_ms(first) < high

        return may_hold

    def describe(self):
        """ISO text of the window, for the manifest and the summary."""
        def iso(ms):
            return None if ms is None else (
                dt.datetime.fromtimestamp(ms / 1000, _UTC).isoformat().replace("+00:00", "Z"))
        return {"start": iso(self.start_ms), "end": iso(self.end_ms), "time_basis": self.basis,
                "captured_before": iso(self.captured_before_ms)}
