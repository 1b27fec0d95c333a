"""Every error the exporter raises on purpose, sorted into what a user must fix and what a retry may cure.

Each message names the bad value and says how to fix it; the CLI prints it as one line. Secrets never
go into a message: callers pass key ids at most, never secret keys.
"""

__all__ = [
    "ExportError", "ConfigError", "SourceError", "RowTooLargeError", "DestinationError",
    "TransientDestinationError", "GroupingError",
]


class ExportError(Exception):
    """Base of our errors; `exit_code` is what the CLI exits with, `transient` whether a retry may help."""

    exit_code = 1
    transient = False


class ConfigError(ExportError):
    """An option or setting is wrong; nothing was read or written."""

    exit_code = 2


class SourceError(ExportError):
    """The event store cannot be read (missing root, unreadable or malformed file)."""

    exit_code = 2


class RowTooLargeError(ExportError):
    """One encoded row alone exceeds --max_file_bytes, so no shard can hold it."""

    exit_code = 2


class DestinationError(ExportError):
    """The destination refused us for a reason a retry will not cure (bad key, denied, no bucket)."""

    exit_code = 3


class TransientDestinationError(DestinationError):
    """Throttling, 5xx or a dropped connection that outlived the client's own retries."""

    transient = True


class GroupingError(ExportError):
    """The runner handed the manifest step an (event, date) from two groups, or one object key twice:
    two writers overwrote each other's objects, so rows may be lost. Nothing should reach here (every
    GroupByKey key is a stable integer); a rerun with the same --run_timestamp rewrites every object."""
