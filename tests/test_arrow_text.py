"""holds_any and bytes_below against plain Python, on slices whose bytes start inside their buffer and
(bytes_below) on windows small enough that the values straddle their edges."""

import random

import pyarrow as pa
import pytest

from transforms import arrow_text
from transforms.arrow_text import bytes_below, holds_any

MARKS = [(b"\r",), (b"NaN", b"Inf"), (b"\\u00", b"\\b", b"\\f", b"\\ufff", b"\\u", b"\\U"), ("é".encode(),)]
ALPHABET = ["a", "N", "\\", "u", "0", "I", "n", "f", "\r", "\n", "é", "U", "b", "\x01", "\t"]


def _random_strings(rng):
    values = ["".join(rng.choice(ALPHABET) for _ in range(rng.randrange(9))) for _ in range(rng.randrange(5))]
    strings = pa.array(values, pa.string())
    if rng.randrange(2):
        strings = strings.slice(rng.randrange(len(values) + 1))   # a slice's bytes start inside the buffer
    return strings, "".join(strings.to_pylist()).encode()


def test_holds_any_agrees_with_in():
    rng = random.Random(7)
    found = 0
    for _ in range(3000):
        strings, data = _random_strings(rng)
        for marks in MARKS:
            expected = any(mark in data for mark in marks)
            assert holds_any(strings, marks) == expected, (strings.to_pylist(), marks)
            found += expected
    assert found > 1000   # both answers were tried, many times


@pytest.mark.parametrize("window", [3, 1 << 20])
def test_bytes_below_agrees_with_python(monkeypatch, window):
    monkeypatch.setattr(arrow_text, "_WINDOW", window)
    rng = random.Random(window)
    for _ in range(1000):
        strings, data = _random_strings(rng)
        assert bytes_below(strings, 0x20) == {byte for byte in data if byte < 0x20}
