"""`python -m pipelines.export`: read the store, write the objects, write the manifest, print a summary.

Exit status: 0 done; 2 bad options, unreadable source or a record too large for --max_file_bytes;
3 the destination refused us; 1 anything else. Errors are one line, without a traceback
(EVENTEXPORT_DEBUG=1 shows Beam's own logs and tracebacks). With EVENTEXPORT_LOG_FORMAT=json the
summary, the error and the progress lines are JSON objects, one a line (transforms/runtime/logs.py).
"""

import dataclasses
import json
import logging
import os
import re
import sys

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import GoogleCloudOptions

from pipelines.export_help import help_text
from pipelines.options import config_from_options
from pipelines.runners import close_runner, is_dask, pipeline_options, runner_failure
from transforms.errors import ExportError
from transforms.sinks.naming import manifest_key
from transforms.steps import (METRIC_NAMESPACES, LatestProfiles, PartitionRows, ReadStore, WriteManifest,
                              WriteObjects, WriteRejects)
from transforms.runtime import logs
from transforms.runtime.progress import ProgressReporter
from transforms.sinks.preflight import preflight
from transforms.sinks.s3 import S3_RETRY_NAMESPACE
from transforms.shuffle.spill import make_spill_dir, remove_spill_dir
from transforms.sources.later_data import list_store
from transforms.runtime.worker_filesystems import filesystem_flags

__all__ = ["build_pipeline", "run", "main"]

_LOG = logging.getLogger("eventexport")
ERROR_PREFIX = "eventexport: error: "


def build_pipeline(pipeline, config, splits, later_splits=()):
    """The graph, top to bottom as DESIGN.md draws it; `later_splits` are only counted (later_data.py)."""
    read = pipeline | "ReadStore" >> ReadStore(config, splits, later_splits)
    rows = read["rows"]
    if config.export_type == "all_profiles":
        rows = rows | "LatestProfiles" >> LatestProfiles(config)
    objects = rows | "Partition" >> PartitionRows(config) | "WriteObjects" >> WriteObjects(config)
    rejects = read["rejects"] | "WriteRejects" >> WriteRejects(config)
    return (objects, rejects, read["counts"]) | "WriteManifest" >> WriteManifest(config)


def _count(counter):
    """Committed where the runner commits metrics, attempted where it only attempts them."""
    return (counter.committed if counter.committed is not None else counter.attempted) or 0


def _own_manifest(config):
    """The run's manifest where we may read it (our --manifest_copy, or a local destination), else None."""
    if config.manifest_copy:
        path = os.path.join(config.manifest_copy, manifest_key("", config.request_id, config.run_timestamp))
    elif not config.destination.is_s3:
        path = config.destination.uri(manifest_key(config.destination.prefix, config.request_id, config.run_timestamp))
    else:
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _s3_retries(result):
    """{kind: retries} of the customer's S3 over the run (transforms/sinks/s3.py counts them)."""
    counters = result.metrics().query(MetricsFilter().with_namespace(S3_RETRY_NAMESPACE))["counters"]
    retries = {}
    for counter in counters:
        retries[counter.key.metric.name] = retries.get(counter.key.metric.name, 0) + _count(counter)
    return retries


def _summary(result, config):
    """(the summary for a person, its facts for a machine: totals, rejects and S3 retries by kind)."""
    per_event, facts = {}, {"request_id": config.request_id, "run_timestamp": config.run_timestamp}
    try:
        for namespace in METRIC_NAMESPACES:
            for counter in result.metrics().query(MetricsFilter().with_namespace(namespace))["counters"]:
                per_event.setdefault(counter.key.metric.name, {})[namespace.rsplit(".", 1)[1]] = _count(counter)
        rejected = sum(map(_count, result.metrics().query(MetricsFilter().with_name("rejected_rows"))["counters"]))
        facts["s3_retries"] = _s3_retries(result)
    except (NotImplementedError, AttributeError):  # a runner without metrics (Dask): the manifest has them
        manifest = _own_manifest(config)
        if manifest is None:
            return (f"exported to {config.destination.describe()} (request {config.request_id}, run "
                    f"{config.run_timestamp}); this runner reports no metrics, the manifest holds the totals"), facts
        per_event, rejected = manifest["event_totals"], manifest["rejects"]["rows"]
    totals = {k: sum(e.get(k, 0) for e in per_event.values()) for k in ("objects", "rows", "bytes")}
    facts.update(totals, rejected=rejected)
    lines = [f"exported {totals['objects']} objects, {totals['rows']:,} rows, {totals['bytes']:,} bytes "
             f"to {config.destination.describe()} (request {config.request_id}, run {config.run_timestamp})"]
    for name, counts in sorted(per_event.items()):
        lines.append(f"  {name!r}: {counts.get('objects', 0)} objects, {counts.get('rows', 0):,} rows, "
                     f"{counts.get('bytes', 0):,} bytes")
    if rejected:
        lines.append(f"  rejected records: {rejected:,} (see the rejects objects)")
    if facts.get("s3_retries"):
        lines.append("  S3 retries: " + ", ".join(f"{kind} {n}" for kind, n in sorted(facts["s3_retries"].items())))
    return "\n".join(lines), facts


