"""Reusable parts of the export pipeline, one sub-package per stage in the order data flows.

`sources` (store files, window, readers) -> `shuffle` (partition, spill, file order) -> `formats` (one
encoder per format, compression) -> `sinks` (sharding, naming, the S3 writer, manifest), all on `runtime`
(base DoFn, prefetch, progress). `steps` assembles them into the graph DESIGN.md draws; `config` is the
validated run settings; `heavy_partitions` spreads one large partition over many workers. `errors`,
`records` and `arrow_text` are the shared base every stage may import.
"""

import logging


class _QuietBeamImports(logging.Filter):
    """Beam warns at import time about Google Cloud clients we never use; that line only confuses users."""

    def filter(self, record):
        return "apitools not found" not in record.getMessage()


logging.getLogger().addFilter(_QuietBeamImports())
