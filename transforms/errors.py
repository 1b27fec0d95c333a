"""Every error the pipeline raises on purpose, sorted into what a user must fix and what a retry may cure.

Each message names the bad value and says how to fix it; the CLI prints it as one line. Secrets never
go into a message: callers pass key ids at most, never secret keys. `code` is a stable word the REST API
answers with, `http_status` the status it answers with, and `field`, where given, names the input at fault
so a form can show the message beside it. The control plane's refusals of an account's requests (not
found, conflict, authentication, permission) are in control/errors.py.
"""

__all__ = ["ExportError", "ConfigError", "SourceError", "TooManyRejectsError", "RowTooLargeError", "DestinationError",
           "TransientDestinationError", "GroupingError", "ReconciliationError", "RunnerFailedError"]


class ExportError(Exception):
    """Base of our errors; `exit_code` is what the CLI exits with, `transient` whether a retry may help."""

    exit_code = 1
    transient = False
    code = "error"
    http_status = 422   # the request (or what it names: the store, the bucket) breaks a rule

    def __init__(self, message="", *, field=None):
        super().__init__(message)
        self.field = field


class ConfigError(ExportError):
    """An option or setting is wrong; nothing was read or written."""

    exit_code = 2
    code = "invalid"


class SourceError(ExportError):
    """The event store cannot be read (missing root, unreadable or malformed file)."""

    exit_code = 2
    code = "source_unreadable"


class TooManyRejectsError(SourceError):
    """More of the run's records were bad than --max_reject_fraction allows: the store is broken."""

    code = "too_many_rejects"


class RowTooLargeError(ExportError):
    """One encoded row alone exceeds --max_file_bytes, so no shard can hold it."""

    exit_code = 2
    code = "row_too_large"


class DestinationError(ExportError):
    """The destination refused us for a reason a retry will not cure (bad key, denied, no bucket)."""

    exit_code = 3
    code = "destination_refused"


class TransientDestinationError(DestinationError):
    """Throttling, 5xx or a dropped connection that outlived the client's own retries."""

    transient = True
    code = "destination_unavailable"
    http_status = 503


class GroupingError(ExportError):
    """The runner handed the manifest step an (event, date) from two groups, or one object key twice:
    two writers overwrote each other's objects, so rows may be lost. Nothing should reach here (every
    GroupByKey key is a stable integer); a rerun with the same --run_timestamp rewrites every object."""

    code = "grouping_failed"


class ReconciliationError(ExportError):
    """The run's own counts do not add up (read != exported + rejected + later): records went missing or
    were counted twice between the store and the manifest, so the run writes no manifest and is not Done.
    Every write is idempotent: a rerun with the same --run_timestamp rewrites the same objects."""

    code = "counts_disagree"


class RunnerFailedError(ExportError):
    """The distributed runner lost the run (workers died more often than it retries, the scheduler went
    away). Every write is idempotent, so a rerun with the same --run_timestamp gives the same objects."""

    transient = True
    code = "runner_failed"
