"""The gzip stream compresses on a thread of its own: the bytes must be those of compressing inline, and a
failure on that thread must reach the encoder, not vanish."""

import gzip
import io

import pytest
from isal import igzip

from transforms.formats.compression import GZIP_LEVEL, Compression


def _chunks():
    return [f'{{"id": "{i:08x}", "text": "caf\\u00e9 {i * 7919}"}}\n'.encode() * 700 for i in range(40)]


def test_background_gzip_equals_inline():
    threaded = io.BytesIO()
    with Compression.GZIP.open(threaded) as stream:
        for chunk in _chunks():
            stream.write(chunk)
        stream.write(memoryview(b"last line\n"))
    inline = io.BytesIO()
    with igzip.GzipFile(filename="", fileobj=inline, mode="wb", compresslevel=GZIP_LEVEL, mtime=0) as stream:
        for chunk in _chunks():
            stream.write(chunk)
        stream.write(b"last line\n")
    assert threaded.getvalue() == inline.getvalue()
    assert gzip.decompress(threaded.getvalue()) == b"".join(_chunks()) + b"last line\n"


class _FailingSink(io.BytesIO):
    def write(self, data):
        if self.tell() > 1000:
            raise OSError("disk full")
        return super().write(data)


def test_failure_on_the_compressing_thread_reaches_the_writer():
    with pytest.raises(OSError, match="disk full"):
        with Compression.GZIP.open(_FailingSink()) as stream:
            for chunk in _chunks() * 10:
                stream.write(chunk)


def test_an_abandoned_file_stops_without_finishing():
    sink = io.BytesIO()
    with pytest.raises(RuntimeError, match="encoder failed"):
        with Compression.GZIP.open(sink) as stream:
            stream.write(_chunks()[0])
            raise RuntimeError("encoder failed")
    with pytest.raises(EOFError):   # no gzip trailer: not a finished file
        gzip.decompress(sink.getvalue())
