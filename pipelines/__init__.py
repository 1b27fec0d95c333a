"""Beam pipeline entry points: `export` (the product), `generate` (sample stores)."""
