"""A worker's step, overlapped: the next element is worked on by a thread while the last one's outputs
go on downstream.

A worker reads a store file (Parquet decoding, the batch validation's JSON parse) and then partitions
and spills its rows (sort, take, IPC write): nearly all of it Arrow's C++ with the GIL released. Done
in turn, one worker kept one core busy and the second idle until gzip started in the write stage. An
`OverlappedDoFn` works on up to THREADS elements at once, on threads of its own, and hands their
outputs on in the order the elements came, from the runner's thread (where Beam counts metrics). An
element's outputs wait in a queue of one item, so memory grows by what the extra threads hold (a batch
each), never by a whole file. The write stage overlapped the same way (two partitions encoded at once)
held more than a worker may, so it encodes in turn and only overlaps a file's last compression with the
next encoding (steps._WriteGroup; docs/performance.md has the figures for both).

The outputs of a bundle's last element are emitted when the bundle finishes. Beam's DaskRunner
collects a bundle's outputs before it finishes the bundle and would lose them, so there
(`config.overlap` False) each element is worked on in turn, in `process`.
"""

import concurrent.futures
import queue
import threading

from apache_beam.transforms.window import GlobalWindows

from transforms.runtime.base_dofn import ConfiguredDoFn

__all__ = ["Ahead", "OverlappedDoFn", "THREADS"]

THREADS = 2   # elements worked on at once: the one being handed on, and the next
_DONE = object()
_POLL_S = 0.5


class _Job:
    def __init__(self, produce):
        self.produce, self.out = produce, queue.Queue(maxsize=1)

    def items(self):
        """What the job produced, in order, then what it raised, if anything."""
        while True:
            item, error = self.out.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item


class Ahead:
    """`submit(produce)` queues a generator function for the threads, which start the jobs in order; the
    returned job's `items()` yields what it produced and raises what it raised. A job waits while one
    of its items waits. `stop()` lets the threads go, with whatever they were doing."""

    def __init__(self, threads=THREADS):
        self._stopped = threading.Event()
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="ahead")

    def submit(self, produce):
        job = _Job(produce)
        self._pool.submit(self._run, job)
        return job

    def stop(self):
        self._stopped.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self, job):
        if self._stopped.is_set():
            return
        try:
            for item in job.produce():
                if not self._put(job, (item, None)):
                    return
        except BaseException as error:  # noqa: B036; handed to the consumer, who raises it
            self._put(job, (_DONE, error))
            return
        self._put(job, (_DONE, None))

    def _put(self, job, entry):
        """Wait for room, unless the consumer has stopped listening; False then."""
        while not self._stopped.is_set():
            try:
                job.out.put(entry, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False


class OverlappedDoFn(ConfiguredDoFn):
    """A DoFn whose `produce(element)` (a generator) runs on the threads; `emitted(item)` is called on
    the runner's thread for each item, in order, and what it returns goes downstream."""

    def produce(self, element):
        raise NotImplementedError

    def emitted(self, item):
        return item

    def setup(self):
        super().setup()
        self._ahead, self._pending = None, None

    def start_bundle(self):
        if self._pending is not None:   # left by a bundle that failed
            self._abandon()

    def process(self, element):
        if not self.config.overlap:
            yield from self._emit(self.produce(element))
            return
        if self._ahead is None:
            self._ahead = Ahead()
        pending, self._pending = self._pending, self._ahead.submit(lambda: self.produce(element))
        if pending is not None:
            yield from self._emit(pending.items())

    def finish_bundle(self):
        pending, self._pending = self._pending, None
        if pending is not None:
            for item in self._emit(pending.items()):
                yield GlobalWindows.windowed_value(item)
        super().finish_bundle()

    def teardown(self):
        self._abandon()

    def _emit(self, items):
        try:
            for item in items:
                yield self.emitted(item)
        except BaseException:
            self._abandon()
            raise

    def _abandon(self):
        """A failed bundle leaves the threads waiting on elements nobody will take: let them go."""
        if self._ahead is not None:
            self._ahead.stop()
        self._ahead, self._pending = None, None
