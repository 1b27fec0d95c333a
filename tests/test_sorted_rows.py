"""A partition gathered from spilled pieces a slice at a time is the partition sorted whole."""

import random

import pyarrow as pa
import pytest

from transforms.shuffle.partition import add_time_parts, file_order, split_by_partition
from transforms.records import EVENTS
from transforms.shuffle.sorted_rows import SortedRows
from transforms.shuffle.spill import read_piece, write_pieces


def _events(count, seed):
    """Rows with few distinct times and ids, so ties (even whole duplicate rows) are common."""
    rng = random.Random(seed)
    rows = [{"event_name": rng.choice("ab"), "event_time": 1763600000000 + rng.randrange(5) * 1000,
             "event_id": f"id{rng.randrange(8)}", "captured_at": 1763600000000, "profile": '{"k": 1}',
             "device_info": "{}", "event_props": rng.choice(['{"p": 1}', '{"p": 2}', '{"q": "x"}'])}
            for _ in range(count)]
    table = pa.Table.from_pylist(rows, schema=EVENTS.store_schema)
    return add_time_parts(table, "event_time", "UTC")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_slices_and_columns_match_a_whole_sort(tmp_path, seed):
    batches = [_events(random.Random(seed + n).randrange(1, 60), seed * 100 + n) for n in range(7)]
    paths = {}
    for batch in batches:
        parts = list(split_by_partition(batch, EVENTS))   # one file per batch, as the pipeline writes
        for (key, _), reference in zip(parts, write_pieces(str(tmp_path), [piece for _, piece in parts])):
            paths.setdefault(key, []).append(reference)
    assert paths
    for key, piece_paths in paths.items():
        random.Random(seed).shuffle(piece_paths)   # a shuffle hands pieces over in any order
        pieces = [read_piece(path) for path in piece_paths]
        whole = pa.concat_tables([piece.table for piece in pieces])
        expected = whole.sort_by(file_order(EVENTS, whole.column_names))
        rows = SortedRows.of_pieces(pieces, EVENTS)
        assert rows.num_rows == expected.num_rows
        for name in whole.column_names:
            assert rows[name].to_pylist() == expected[name].to_pylist(), (key, name)
        for start, length in [(0, 1), (3, 5), (rows.num_rows - 2, 10), (rows.num_rows, 4)]:
            part = rows.slice(start, length)
            assert part.num_rows == expected.slice(start, length).num_rows
            assert part["event_props"].to_pylist() == expected.slice(start, length)["event_props"].to_pylist()
            assert part.slice(1, 2)["event_id"].to_pylist() == expected.slice(start + 1, min(2, max(length - 1, 0)))[
                "event_id"].to_pylist()
