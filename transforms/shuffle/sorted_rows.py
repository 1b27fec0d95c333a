"""A partition's rows in file order, gathered from its spilled pieces a slice at a time.

A file's rows are in `partition.file_order`, and so is each piece. Sorting a partition by copying it
would hold it twice, and a busy event's day is hundreds of MB at millions of events. So only the sort
keys are sorted; a slice of rows (what an encoder asks for: a few thousand rows, or one column of a
file) is taken from the memory-mapped pieces when it is asked for, and the pages it touched are handed
back to the page cache after (`Piece.release`). Memory then follows the slice, not the partition.
"""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from transforms.shuffle.partition import file_order

__all__ = ["SortedRows"]


class _Order:
    """The file order of the rows of `pieces` (each itself in file order), as (piece, row in piece) per
    position. Because each piece is sorted, a run of positions takes a contiguous run of each piece's
    rows: a zero-copy slice, and one take to interleave them when more than one piece is involved."""

    def __init__(self, pieces, sort_keys):
        """`sort_keys` None: the pieces are already in order, one after the other."""
        self.pieces = pieces
        tables = [piece.table for piece in pieces]
        starts = np.cumsum([0] + [table.num_rows for table in tables])
        if sort_keys is None:
            order = np.arange(starts[-1], dtype=np.int64)
        else:
            keys = pa.concat_tables([table.select([name for name, _ in sort_keys]) for table in tables])
            order = pc.sort_indices(keys, sort_keys=sort_keys).to_numpy().astype(np.int64)
        self.piece = np.searchsorted(starts, order, side="right") - 1
        self.row = order - starts[self.piece]
        self.schema = tables[0].schema
        self.nbytes = sum(table.nbytes for table in tables)
        self.release()

    def column(self, name, begin, end):
        """Column `name` at positions [begin, end)."""
        if begin >= end:
            return pa.chunked_array([], self.schema.field(name).type)
        piece, row = self.piece[begin:end], self.row[begin:end]
        grouped = np.argsort(piece, kind="stable")
        piece_sorted = piece[grouped]
        edges = np.concatenate([[0], np.flatnonzero(np.diff(piece_sorted)) + 1, [len(piece)]])
        parts = []
        for first, last in zip(edges[:-1], edges[1:]):
            rows, column = row[grouped[first:last]], self.pieces[piece_sorted[first]].table.column(name)
            contiguous = rows[-1] - rows[0] + 1 == len(rows)
            parts.append(column.slice(rows[0], len(rows)) if contiguous else column.take(rows))
        values = pa.chunked_array([chunk for part in parts for chunk in part.chunks], self.schema.field(name).type)
        if len(parts) > 1:
            values = values.take(np.argsort(grouped, kind="stable"))
        self.release()
        return pa.chunked_array([values.combine_chunks()])   # what table[name] gives

    def release(self):
        for piece in self.pieces:
            piece.release()


class SortedRows:
    """Rows [begin, end) of a partition in file order: `num_rows`, `nbytes`, `slice`, and `rows[column]`,
    which is all the encoders and the sharder use of a table."""

    def __init__(self, order, begin, end):
        self._order, self._begin, self._end = order, begin, end

    @classmethod
    def of_pieces(cls, pieces, shape):
        """`pieces` (spill.Piece) of one partition, each in file order (partition.split_by_partition)."""
        order = _Order(pieces, file_order(shape, pieces[0].table.column_names))
        return cls(order, 0, len(order.piece))

    @classmethod
    def of_sorted_piece(cls, piece):
        """One piece whose rows are already in file order (a heavy partition's range, see staging.py)."""
        order = _Order([piece], None)
        return cls(order, 0, len(order.piece))

    @property
    def schema(self):
        return self._order.schema

    def table(self):
        """The rows as one Arrow table (copied out of the pieces: take slices of a few thousand rows)."""
        return pa.table([self[name] for name in self.schema.names], schema=self.schema)

    @property
    def num_rows(self):
        return self._end - self._begin

    @property
    def nbytes(self):
        """The rows' share of the pieces' Arrow buffers (an estimate: rows are assumed alike)."""
        return self._order.nbytes * self.num_rows // max(len(self._order.piece), 1)

    def slice(self, offset=0, length=None):
        begin = self._begin + min(offset, self.num_rows)
        end = self._end if length is None else min(begin + length, self._end)
        return SortedRows(self._order, begin, end)

    def __getitem__(self, name):
        return self._order.column(name, self._begin, self._end)