def run(argv):
    """Run one export; return (exit status, text for the user)."""
    status, text, _ = _run(argv)
    return status, text


def _run(argv):
    """Run one export; return (exit status, text for the user, facts of a run that was done)."""
    if "-h" in argv or "--help" in argv:
        return 0, help_text(), None
    try:
        options = pipeline_options(argv)
        # Beam's S3Options reach the platform's S3 (the store, the spill) in this process before it lists the store;
        # the runner gives the workers the same (worker_filesystems.py where it does not).
        FileSystems.set_options(options)
        config = config_from_options(options)
        if config.destination.is_s3:
            preflight(config.destination.s3, config.destination.bucket, config.destination.prefix)
        splits, later_splits = list_store(config.source, config.shape, config.window)
        temp_location = options.view_as(GoogleCloudOptions).temp_location
        config = dataclasses.replace(config, filesystem_flags=filesystem_flags(options), spill_dir=make_spill_dir(
            temp_location, f"eventexport-{config.request_id}-{config.run_timestamp}"), overlap=not is_dask(options))
        try:
            pipeline = beam.Pipeline(options=options)
            build_pipeline(pipeline, config, splits, later_splits)
            with ProgressReporter(config.spill_dir):
                result = pipeline.run()
                try:
                    result.wait_until_finish()
                except Exception as error:  # pylint: disable=broad-except; sorted just below
                    lost = runner_failure(error, options)
                    if lost is None:
                        raise
                    raise lost from error
                finally:
                    close_runner(result)
        finally:
            remove_spill_dir(config.spill_dir)
        return (0, *_summary(result, config))
    except Exception as error:  # pylint: disable=broad-except; every failure becomes one line
        return (*_one_line(error), None)


def _error_classes(base=ExportError):
    for cls in base.__subclasses__():
        yield from _error_classes(cls)
        yield cls


_BEAM_STEP = re.compile(r" \[while running '[^']*'\]$")


def _one_line(error):
    """Our errors come back from workers re-raised in place or wrapped as text; either way the message
    is ours, minus Beam's "[while running ...]" suffix."""
    text = str(error)
    if isinstance(error, ExportError):
        cls, detail = type(error), text.splitlines()[0] if text else ""
    else:
        found = [(text.rfind(f"{cls.__name__}: "), cls) for cls in _error_classes()]
        position, cls = max(found, key=lambda pair: pair[0])
        if position < 0:
            _LOG.debug("export failed", exc_info=error)
            lines = text.strip().splitlines()
            return 1, f"{ERROR_PREFIX}{type(error).__name__}: {lines[-1] if lines else ''}"
        detail = text[position + len(cls.__name__) + 2:].splitlines()[0]
    return cls.exit_code, f"{ERROR_PREFIX}{_BEAM_STEP.sub('', detail)}"


def _write_facts(facts):
    """The summary's facts as JSON where the control plane asked for them ($EVENTEXPORT_SUMMARY_JSON)."""
    path = os.environ.get(logs.SUMMARY_ENV)
    if path and facts is not None:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(facts, handle)


def main(argv=None):
    try:
        fmt = logs.log_format()
    except ExportError as error:
        print(f"{ERROR_PREFIX}{error}", file=sys.stderr)
        return error.exit_code
    logs.configure(fmt, level=logging.WARNING)
    if not os.environ.get("EVENTEXPORT_DEBUG"):
        # Beam logs a failing step's traceback itself; our one-line error says it better.
        logging.getLogger("apache_beam").setLevel(logging.CRITICAL)
    status, text, facts = _run(sys.argv[1:] if argv is None else argv)
    _write_facts(facts)
    if status:
        text = logs.line(fmt, text.removeprefix(ERROR_PREFIX) if fmt == "json" else text, logging.ERROR,
                         "eventexport.pipeline", exit_status=status)
    elif facts is not None:
        text = logs.line(fmt, text, logging.INFO, "eventexport.pipeline", **facts)
    print(text, file=sys.stderr if status else sys.stdout)
    return status


if __name__ == "__main__":
    sys.exit(main())
