"""Deployment settings: environment variables over a TOML file (named by EVENTEXPORT_CONFIG) over defaults.

Read once at start-up into a frozen value; nothing else in the control plane reads the environment.
The stores, database id and data region here are the `default` account's (control/accounts.py); other
accounts keep their own in the database.

Everything the control plane writes lives under one data folder, `EVENTEXPORT_HOME` (default the user's
data folder, `~/.local/share/eventexport` on Linux): the SQLite database, the key file and the manifest
copies, unless each is set on its own. Nothing goes to the current folder, so where a command is started
from does not matter.
"""

import dataclasses
import os
import shlex
import tomllib

import platformdirs

from transforms.errors import ConfigError
from transforms.runtime import logs

__all__ = ["Settings", "load_settings"]

# setting -> (environment variable, TOML key, default)
_SOURCES = {
    "home": ("EVENTEXPORT_HOME", "home", None),   # None: platformdirs' user data folder
    "db": ("EVENTEXPORT_DB", "db", "sqlite:///{home}/eventexport.db"),
    "event_store": ("EVENTEXPORT_EVENT_STORE", "event_store", None),
    "profile_store": ("EVENTEXPORT_PROFILE_STORE", "profile_store", None),
    "database_id": ("EVENTEXPORT_DATABASE_ID", "database_id", "local"),
    "data_region": ("EVENTEXPORT_DATA_REGION", "data_region", None),
    "runner": ("EVENTEXPORT_RUNNER", "runner", "FnApiRunner"),
    "runner_options": ("EVENTEXPORT_RUNNER_OPTIONS", "runner_options", ""),
    "platform_s3_endpoint_url": ("EVENTEXPORT_PLATFORM_S3_ENDPOINT_URL", "platform_s3_endpoint_url", None),
    "platform_s3_region": ("EVENTEXPORT_PLATFORM_S3_REGION", "platform_s3_region", None),
    "master_key": ("EVENTEXPORT_MASTER_KEY", "master_key", None),
    "key_file": ("EVENTEXPORT_KEY_FILE", "key_file", "{home}/eventexport.key"),
    "manifests": ("EVENTEXPORT_MANIFESTS", "manifests", "{home}/manifests"),
    "settle_minutes": ("EVENTEXPORT_SETTLE_MINUTES", "settle_minutes", 30),
    "lease_seconds": ("EVENTEXPORT_LEASE_SECONDS", "lease_seconds", 6 * 3600),
    "max_concurrent_runs": ("EVENTEXPORT_MAX_CONCURRENT_RUNS", "max_concurrent_runs", None),  # None: the cores
    "max_runs_per_account": ("EVENTEXPORT_MAX_RUNS_PER_ACCOUNT", "max_runs_per_account", 1),
    "log_format": ("EVENTEXPORT_LOG_FORMAT", "log_format", "human"),
    "metrics_port": ("EVENTEXPORT_METRICS_PORT", "metrics_port", None),
    "metrics_host": ("EVENTEXPORT_METRICS_HOST", "metrics_host", "127.0.0.1"),
    "stop_grace_seconds": ("EVENTEXPORT_STOP_GRACE_SECONDS", "stop_grace_seconds", 60),
    # notifications and auto-pause (docs/notifications.md)
    "pause_after_failures": ("EVENTEXPORT_PAUSE_AFTER_FAILURES", "pause_after_failures", 5),
    "smtp_host": ("EVENTEXPORT_SMTP_HOST", "smtp_host", None),   # None: no e-mail
    "smtp_port": ("EVENTEXPORT_SMTP_PORT", "smtp_port", 587),
    "smtp_tls": ("EVENTEXPORT_SMTP_TLS", "smtp_tls", "starttls"),
    "smtp_from": ("EVENTEXPORT_SMTP_FROM", "smtp_from", "eventexport@localhost"),
    "smtp_user": ("EVENTEXPORT_SMTP_USER", "smtp_user", None),
    "smtp_password": ("EVENTEXPORT_SMTP_PASSWORD", "smtp_password", None),
    "notify_timeout_seconds": ("EVENTEXPORT_NOTIFY_TIMEOUT_SECONDS", "notify_timeout_seconds", 10),
    "notify_retry_seconds": ("EVENTEXPORT_NOTIFY_RETRY_SECONDS", "notify_retry_seconds", 10),
    "notify_max_attempts": ("EVENTEXPORT_NOTIFY_MAX_ATTEMPTS", "notify_max_attempts", 12),
}
# settings that are numbers -> the smallest value that makes sense
_NUMBERS = {"settle_minutes": 0, "lease_seconds": 1, "stop_grace_seconds": 0, "max_concurrent_runs": 1,
            "max_runs_per_account": 1, "pause_after_failures": 1, "notify_timeout_seconds": 0.1,
            "notify_retry_seconds": 0, "notify_max_attempts": 1}
_WHOLE_NUMBERS = frozenset({"max_concurrent_runs", "max_runs_per_account", "pause_after_failures",
                            "notify_max_attempts"})
