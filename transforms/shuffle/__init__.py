"""Stage 2, between reading and writing: rows split by (event name, date), spilled, and gathered in file order.

- `partition`: time parts of each row and the split of a batch by (name, date).
- `grouping`: integer GroupByKey keys that meet on every runner.
- `spill`: where partition pieces wait, so a shuffle carries only their names.
- `sorted_rows`: a partition's pieces read back in file order, a slice at a time.
- `table_coder`: how Arrow tables cross between steps.

Imports only the shared base, never a neighbouring stage.
"""

__all__ = ["partition", "grouping", "spill", "sorted_rows", "table_coder"]
