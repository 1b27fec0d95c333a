"""holds_any against Python's own `in`, on windows small enough that marks straddle their edges."""

import random

import pyarrow as pa
import pytest

from transforms import arrow_text
from transforms.arrow_text import holds_any

MARKS = [(b"\r",), (b"NaN", b"Inf"), (b"\\u00", b"\\b", b"\\f", b"\\ufff", b"\\u", b"\\U"), ("é".encode(),)]


@pytest.mark.parametrize("window", [3, 4, 1 << 20])
def test_holds_any_agrees_with_in(monkeypatch, window):
    monkeypatch.setattr(arrow_text, "_WINDOW", window)
    rng = random.Random(window)
    alphabet = ["a", "N", "\\", "u", "0", "I", "n", "f", "\r", "\n", "é", "U", "b"]
    found = 0
    for trial in range(2000):
        values = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(9))) for _ in range(rng.randrange(5))]
        strings = pa.array(values, pa.string())
        if trial % 2:
            strings = strings.slice(rng.randrange(len(values) + 1))   # a slice's bytes start inside the buffer
        data = "".join(strings.to_pylist()).encode()
        for marks in MARKS:
            expected = any(mark in data for mark in marks)
            assert holds_any(strings, marks) == expected, (strings.to_pylist(), marks)
            found += expected
    assert found > 1000   # both answers were tried, many times
