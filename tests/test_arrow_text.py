"""holds_any against plain Python, on slices whose bytes start inside their buffer."""

import random

import pyarrow as pa

from transforms.arrow_text import holds_any

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
