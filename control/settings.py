"""Deployment settings: environment variables over a TOML file (named by EVENTEXPORT_CONFIG) over defaults.

Read once at start-up into a frozen value; nothing else in the control plane reads the environment.
The stores, database id and data region here are the `default` account's (control/accounts.py); other
accounts keep their own in the database.
"""

import dataclasses
import os
import tomllib

from transforms.errors import ConfigError

__all__ = ["Settings", "load_settings"]

# setting -> (environment variable, TOML key, default)
_SOURCES = {
    "db": ("EVENTEXPORT_DB", "db", "sqlite:///eventexport.db"),
    "event_store": ("EVENTEXPORT_EVENT_STORE", "event_store", None),
    "profile_store": ("EVENTEXPORT_PROFILE_STORE", "profile_store", None),
    "database_id": ("EVENTEXPORT_DATABASE_ID", "database_id", "local"),
    "data_region": ("EVENTEXPORT_DATA_REGION", "data_region", None),
    "runner": ("EVENTEXPORT_RUNNER", "runner", "FnApiRunner"),
    "runner_options": ("EVENTEXPORT_RUNNER_OPTIONS", "runner_options", ""),
    "master_key": ("EVENTEXPORT_MASTER_KEY", "master_key", None),
    "key_file": ("EVENTEXPORT_KEY_FILE", "key_file", "eventexport.key"),
    "manifests": ("EVENTEXPORT_MANIFESTS", "manifests", "eventexport-manifests"),
    "settle_minutes": ("EVENTEXPORT_SETTLE_MINUTES", "settle_minutes", 30),
    "lease_seconds": ("EVENTEXPORT_LEASE_SECONDS", "lease_seconds", 6 * 3600),
    "max_concurrent_runs": ("EVENTEXPORT_MAX_CONCURRENT_RUNS", "max_concurrent_runs", None),  # None: the cores
    "max_runs_per_account": ("EVENTEXPORT_MAX_RUNS_PER_ACCOUNT", "max_runs_per_account", 1),
}
# settings that are numbers -> the smallest value that makes sense
_NUMBERS = {"settle_minutes": 0, "lease_seconds": 1, "max_concurrent_runs": 1, "max_runs_per_account": 1}
_WHOLE_NUMBERS = frozenset({"max_concurrent_runs", "max_runs_per_account"})
_SECRET_SETTINGS = frozenset({"master_key"})


@dataclasses.dataclass(frozen=True)
class Settings:
    db: str
    event_store: str
    profile_store: str
    database_id: str
    data_region: str      # the default account's; None lets its destinations name any data region
    runner: str
    runner_options: str   # extra pipeline options, space-separated (Flink, Dataflow, Dask settings)
    master_key: str
    key_file: str
    manifests: str        # our copies of run manifests (verify_export reads them)
    settle_minutes: float  # a store without a completeness mark: how long after a window ends it runs
    lease_seconds: float   # a claim not renewed for this long belongs to a scheduler that died
    max_concurrent_runs: int   # runs one scheduler has going at once (each pipeline a process of its own)
    max_runs_per_account: int  # runs of one account going at once, across every scheduler

    def redacted(self):
        """The effective settings for `eventexport config`, secrets and DB passwords masked."""
        shown = dataclasses.asdict(self)
        for name in _SECRET_SETTINGS:
            if shown[name]:
                shown[name] = "***"
        if "@" in (shown["db"] or "") and ":" in shown["db"].split("@", 1)[0].split("//", 1)[-1]:
            scheme, rest = shown["db"].split("//", 1)
            user = rest.split("@", 1)[0].split(":", 1)[0]
            shown["db"] = f"{scheme}//{user}:***@{rest.split('@', 1)[1]}"
        return shown


def _number(env, value, least, whole=False):
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or not least <= number < float("inf") or (
            whole and not number.is_integer()):
        raise ConfigError(f"{env} {value!r} must be a {'whole ' if whole else ''}number, at least {least}")
    return int(number) if whole else number


def _cores():
    """The cores this process may run on (a container's or a CPU set's, not the whole machine's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def load_settings(environ=os.environ):
    from_file = {}
    path = environ.get("EVENTEXPORT_CONFIG")
    if path:
        try:
            with open(path, "rb") as handle:
                from_file = tomllib.load(handle)
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise ConfigError(f"EVENTEXPORT_CONFIG {path!r} cannot be read as TOML: {error}") from None
        unknown = set(from_file) - {toml for _, toml, _ in _SOURCES.values()}
        if unknown:
            raise ConfigError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}; "
                              f"known: {', '.join(sorted(t for _, t, _ in _SOURCES.values()))}")
    values = {}
    for name, (env, toml, default) in _SOURCES.items():
        value = environ.get(env, from_file.get(toml, default))
        if isinstance(value, list):
            value = " ".join(map(str, value))
        if name == "max_concurrent_runs" and value is None:
            value = _cores()
        if name in _NUMBERS:
            value = _number(env, value, _NUMBERS[name], whole=name in _WHOLE_NUMBERS)
        values[name] = value
    return Settings(**values)
