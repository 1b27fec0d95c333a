"""Export requests, owned by one account, and the rules they must follow, each refusal saying what to change.

Every refusal is a ConfigError whose `field` names the input at fault (destination, export_type, events,
format, frequency, window_from, window_to, every), so the CLI, the REST API and the console share these
rules and each can show the message where it belongs. The same text reaches all three, so it speaks of
the thing in words ("the start", "the interval") rather than of one surface's option or form label, and
still names the bad value and the fix.
"""

import datetime as dt
import re
import uuid

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from control.accounts import DEFAULT_ACCOUNT
from control.destinations import get_destination
from control.errors import ConflictError, NotFoundError
from control.models import fetch_all, fetch_one, requests, runs, utc
from control.runs import CLI_USER, stop_runs
from transforms.config import EXPORT_TYPES
from transforms.errors import ConfigError
from transforms.formats import FORMATS

__all__ = ["create_export", "list_exports", "get_export", "stop_export", "public_export", "parse_every",
           "ONE_TIME_HORIZON", "MIN_EVERY_HOURS", "MAX_EVERY_HOURS", "MAX_EVENTS", "MAX_EVENT_NAME_BYTES"]

ONE_TIME_HORIZON = dt.timedelta(days=60)   # how far back the event store keeps data for exports
MIN_EVERY_HOURS, MAX_EVERY_HOURS = 4, 24
# An export selects a list a person picks, not a dump of the store: past a thousand names, all events is
# the export meant. A name is at most 512 bytes of UTF-8, as event stores' own limits go (Amplitude and
# Mixpanel keep 255 or fewer characters), so a selection stays far below any command line's or body's limit.
MAX_EVENTS = 1000
MAX_EVENT_NAME_BYTES = 512


def parse_every(text):
    """'4h' .. '24h' (or a bare number of hours) -> hours."""
    found = re.fullmatch(r"\s*(\d+)\s*h?\s*", str(text or ""))
    hours = int(found.group(1)) if found else None
    if hours is None or not MIN_EVERY_HOURS <= hours <= MAX_EVERY_HOURS:
        raise ConfigError(f"The interval {text!r} is not allowed: a recurring export runs every {MIN_EVERY_HOURS} "
                          f"to {MAX_EVERY_HOURS} hours, in whole hours, e.g. 6h", field="every")
    return hours


def _shown(instant):
    """A UTC instant as a person reads it: the date alone at midnight, else the date and time."""
    if instant.time() == dt.time():
        return instant.strftime("%Y-%m-%d") + " (UTC)"
    return instant.strftime("%Y-%m-%d %H:%M:%S" if instant.second else "%Y-%m-%d %H:%M") + " UTC"


def _check_once(window_from, window_to, now):
    if window_from is None or window_to is None:
        raise ConfigError("A one-time export needs both a start and an end; give the "
                          + ("end" if window_from is not None else "start"),
                          field="window_to" if window_from is not None else "window_from")
    if window_from >= window_to:
        raise ConfigError(f"The end {_shown(window_to)} is not after the start {_shown(window_from)}; "
                          "give an end later than the start", field="window_to")
    oldest = now - ONE_TIME_HORIZON
    if window_from < oldest:
        first_day = (oldest + dt.timedelta(days=1)).date() if oldest.time() != dt.time() else oldest.date()
        raise ConfigError(f"The start {_shown(window_from)} is more than {ONE_TIME_HORIZON.days} days ago; the "
                          f"earliest allowed is {_shown(oldest)}, so start on {first_day.isoformat()} or later",
                          field="window_from")
    if window_to > now:
        raise ConfigError(f"The end {_shown(window_to)} is in the future; a one-time export covers the past "
                          "(make the export recurring for what is still to come)", field="window_to")


def _check_events(export_type, events):
    if not isinstance(events, (list, tuple)) or not all(isinstance(e, str) and e for e in events):
        raise ConfigError("Each event name must be a non-empty text", field="events")
    if len(events) > MAX_EVENTS:
        raise ConfigError(f"An export may select at most {MAX_EVENTS:,} event names, not {len(events):,}; export all "
                          "events (all_events) or split the selection into several exports", field="events")
    for name in events:
        size = len(name.encode("utf-8", "surrogatepass"))
        if size > MAX_EVENT_NAME_BYTES:
            raise ConfigError(f"The event name {name[:40]!r}... is {size:,} bytes long; an event name may be at most "
                              f"{MAX_EVENT_NAME_BYTES} bytes (UTF-8)", field="events")
    if export_type == "select_events" and not events:
        raise ConfigError("An export of selected events (select_events) needs at least one event name; "
                          "choose the events to export", field="events")
    if export_type != "select_events" and events:
        raise ConfigError(f"Event names are only for an export of selected events (select_events), not for "
                          f"{export_type}; drop the event names or change the export type", field="events")


