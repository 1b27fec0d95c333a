"""What every step of the pipeline shares: the run's settings, progress, and how a written object is reported.

Two steps write data objects (transforms/steps.py for a partition written whole, transforms/heavy_partitions.py
for a heavy one written from staged pieces); both count and describe an object here, so the manifest,
metrics and progress cannot tell which wrote it.
"""

import dataclasses

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.runtime.allocator import return_large_blocks
from transforms.runtime.progress import ProgressCounter
from transforms.runtime.worker_filesystems import use_filesystem_options

__all__ = ["ConfiguredDoFn", "ConfiguredTransform", "report_object", "METRIC_NAMESPACES"]

METRIC_NAMESPACES = ("eventexport.objects", "eventexport.rows", "eventexport.bytes")


class ConfiguredDoFn(beam.DoFn):
    """A step that reads the run's settings and reports its progress.

    Only a step that sets `uses_event_names` carries the export's event names (the others see None):
    an export may select thousands, and Beam pickles and compresses every step's settings for every stage.
    """

    uses_event_names = False

    def __init__(self, config):
        self.config = config if self.uses_event_names else dataclasses.replace(config, events=None)

    def setup(self):
        return_large_blocks()
        use_filesystem_options(self.config.filesystem_flags)
        self.progress = ProgressCounter(self.config.spill_dir)

    def finish_bundle(self):
        self.progress.flush()


class ConfiguredTransform(beam.PTransform):
    """A composite step built from the run's settings."""

    def __init__(self, config):
        super().__init__()
        self.config = config


def report_object(progress, name, day, index, key, rows, digest):
    """Count one data object written at `key` in metrics and progress; return its manifest descriptor."""
    for namespace, amount in zip(METRIC_NAMESPACES, (1, rows, digest.bytes)):
        Metrics.counter(namespace, name).inc(amount)
    progress.add(rows_written=rows, objects=1, bytes=digest.bytes)
    return {"key": key, "event_name": name, "date": str(day), "index": index, "rows": rows,
            "bytes": digest.bytes, "sha256": digest.sha256, "etag": digest.etag, "etag_kind": digest.etag_kind}
