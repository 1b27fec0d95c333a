"""Whether a run's data is in the store yet: the store's completeness mark, or a settle delay without one.

A window's run is created the moment the window ends, but ingesters land files minutes later; a run
read too early would miss those captures for good, since the next window starts where this one ends.
So a run starts only once its store's `_watermark.json` says every capture before the window's end is
in (`complete_before >= window end`), on capture and event basis alike; a store without a mark gets
`settle_minutes` after the window's end instead. A run that waits stays Pending and says why.

When a run is first claimed it also gets its capture ceiling (`StoreMarks.ceiling`), which every attempt
passes to the pipeline as `--captured_before`, so a retry reads the same records as the first attempt.
"""

import datetime as dt

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from transforms.errors import ExportError
from transforms.sources.watermark import WATERMARK_FILE, read_watermark
from transforms.sources.window import to_ms

__all__ = ["store_root", "use_store_options", "StoreMarks"]

_EPOCH = dt.datetime(1970, 1, 1)


def store_root(account, export_type):
    """The store of `account` that a run of `export_type` reads."""
    profiles = export_type == "all_profiles"
    source = account["profile_store"] if profiles else account["event_store"]
    if not source:
        store = "profile" if profiles else "event"
        raise RuntimeError(f"account {account['id']!r} has no {store} store; give it one (the default account's "
                           f"is EVENTEXPORT_{store.upper()}_STORE), pointing at the store root")
    return source


def use_store_options(settings):
    """Read s3:// stores' marks with the platform's S3 settings the pipelines get (Settings.pipeline_argv)."""
    FileSystems.set_options(PipelineOptions(settings.pipeline_argv()))


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class StoreMarks:
    """One look at the stores' marks: each store's mark is read once, then reused for all its runs."""

    def __init__(self, settings, as_of):
        self._settings, self._as_of = settings, as_of
        self._marks = {}

    def _mark(self, root):
        if root not in self._marks:
            try:
                self._marks[root] = read_watermark(root)
            except ExportError as error:
                self._marks[root] = error
        return self._marks[root]

    def ceiling(self, run, account, export_type):
        """The capture ceiling (epoch ms) for a run claimed now: max(window end, the store's mark), or
        max(window end, the scheduler's clock) for a store without a mark.

        The mark says every capture before it is in the store, and later landings only add captures at or
        after it; so "every record captured before the mark" is a set that no longer changes, and a retry
        after more late files reads exactly what the first attempt read. Taking the mark rather than the
        window's end keeps what the readiness rule promises an event-time window: the events delivered late
        that had landed by the time it ran. A capture-time window already ends at its end, and a ceiling
        before that would cut its last captures out of every run (the next window starts at the end); the
        run is claimed only once the mark has passed its end, and the max() makes that hold without a mark
        too. Without a mark there is no such promise: a capture before the scheduler's clock that lands
        later still changes a retry, and only the settle delay guards against it.
        """
        end = to_ms(run["window_end"].replace(tzinfo=dt.timezone.utc))
        mark = self._mark(store_root(account, export_type))
        known = mark if isinstance(mark, int) else to_ms(self._as_of.replace(tzinfo=dt.timezone.utc))
        return max(end, known)

    def waiting_for(self, run, account, export_type):
        """None when the run may start; otherwise why it waits, for the activity log."""
        end = run["window_end"]
        waiting = f"waiting for data up to {_iso(end)}"
        mark = self._mark(store_root(account, export_type))
        if isinstance(mark, ExportError):
            return f"{waiting}: {mark}"
        if mark is None:
            settled = end + dt.timedelta(minutes=self._settings.settle_minutes)
            if self._as_of >= settled:
                return None
            return (f"{waiting}: the store has no completeness mark ({WATERMARK_FILE}), so the run starts "
                    f"{self._settings.settle_minutes:g} min after the window ends, at {_iso(settled)}")
        if mark >= to_ms(end.replace(tzinfo=dt.timezone.utc)):
            return None
        return f"{waiting}: the store is complete before {_iso(_EPOCH + dt.timedelta(milliseconds=mark))}"
