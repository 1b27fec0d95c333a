"""Beam pipeline entry points: `export` (the product), `generate` (sample stores), `check_destination`,
`verify_export` and `demo`."""

import logging


class _QuietBeamImports(logging.Filter):
    """Beam warns at import time about Google Cloud clients we never use; that line only confuses users."""

    def filter(self, record):
        return "apitools not found" not in record.getMessage()


logging.getLogger().addFilter(_QuietBeamImports())