def _the_destination(engine, destination, account):
    try:
        get_destination(engine, destination, account)
    except NotFoundError:   # a bad field of a valid request, not a missing resource
        raise ConfigError(f"There is no destination named {destination!r}; choose one of the saved destinations "
                          "or add this one first", field="destination") from None


def create_export(engine, account=DEFAULT_ACCOUNT, *, destination, export_type, format, frequency, events=(),
                  window_from=None, window_to=None, every=None, now=None, request_id=None):
    """Validate and save an export request in `account`; return its id. `now` defaults to the wall clock."""
    now = utc(now or dt.datetime.now(dt.timezone.utc)).replace(microsecond=0)  # windows start on a whole second
    _the_destination(engine, destination, account)
    if export_type not in EXPORT_TYPES:
        raise ConfigError(f"The export type {export_type!r} is not one of {', '.join(EXPORT_TYPES)}",
                          field="export_type")
    if format not in FORMATS:
        raise ConfigError(f"The format {format!r} is not one of {', '.join(FORMATS)}", field="format")
    events = list(dict.fromkeys(events or []))
    _check_events(export_type, events)
    every_hours = None
    if frequency == "once":
        window_from, window_to = (None if t is None else utc(t) for t in (window_from, window_to))
        _check_once(window_from, window_to, now)
        if every is not None:
            raise ConfigError("A one-time export runs once, so it takes no interval; drop the interval or make the "
                              "export recurring", field="every")
    elif frequency == "recurring":
        if window_from is not None or window_to is not None:
            raise ConfigError("A recurring export starts now and exports what is captured from then on, so it "
                              "takes no start or end; drop them (a one-time export covers the past)",
                              field="window_from" if window_from is not None else "window_to")
        every_hours = parse_every(every)
    else:
        raise ConfigError(f"The frequency {frequency!r} is not one of once, recurring", field="frequency")
    if export_type == "all_profiles":
        _no_active_profile_export(engine, account)
    request_id = request_id or uuid.uuid4().hex[:16]
    try:
        with engine.begin() as connection:
            connection.execute(requests.insert().values(
                id=request_id, account_id=account, destination=destination, export_type=export_type, events=events,
                format=format, frequency=frequency, window_from=window_from, window_to=window_to,
                every_hours=every_hours, status="active", created_at=now))
    except IntegrityError:
        if export_type == "all_profiles":   # another one was created since the check: the index refused this
            _no_active_profile_export(engine, account)
        raise
    return request_id


def _no_active_profile_export(engine, account):
    """ConflictError naming the account's active profile export, if there is one. An account has at most
    one at a time (a partial unique index holds it, control/models.py): each reads the whole profile store."""
    with engine.connect() as connection:
        active = connection.execute(sa.select(requests.c.id, requests.c.frequency).where(
            (requests.c.account_id == account) & (requests.c.export_type == "all_profiles")
            & (requests.c.status == "active"))).first()
    if active:
        kind = "recurring" if active.frequency == "recurring" else "one-time"
        raise ConflictError(f"The {kind} profile export {active.id} is active, and an account has one profile export "
                            "at a time; stop it first (or let a one-time export finish), then create this one",
                            field="export_type")


def public_export(row):
    """An export request as it may be shown: times as ISO-8601 UTC strings, the account id left out."""
    return {k: (v.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(v, dt.datetime) else v)
            for k, v in row.items() if k != "account_id"}


def list_exports(engine, account=DEFAULT_ACCOUNT):
    """The account's export requests, oldest first."""
    return fetch_all(engine, requests, requests.c.created_at, requests.c.account_id == account)


def get_export(engine, request_id, account=DEFAULT_ACCOUNT):
    """The account's export request `request_id`; NotFoundError if the account has none by that id."""
    return fetch_one(engine, requests.c.id, request_id, f"no export request {request_id!r}; see `eventexport "
                     "export list`", requests.c.account_id == account)


def stop_export(engine, request_id, account=DEFAULT_ACCOUNT, by=CLI_USER, now=None):
    """Stop an export (active, or paused: control/auto_pause.py): no new windows, and its Pending, Failed and
    Running runs end Stopped (a Running run's pipeline is ended by its scheduler within seconds, without a
    manifest). Never claimed again."""
    request = get_export(engine, request_id, account)
    if request["status"] not in ("active", "paused"):
        raise ConflictError(f"export {request_id} is already {request['status']}")
    now = utc(now or dt.datetime.now(dt.timezone.utc)).replace(microsecond=0)
    with engine.begin() as connection:
        connection.execute(requests.update().where(requests.c.id == request_id).values(status="stopped"))
        stop_runs(connection, runs.c.request_id == request_id, by, now)
