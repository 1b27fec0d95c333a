"""Progress of a running export: workers count, the launcher shows.

Each worker process keeps its own small JSON file in the run's (local) spill folder, rewritten at most
once a second; the launcher sums the files every few seconds and shows rows read, rows and bytes
written and the rate: on one line that updates in place on a terminal, as a log line every
`LOG_EVERY_SECONDS` otherwise (a JSON object a line with EVENTEXPORT_LOG_FORMAT=json). Distributed
runners have their own consoles, so it is local only.
"""

import glob
import json
import os
import sys
import threading
import time
import uuid

from transforms.runtime import logs

__all__ = ["ProgressCounter", "ProgressReporter"]

FLUSH_EVERY_SECONDS = 1.0
LOG_EVERY_SECONDS = float(os.environ.get("EVENTEXPORT_PROGRESS_SECONDS", "30"))
_FIELDS = ("rows_read", "rows_written", "objects", "bytes")


class ProgressCounter:
    """Counts kept by one worker process; a no-op where the spill folder is not local."""

    def __init__(self, folder):
        self._path = None if "://" in folder else os.path.join(folder, f"progress-{uuid.uuid4().hex}.json")
        self._counts = dict.fromkeys(_FIELDS, 0)
        self._flushed = 0.0

    def add(self, **amounts):
        for name, amount in amounts.items():
            self._counts[name] += amount
        if self._path and time.monotonic() - self._flushed >= FLUSH_EVERY_SECONDS:
            self.flush()

    def flush(self):
        if not self._path:
            return
        os.makedirs(os.path.dirname(self._path), exist_ok=True)
        temporary = self._path + ".tmp"
        with open(temporary, "w") as handle:
            json.dump(self._counts, handle)
        os.replace(temporary, self._path)   # readers never see half a file
        self._flushed = time.monotonic()


class ProgressReporter:
    """A thread in the launcher that reads the workers' files and reports while the pipeline runs."""

    def __init__(self, folder, stream=sys.stderr):
        self._folder, self._stream = folder, stream
        self._format = logs.log_format()
        self._tty = stream.isatty() and self._format == "human"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._start = time.monotonic()

    def __enter__(self):
        if "://" not in self._folder:
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
            if self._tty:
                self._stream.write("\r\033[K")

    def totals(self):
        totals = dict.fromkeys(_FIELDS, 0)
        for path in glob.glob(os.path.join(self._folder, "progress-*.json")):
            try:
                with open(path) as handle:
                    counts = json.load(handle)
            except (OSError, ValueError):
                continue
            for name in _FIELDS:
                totals[name] += counts.get(name, 0)
        return totals

    def line(self):
        totals, elapsed = self.totals(), max(time.monotonic() - self._start, 1e-9)
        text = (f"progress: {totals['rows_read']:,} rows read ({totals['rows_read'] / elapsed:,.0f}/s), "
                f"{totals['rows_written']:,} written ({totals['rows_written'] / elapsed:,.0f}/s) in "
                f"{totals['objects']:,} objects, {totals['bytes'] / 1e6:,.1f} MB")
        return logs.line(self._format, text, logger="eventexport.progress", **totals)

    def _loop(self):
        interval = 1.0 if self._tty else LOG_EVERY_SECONDS
        while not self._stop.wait(interval):
            if self._tty:
                self._stream.write("\r\033[K" + self.line())
            else:
                self._stream.write(self.line() + "\n")
            self._stream.flush()
