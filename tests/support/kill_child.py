"""`python -m tests.support.kill_child PAUSE MARKER PART_BYTES EXPORT_ARGS...`: the real exporter, which stops
at one exact point of its run and waits there to be killed (tests/test_kills.py).

A kill test must not guess the moment with a sleep: on a busy machine the run is anywhere by then. So
the child announces the chosen point by creating MARKER and then waits; the test sees MARKER and sends
SIGKILL. Points (PAUSE):
- `read:N`: before the Nth store file is read (rows of earlier files already spilled, nothing written);
- `put:N`: before the Nth object (manifest included) is written, earlier ones complete;
- `half:N`: halfway through writing the Nth object's bytes (a local destination only);
- `none`: no stop of its own (for S3 the fault proxy holds the chosen request instead).
PART_BYTES (0: the default) sets the multipart threshold and part size, so a multipart upload happens
at small scale.
"""

import os
import sys
import time

from pipelines import export
from transforms.sinks import target as destination
from transforms.sinks import s3
from transforms import steps

__all__ = ["main"]


def _wait_for_the_kill(marker):
    with open(marker, "w"):
        pass
    while True:
        time.sleep(60)


class _HalfThenWait:
    """A seekable stream that gives out its first half, then announces the point and waits."""

    def __init__(self, stream, marker):
        self.stream, self.marker = stream, marker
        self.half = stream.seek(0, os.SEEK_END) // 2
        stream.seek(0)

    def read(self, size=-1):
        left = self.half - self.stream.tell()
        if left <= 0:
            _wait_for_the_kill(self.marker)
        return self.stream.read(left if size is None or size < 0 else min(size, left))

    def seek(self, offset, whence=0):
        return self.stream.seek(offset, whence)

    def tell(self):
        return self.stream.tell()


def _counted(function, number, before):
    calls = [0]

    def wrapper(*args, **kwargs):
        calls[0] += 1
        if calls[0] == number:
            args = before(args)
        return function(*args, **kwargs)

    return wrapper


def main(argv):
    pause, marker, part_bytes, *export_args = argv
    point, _, number = pause.partition(":")
    if int(part_bytes):
        s3.MULTIPART_THRESHOLD = s3.PART_BYTES = int(part_bytes)

    def wait(args):
        _wait_for_the_kill(marker)

    def halfway(args):
        self, key, stream, *hashes = args
        return (self, key, _HalfThenWait(stream, marker), *hashes)

    if point == "read":
        steps.read_split = _counted(steps.read_split, int(number), wait)
    elif point in ("put", "half"):
        put = destination.Destination.put
        destination.Destination.put = _counted(put, int(number), wait if point == "put" else halfway)
    return export.main(export_args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
