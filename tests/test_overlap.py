"""The overlap threads: every item in order, failures where the consumer sees them, bounded memory."""

import threading
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from transforms.sources import readers
from transforms.runtime.prefetch import Ahead


def _numbers(start, count, produced=None):
    def produce():
        for value in range(start, start + count):
            if produced is not None:
                produced.append(value)
            yield value
    return produce


def test_jobs_come_back_whole_and_in_order():
    reader = Ahead()
    try:
        jobs = [reader.submit(_numbers(100 * job, 50)) for job in range(5)]
        assert [list(job.items()) for job in jobs] == [list(range(100 * job, 100 * job + 50)) for job in range(5)]
    finally:
        reader.stop()


def test_a_failure_reaches_the_consumer_after_the_items_before_it():
    def failing():
        yield 1
        raise ValueError("store file 'x' cannot be read")

    reader = Ahead()
    try:
        first, second, third = (reader.submit(failing), reader.submit(_numbers(7, 2)), reader.submit(_numbers(9, 1)))
        items = first.items()
        assert next(items) == 1
        with pytest.raises(ValueError, match="cannot be read"):
            next(items)
        assert list(second.items()) == [7, 8] and list(third.items()) == [9]   # the reader goes on
    finally:
        reader.stop()


def test_a_job_runs_at_most_one_item_ahead_of_its_consumer():
    produced = []
    reader = Ahead()
    try:
        items = reader.submit(_numbers(0, 100, produced)).items()
        assert next(items) == 0
        time.sleep(0.3)
        assert len(produced) <= 3   # the one taken, one waiting, one made and waiting for room
    finally:
        reader.stop()


def test_stop_lets_the_threads_go():
    before = set(threading.enumerate())   # an earlier test's stopped threads may still be leaving: not counted
    reader = Ahead()
    jobs = [reader.submit(_numbers(0, 1000)) for _ in range(3)]
    next(jobs[0].items())
    assert set(threading.enumerate()) - before   # the reader's own threads
    reader.stop()
    deadline = time.monotonic() + 5
    while set(threading.enumerate()) - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not set(threading.enumerate()) - before


@pytest.mark.parametrize("width, rows, expected", [(10, 50_000, [50_000]), (2_000, 50_000, [12_500] * 4),
                                                     (10, 150_000, [50_000] * 3)])
def test_parquet_batches_hold_about_batch_bytes(tmp_path, monkeypatch, width, rows, expected):
    monkeypatch.setattr(readers, "BATCH_BYTES", 24 << 20)
    monkeypatch.setattr(readers, "BATCH_ROWS", 65536)
    path = str(tmp_path / "part.parquet")
    texts = pa.array([f"{i:0{width}d}" for i in range(rows)], pa.string())
    pq.write_table(pa.table({"text": texts}), path, compression="none", use_dictionary=False)
    assert [table.num_rows for table in readers.parquet_tables(path, ["text"])] == expected
