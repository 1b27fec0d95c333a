"""`python -m pipelines.export --help`: every export option with its meaning and default, then the Beam
options that pass through to the runner, all read from the same definitions the template metadata uses.

`python -m pipelines.export_help --markdown docs/options.md` writes the same options as docs/options.md's
table (tests/test_export_help.py fails when the committed table is stale); without a file it prints it.
"""

import argparse
import sys

from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.options import OPTION_HELP, REQUIRED_OPTIONS, DESTINATION_OPTION_HELP, ExportOptions
from transforms.sinks.s3 import KEY_ID_ENV, SECRET_ENV

__all__ = ["help_text", "options_table", "write_options_table"]

_USAGE = "%(prog)s --source STORE --destination DEST --end INSTANT [export options] [Beam options]"
_RUNNER_NOTE = ("Runs on Beam's in-process FnApiRunner unless --runner names another; DirectRunner also means "
                "FnApiRunner here, which never downloads anything.")
_GROUP_NOTES = {
    "StandardOptions": _RUNNER_NOTE,
    "S3Options": "The platform's S3 alone: an s3:// --source, its completeness mark and the --temp_location spill "
                 "(keys: these or the standard chain of the launcher's and workers' environment). The destination "
                 "never uses them: see the destination options.",
}
_DESCRIPTION = """Export events or profiles from the event store to a folder or an S3 bucket: read the store,
write the objects, write the manifest last, print a summary.

Example:
  python -m pipelines.export --source /data/store/events --destination s3://acme-exports/eventexport \\
    --format csv --start 2026-11-01T00:00:00Z --end 2026-11-02T00:00:00Z --request_id r42"""

_EPILOG = f"""Every option also takes a dashed spelling (--export-type). An unknown option is an error, not a warning.

Environment:
  {KEY_ID_ENV}      the destination key id (instead of --destination_access_key_id)
  {SECRET_ENV}  the destination key's secret (never on a command line)
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE, an instance role
        boto3's standard chain, used when no destination key is given
  EVENTEXPORT_DEBUG=1  show Beam's own logs and tracebacks

Exit status: 0 done; 2 bad options, unreadable source or a record too large for --max_file_bytes;
3 the destination refused us; 1 anything else."""


_TABLE_START = "<!-- generated from OPTION_HELP by: python -m pipelines.export_help --markdown docs/options.md -->"
_TABLE_END = "<!-- end of the generated table -->"


def _default(name, text, settings):
    """The default as --help and docs/options.md show it: 'required', a value, or None when the text says it."""
    if name in REQUIRED_OPTIONS:
        return "required"
    if "default" in text:
        return None
    if settings.get("action") == "store_true":
        return "off"
    if settings.get("action") == "append":
        return "none"
    return str(settings.get("default", "none"))


def _annotated(name, text, settings):
    default = _default(name, text, settings)
    if default is None:
        return text
    return f"{text} (required)" if default == "required" else f"{text} (default: {default})"


def _add(group, name, text, settings):
    flags = [f"--{name}"] + ([f"--{name.replace('_', '-')}"] if "_" in name else [])
    shape = {"action": "store_true"} if settings.get("action") == "store_true" else {"metavar": name.upper()}
    group.add_argument(*flags, help=_annotated(name, text, settings).replace("%", "%%"), **shape)


def _beam_option_classes(base=PipelineOptions):
    for cls in base.__subclasses__():
        if cls is not ExportOptions:
            yield cls
        yield from _beam_option_classes(cls)


def help_text():
    parser = argparse.ArgumentParser(prog="python -m pipelines.export", usage=_USAGE, description=_DESCRIPTION,
                                     epilog=_EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     conflict_handler="resolve")
    export = parser.add_argument_group("export options")
    for name, (text, settings) in OPTION_HELP.items():
        _add(export, name, text, settings)
    destination = parser.add_argument_group("destination options (the customer's bucket)")
    for name, (text, settings) in DESTINATION_OPTION_HELP.items():
        _add(destination, name, text, settings)
    seen = {action.dest for action in parser._actions}
    for cls in _beam_option_classes():
        scratch = argparse.ArgumentParser(add_help=False, conflict_handler="resolve")
        cls._add_argparse_args(scratch)
        actions = [a for a in scratch._actions if a.dest not in seen]
        if not actions:
            continue
        group = parser.add_argument_group(f"Beam {cls.__name__} (passed through to the runner)",
                                          _GROUP_NOTES.get(cls.__name__))
        group._group_actions.extend(actions)
        seen.update(a.dest for a in actions)
    return parser.format_help()


def options_table():
    """The export and destination options as a Markdown table: option, default, meaning."""
    rows = [_TABLE_START, "", "| option | default | meaning |", "|---|---|---|"]
    for name, (text, settings) in {**OPTION_HELP, **DESTINATION_OPTION_HELP}.items():
        default = _default(name, text, settings)
        if default is not None and "default" in settings and name not in REQUIRED_OPTIONS:
            default = f"`{default}`"
        meaning = text.replace("|", "\\|")
        rows.append(f"| `--{name}` | {default or ''} | {meaning} |")
    return "\n".join(rows + ["", _TABLE_END])


def write_options_table(path):
    """Replace the generated table in the Markdown file at `path` (between its two marker lines)."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    start, end = text.index(_TABLE_START), text.index(_TABLE_END) + len(_TABLE_END)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text[:start] + options_table() + text[end:])


if __name__ == "__main__":
    if sys.argv[1:2] != ["--markdown"] or len(sys.argv) > 3:
        sys.exit("usage: python -m pipelines.export_help --markdown [FILE.md]")
    if len(sys.argv) == 3:
        write_options_table(sys.argv[2])
    else:
        print(options_table())