_SMTP_TLS = ("starttls", "ssl", "none")
# settings that are paths: `~` expanded and made absolute once, so a child process or a later `cd` reads
# the same place
_PATHS = ("home", "key_file", "manifests")
_SECRET_SETTINGS = frozenset({"master_key", "smtp_password"})


@dataclasses.dataclass(frozen=True)
class Settings:
    home: str             # the data folder: the defaults of db, key_file and manifests are under it
    db: str
    event_store: str
    profile_store: str
    database_id: str
    data_region: str      # the default account's; None lets its destinations name any data region
    runner: str
    runner_options: str   # extra pipeline options, space-separated (Flink, Dataflow, Dask settings)
    # The platform's S3, where s3:// stores, their marks and the spill live: Beam's --s3_endpoint_url and
    # --s3_region_name of every run and of the scheduler's mark reads. Its key is the standard chain of the
    # scheduler's environment (and the workers'), never a tenant's.
    platform_s3_endpoint_url: str
    platform_s3_region: str
    master_key: str
    key_file: str
    manifests: str        # our copies of run manifests (verify_export reads them)
    settle_minutes: float  # a store without a completeness mark: how long after a window ends it runs
    lease_seconds: float   # a claim not renewed for this long belongs to a scheduler that died
    max_concurrent_runs: int   # runs one scheduler has going at once (each pipeline a process of its own)
    max_runs_per_account: int  # runs of one account going at once, across every scheduler
    log_format: str        # human | json (one JSON object a line)
    metrics_port: int      # the scheduler serves /metrics, /healthz and /readyz here; None: not at all
    metrics_host: str      # the address that port binds (this machine only unless told)
    stop_grace_seconds: float  # on SIGTERM, how long the scheduler lets its run finish before handing it back
    pause_after_failures: int  # a recurring export whose attempts fail this often in a row is paused
    smtp_host: str         # the SMTP server notification mails go through; None: no mail is sent
    smtp_port: int
    smtp_tls: str          # starttls | ssl (TLS from the first byte) | none
    smtp_from: str
    smtp_user: str         # None: no log-in
    smtp_password: str
    notify_timeout_seconds: float  # one webhook POST or SMTP conversation at most this long
    notify_retry_seconds: float    # first retry of a failed delivery after this; doubling, at most an hour
    notify_max_attempts: int       # a delivery is given up (status failed) after this many attempts

    def pipeline_argv(self):
        """The deployment's options for every run: the platform's S3, then the runner options."""
        platform = [f"--{option}={value}" for option, value in (("s3_endpoint_url", self.platform_s3_endpoint_url),
                                                                ("s3_region_name", self.platform_s3_region)) if value]
        return platform + shlex.split(self.runner_options or "")

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


def _port(env, value):
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.isdigit() or isinstance(value, int) and not isinstance(value, bool):
        if 0 <= int(value) <= 65535:
            return int(value)
    raise ConfigError(f"{env} {value!r} must be a port number, 0 to 65535 (0: any free port)")


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
        if name == "home":
            value = value or platformdirs.user_data_dir("eventexport", appauthor=False)
        elif isinstance(default, str) and "{home}" in default and value is default:
            value = default.format(home=values["home"])
        elif name == "max_concurrent_runs" and value is None:
            value = _cores()
        values[name] = _checked(name, env, value)
    _check_runner_options(values)
    return Settings(**values)


def _checked(name, env, value):
    """`value` of setting `name` (from `env` or TOML) as the Settings hold it; ConfigError if it is bad."""
    if name in _NUMBERS:
        return _number(env, value, _NUMBERS[name], whole=name in _WHOLE_NUMBERS)
    if name in ("metrics_port", "smtp_port"):
        return _port(env, value)
    if name == "smtp_tls" and value not in _SMTP_TLS:
        raise ConfigError(f"{env} {value!r} must be one of {', '.join(_SMTP_TLS)}")
    if name == "log_format":
        return logs.log_format(value)
    if name in _PATHS and value:
        return os.path.abspath(os.path.expanduser(value))
    return value


def _check_runner_options(values):
    """Runner options are the deployment's, for every account: a destination option there would become every
    tenant's without a key of theirs (DESIGN.md, "Two S3 worlds"), and a platform S3 setting given twice
    would leave which one wins to the order of flags."""
    try:
        flags = [arg.split("=", 1)[0].lstrip("-").replace("-", "_")
                 for arg in shlex.split(values["runner_options"] or "") if arg.startswith("--")]
    except ValueError as error:
        raise ConfigError(f"EVENTEXPORT_RUNNER_OPTIONS cannot be split into options: {error}") from None
    for flag in flags:
        if flag.startswith("destination") or flag.startswith("sse"):
            raise ConfigError(f"EVENTEXPORT_RUNNER_OPTIONS may not set --{flag}: a destination's settings are its "
                              "tenant's, saved with the destination")
        for name, beam in (("platform_s3_endpoint_url", "s3_endpoint_url"), ("platform_s3_region", "s3_region_name")):
            if flag == beam and values[name]:
                raise ConfigError(f"--{beam} is set twice, in EVENTEXPORT_RUNNER_OPTIONS and as "
                                  f"EVENTEXPORT_{name.upper()}; keep one")
