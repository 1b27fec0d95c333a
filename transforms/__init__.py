"""Reusable parts of the export pipeline: sources, partitioning, encoders, sharding, writing, manifest."""
