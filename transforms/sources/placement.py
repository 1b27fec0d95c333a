"""Which records of a store file a run judges, and the faults of their times that reject a record.

A run exports the records whose window time (event or capture time, as its basis says) lies in its
window and that were captured before its capture ceiling, and rejects the bad ones among them. Some
records cannot be placed in time by their own fields: the window time is missing or unusable (not a
whole number of milliseconds; an impossible event time on event basis), or the capture time lies outside
the day (or hour) of the folder that holds the record, so that neither its capture time nor its folder
can be trusted to date it (a misfiled record). Every run that reads the folder meets such a record, and
exactly one of them must reject it:

- a run that stands alone (a one-time export, any run without `--series_start`) rejects those of every
  folder it reads;
- a run of a series of contiguous windows (`--series_start`: the first window's start, which the
  scheduler passes for recurring exports) rejects those of a folder when its window holds the folder's
  first instant, or the series' start when that is later. That run reads the folder: on capture basis
  its window overlaps the folder, on event basis it starts before the folder ends.

Such a record's capture time is not checked against the ceiling when it is misfiled (it says nothing
true), so a misfiled record from "the future" cannot slip past every run as later data.

An impossible event time (before 1970-01-01, at or after 10000-01-01 UTC, or in the year 10000 in the
export's time zone) would give an object a date part that is not 8 digits and a `ts` that is not 14. On
capture basis such a record is still placed by its capture time, and rejected by the run that holds it.

The checks are Arrow kernels on whole batches; Python only formats the reasons of the rejected rows.
"""

import dataclasses
import datetime as dt
import zoneinfo

import pyarrow as pa
import pyarrow.compute as pc

from transforms.sources.validation import reject

__all__ = ["Placement", "latest_ms", "EPOCH_END_MS", "JUDGED", "LATER"]

EPOCH_END_MS = 253_402_300_800_000   # 10000-01-01T00:00:00Z
JUDGED, LATER = "judged", "later"
_UTC = dt.timezone.utc
_UNIT_MS = {"s": None, "ms": 1, "us": 1000, "ns": 1_000_000}


