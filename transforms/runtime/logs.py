"""How every eventexport process writes its log: human lines by default, one JSON object a line with
`EVENTEXPORT_LOG_FORMAT=json` (for a log shipper), with the same fields everywhere: time, level, logger,
account, request_id, run_id and message.

The account, export request and run a line is about come from `bind` (a context variable, so each thread
of a scheduler carries its own), never from the message. Nothing here adds a secret: only what a caller
logs is written, and callers never log keys (tests/test_security.py reads the JSON lines for them).
"""

import contextlib
import contextvars
import logging
import os
import sys

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from transforms.errors import ConfigError

__all__ = ["LOG_FORMAT_ENV", "SUMMARY_ENV", "FORMATS", "log_format", "handler", "configure", "bind", "line"]

LOG_FORMAT_ENV = "EVENTEXPORT_LOG_FORMAT"
# A file that receives the pipeline's summary facts as JSON (the scheduler reads S3 retries from it): how
# the control plane asks its child process, not a setting for people.
SUMMARY_ENV = "EVENTEXPORT_SUMMARY_JSON"
FORMATS = ("human", "json")
FIELDS = ("account", "request_id", "run_id")
_HUMAN = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_CONTEXT = contextvars.ContextVar("eventexport_log_context", default={})


def log_format(value=None):
    """`value` (default: $EVENTEXPORT_LOG_FORMAT, else human), checked."""
    value = value if value is not None else os.environ.get(LOG_FORMAT_ENV) or "human"
    if value not in FORMATS:
        raise ConfigError(f"{LOG_FORMAT_ENV} {value!r} is not one of {', '.join(FORMATS)}")
    return value


class _Context(logging.Filter):
    """Puts the bound account, request id and run id on every record (a record's own `extra` wins)."""

    def filter(self, record):
        for name, value in {**dict.fromkeys(FIELDS), **_CONTEXT.get()}.items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


def _formatter(fmt):
    if fmt == "json":
        return JsonFormatter("{levelname}{name}{message}", style="{", timestamp="time",
                             rename_fields={"levelname": "level", "name": "logger"},
                             reserved_attrs=[*RESERVED_ATTRS, "color_message"])   # uvicorn's, with ANSI codes
    return logging.Formatter(_HUMAN)


def handler(fmt=None, stream=None):
    """A handler writing records to `stream` (stderr) in format `fmt`, with the bound fields."""
    made = logging.StreamHandler(stream or sys.stderr)
    made.setFormatter(_formatter(log_format(fmt)))
    made.addFilter(_Context())
    return made


def configure(fmt=None, level=logging.INFO, stream=None):
    """Send log records to `stream` (stderr) in format `fmt`: ours (the `eventexport` loggers) from
    `level`, other libraries' from WARNING. For a process's entry point: it replaces every handler of the
    root logger (a library that logged at import got Python's default one); returns the new handler."""
    new = handler(fmt, stream)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(new)
    root.setLevel(logging.WARNING)
    logging.getLogger("eventexport").setLevel(level)
    logging.captureWarnings(True)   # a library's warning is a log line too, not a stray line on stderr
    return new


@contextlib.contextmanager
def bind(**fields):
    """Log records made inside the block carry `fields` (account, request_id, run_id)."""
    token = _CONTEXT.set({**_CONTEXT.get(), **fields})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def line(fmt, message, level=logging.INFO, logger="eventexport", **fields):
    """One line for output that is not a log record (the pipeline's summary, error and progress): the
    message itself when human, a JSON object with the log's fields and `fields` when json."""
    if log_format(fmt) == "human":
        return message
    record = logging.LogRecord(logger, level, "", 0, message, None, None)
    record.__dict__.update(fields)
    _Context().filter(record)
    return _formatter("json").format(record)
