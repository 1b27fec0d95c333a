"""Beam pipeline entry points: `export` (the product), `generate` (sample stores), `check_destination`,
`verify_export` and `demo`."""