def latest_ms(timezone):
    """The first instant (epoch ms) whose date is past 9999-12-31, in `timezone` or in UTC if sooner."""
    offset = zoneinfo.ZoneInfo(timezone).utcoffset(dt.datetime(9999, 12, 31, 23, 59))   # its wall clock then
    return EPOCH_END_MS - max(0, offset // dt.timedelta(milliseconds=1))


def _iso(ms):
    try:
        return (dt.datetime(1970, 1, 1, tzinfo=_UTC) + dt.timedelta(milliseconds=ms)).isoformat(
            timespec="milliseconds").replace("+00:00", "Z")
    except OverflowError:
        return "no date"


def _as_ms(column):
    """A time column as int64 epoch ms, and a mask of the values that are not a whole number of
    milliseconds (None when none can be: integer columns), which become null. Floats and timestamps
    finer than ms come from Parquet files that typed their times so; integers are cast later."""
    kind = column.type
    if pa.types.is_timestamp(kind):
        raw = pc.cast(column, pa.int64())
        factor = _UNIT_MS[kind.unit]
        if factor is None:
            return pc.multiply_checked(raw, 1000), None
        if factor == 1:
            return raw, None
        whole = pc.equal(pc.multiply(pc.divide(raw, factor), factor), raw)
        return pc.if_else(whole, pc.divide(raw, factor), None), pc.invert(pc.fill_null(whole, True))
    if pa.types.is_floating(kind):
        whole = pc.and_(pc.is_finite(column), pc.equal(column, pc.floor(column)))
        whole = pc.and_(whole, pc.less(pc.abs(column), 2.0 ** 62))
        return pc.cast(pc.if_else(whole, column, None), pa.int64()), pc.invert(pc.fill_null(whole, True))
    return column, None


def _false(mask):
    return pc.fill_null(mask, False)


@dataclasses.dataclass
class Placement:
    """The judging of one store file by one run. `located`: the file's name and folder
    (store_files.locate); `window_column`, [`start_ms`, `end_ms`), `captured_before`: the run's window;
    `series_start`: None for a run that stands alone; `latest`: latest_ms of the export's time zone;
    `wanted`: the selected event names (empty: all). Rejects are appended to `rejects`. `beyond_ceiling`:
    the file's folder starts at or after the capture ceiling, so the run only counts its later data
    (later_data.py) and judges none of its records that cannot be placed in time: the runs that read
    the folder do."""

    shape: object
    located: object
    window_column: str
    start_ms: object
    end_ms: int
    rejects: list
    wanted: tuple = ()
    captured_before: object = None
    series_start: object = None
    latest: int = EPOCH_END_MS
    beyond_ceiling: bool = False

    def __post_init__(self):
        self.read = 0    # records this run judges, the later ones included (see verdict)
        self.later = 0   # ... of them captured at or after the ceiling, so left to later runs
        self.event_column = self.shape.event_time_column()
        self.capture_column = self.shape.window_column("capture")
        folder = self.located.start_ms
        if self.beyond_ceiling:
            self.judges_unplaced = False
        elif folder is None or self.series_start is None:
            self.judges_unplaced = True
        else:
            owner = max(folder, self.series_start)
            self.judges_unplaced = self._in_window(owner)
        self.wanted_names = pa.array(self.wanted, pa.string()) if self.wanted else None

    def _in_window(self, moment):
        return (self.start_ms is None or moment >= self.start_ms) and moment < self.end_ms

    def _later(self, captured):
        return self.captured_before is not None and captured >= self.captured_before

    def _in_folder(self, captured):
        return self.located.start_ms is None or self.located.start_ms <= captured < self.located.end_ms

    # ---------------------------------------------------------------------------------------- one record

    def verdict(self, record):
        """JUDGED if this run judges `record` (a dict, {} when it could not even be parsed), LATER if it
        would but for the capture ceiling, else None. For records rejected before they are table rows: not
        JSON, a value of the wrong type."""
        name = record.get("event_name")
        if self.wanted and isinstance(name, str) and name not in self.wanted:
            return None
        moment, event, captured = (record.get(c) for c in (self.window_column, self.event_column,
                                                             self.capture_column))
        event_bad = event is not None and not (_is_ms(event) and 0 <= event < self.latest)
        capture_bad = captured is not None and not (_is_ms(captured) and self._in_folder(captured))
        moment_bad = event_bad if self.window_column == self.event_column else capture_bad
        if moment is not None and not moment_bad and not capture_bad:
            if not self._in_window(moment):
                return None
        elif not self.judges_unplaced:
            return None
        elif capture_bad:
            return JUDGED   # a misfiled capture time says nothing true about the ceiling either
        return LATER if captured is not None and self._later(captured) else JUDGED

    def add(self, reason, shown, record=None, code="not_json"):
        """Reject a record met before it is a table row, if this run judges it; `shown`: its text or dict;
        `code`: the reason's kind (validation.REASON_CODES)."""
        verdict = self.verdict(record or {})
        if verdict:
            self.read += 1
        if verdict == LATER:
            self.later += 1
        elif verdict == JUDGED:
            self.rejects.append(reject(self.located.name, reason, shown, code))

    # ---------------------------------------------------------------------------------------- a batch

    def judge(self, table, cast=lambda table: table):
        """The rows of `table` this run judges and finds no time fault in, `cast` to the canonical types
        after the time columns are made epoch ms; the judged rows with a time fault go to the rejects."""
        times = dict.fromkeys((self.event_column, self.capture_column))   # in this order; one for profiles
        raw, unwhole = {name: table[name] for name in times}, {}
        for name in times:
            millis, bad = _as_ms(raw[name])
            if millis is not raw[name]:
                table = table.set_column(table.schema.get_field_index(name), name, millis)
            if bad is not None:
                unwhole[name] = bad
        table = cast(table)
        event, captured = table[self.event_column], table[self.capture_column]
        event_bad = _false(pc.or_(pc.less(event, 0), pc.greater_equal(event, self.latest)))
        capture_bad = pa.scalar(False) if self.located.start_ms is None else _false(pc.or_(
            pc.less(captured, self.located.start_ms), pc.greater_equal(captured, self.located.end_ms)))
        if self.event_column in unwhole:
            event_bad = pc.or_(event_bad, unwhole[self.event_column])
        if self.capture_column in unwhole:
            capture_bad = pc.or_(capture_bad, unwhole[self.capture_column])
        (keep, later), faulty = self._keep(table, event_bad, capture_bad), pc.or_(event_bad, capture_bad)
        later_rows = 0 if later is None else pc.sum(pc.cast(later, pa.int64())).as_py() or 0
        self.later += later_rows
        self.read += later_rows + (pc.sum(pc.cast(keep, pa.int64())).as_py() or 0)
        bad = pc.and_(keep, faulty)
        if pc.any(bad).as_py():
            self._reject_faults(table.filter(bad), {name: column.filter(bad) for name, column in raw.items()},
                                {name: mask.filter(bad) for name, mask in unwhole.items()})
            keep = pc.and_(keep, pc.invert(faulty))
        return table if pc.all(keep).as_py() else table.filter(keep)

    def _keep(self, table, event_bad, capture_bad):
        """(placed rows in the window and before the ceiling, and, if this run judges them, the rest;
        the rows that only the ceiling keeps out of the first, or None without a ceiling)."""
        moment, captured = table[self.window_column], table[self.capture_column]
        moment_bad = event_bad if self.window_column == self.event_column else capture_bad
        placed = pc.and_(pc.is_valid(moment), pc.invert(pc.or_(moment_bad, capture_bad)))
        in_window = pc.less(moment, self.end_ms)
        if self.start_ms is not None:
            in_window = pc.and_(in_window, pc.greater_equal(moment, self.start_ms))
        in_window = _false(pc.and_(placed, in_window))
        unplaced = pc.invert(placed) if self.judges_unplaced else pa.scalar(False)
        if self.captured_before is None:
            keep, later = pc.or_(in_window, unplaced), None
        else:
            on_time = pc.fill_null(pc.less(captured, self.captured_before), True)
            keep = pc.or_(pc.and_(in_window, on_time), pc.and_(unplaced, pc.or_(capture_bad, on_time)))
            later = pc.and_(pc.or_(in_window, pc.and_(unplaced, pc.invert(capture_bad))), pc.invert(on_time))
        if self.wanted_names is not None:
            name = table["event_name"]
            wanted = pc.or_(pc.is_in(name, value_set=self.wanted_names), pc.is_null(name))
            keep = pc.and_(keep, wanted)
            later = None if later is None else pc.and_(later, wanted)
        return keep, later

    def _reject_faults(self, rows, raw, unwhole):
        """Python over the rejected rows alone, to say for each what is wrong with which value."""
        unwhole = {name: mask.to_pylist() for name, mask in unwhole.items()}
        raw = {name: _shown(column) for name, column in raw.items()}
        for index, record in enumerate(rows.to_pylist()):
            fraction = next((name for name in (self.event_column, self.capture_column)
                             if name in unwhole and unwhole[name][index]), None)
            shown = dict(record, **{name: values[index] for name, values in raw.items()})
            reason, code = ((f"{fraction} {shown[fraction]} is not a whole number of milliseconds",
                             "time_not_whole_ms") if fraction else self._reason(record))
            self.rejects.append(reject(self.located.name, reason, shown, code))

    def _reason(self, record):
        event, captured = self.event_column, self.capture_column
        value = record[event]
        if value is not None and not 0 <= value < self.latest:
            end = ("10000-01-01T00:00:00Z" if self.latest == EPOCH_END_MS
                   else f"{_iso(self.latest)} (10000-01-01 in the export's time zone)")
            return (f"{event} {value} ({_iso(value)}) is not between 1970-01-01T00:00:00Z and {end}: an event time "
                    "is epoch milliseconds (is this one in seconds or microseconds?)", "event_time_out_of_range")
        value = record[captured]
        return (f"{captured} {value} ({_iso(value)}) is outside its folder {self.located.folder}/, which holds "
                f"{_iso(self.located.start_ms)} to {_iso(self.located.end_ms)}: the record was filed under the "
                "wrong date", "misfiled")


def _shown(column):
    """Time values as a reject shows them: a timestamp as its integer and unit (`1795132800123456 us`)."""
    if pa.types.is_timestamp(column.type):
        return [None if v is None else f"{v} {column.type.unit}" for v in pc.cast(column, pa.int64()).to_pylist()]
    return column.to_pylist()


def _is_ms(value):
    return isinstance(value, int) and not isinstance(value, bool)
