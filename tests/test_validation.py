"""validation: a batch of good map texts is judged whole; NaN and Infinity are refused only as values."""

import pyarrow as pa
import pytest

from transforms.records import EVENTS
from transforms.sources import validation


def _table(props):
    rows = len(props)
    columns = {name: pa.array(["x"] * rows) for name in EVENTS.store_schema.names}
    columns.update({name: pa.array(["{}"] * rows) for name in ("profile", "device_info")})
    columns.update({name: pa.array(range(rows), pa.int64()) for name in ("event_time", "captured_at")})
    columns["event_props"] = pa.array(props)
    return pa.table({name: columns[name] for name in EVENTS.store_schema.names})


def test_nan_inside_strings_keeps_the_batch_check(monkeypatch):
    """Text that looks like NaN or Infinity inside a string is no reason to check row by row."""
    props = ['{"a":"x,NaN,y"}', '{"b":"[Infinity]","c":"k\\":-Inf"}', '{"d":1}']
    monkeypatch.setattr(validation, "_validate_rows", lambda *args: pytest.fail("went row by row"))
    assert validation.validate("p", _table(props), EVENTS, []).column("event_props").to_pylist() == props


@pytest.mark.parametrize("bad", ['{"a":NaN}', '{"a": -Infinity}', '{"a":[1, NaN]}', '{"s":"NaN","a":Inf}',
                                 '{"s":"x\\\\","a":NaN}'])
def test_nan_values_are_rejected(bad):
    rejects = []
    kept = validation.validate("p", _table(['{"ok":"NaN"}', bad]), EVENTS, rejects)
    assert kept.column("event_props").to_pylist() == ['{"ok":"NaN"}']
    assert len(rejects) == 1 and rejects[0]["reason"].startswith("event_props is not valid JSON")
