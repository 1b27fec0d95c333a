"""Reusable parts of the export pipeline: sources, partitioning, encoders, sharding, writing, manifest."""

import logging


class _QuietBeamImports(logging.Filter):
    """Beam warns at import time about Google Cloud clients we never use; that line only confuses users."""

    def filter(self, record):
        return "apitools not found" not in record.getMessage()


logging.getLogger().addFilter(_QuietBeamImports())
