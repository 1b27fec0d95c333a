"""Stage 1, where data comes from: which store files a window needs, and their rows as checked Arrow tables.

- `store_files`: the store's layout; lists the `captured_date=`/`captured_hour=` files a window may hold.
- `watermark`: the store's completeness mark (`_watermark.json`).
- `window`: the export window, instants and the capture ceiling; which folders can hold its rows.
- `readers`: one store file (Parquet, Avro, JSON Lines) into canonical Arrow tables.
- `placement`: which of a file's records a run judges; impossible, fractional and misfiled times rejected.
- `validation`: rows checked against the store contract; bad ones set aside with a reason.
- `later_data`: the later data of an event-time window in the folders its capture ceiling keeps it from reading.

Imports only the shared base (`transforms.errors`, `records`, `arrow_text`), never a later stage.
"""

__all__ = ["store_files", "watermark", "window", "readers", "placement", "validation", "later_data"]
