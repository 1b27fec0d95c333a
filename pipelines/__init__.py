"""Beam pipeline entry points: `export` (the product), `generate` (sample stores), `check_destination`,
`verify_export` and `demo`."""

import transforms  # noqa: F401  (installs the filter for Beam's import-time noise before Beam is imported)
