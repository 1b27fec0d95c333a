"""A run's reconciliation (transforms/sinks/reconciliation.py): read = exported + rejected + later.

The end-to-end case counts a hand-labelled store independently: each record says what the definition in
docs/contracts.md makes of it (not read for the window, exported, rejected for a reason, later data), and
the run's manifest must give the same numbers. The check itself is table-driven, and the real manifest
step on a real runner refuses counts that do not add up, writing no manifest.
"""

import collections
import dataclasses

import apache_beam as beam
import pyarrow as pa
import pytest

from tests.support.exports import export_ok, verify_export
from tests.support.reliability import event
from tests.support.stores import layout_by_time, ms, write_store
from transforms.config import ExportConfig
from transforms.errors import ReconciliationError
from transforms.sinks.reconciliation import check_counts
from transforms.steps import WriteManifest

START, END, CEILING = "2024-03-05T00:00:00Z", "2024-03-06T00:00:00Z", "2024-03-06T12:00:00Z"
IN = ms("2024-03-05T10:00:00Z")


def _labelled():
    """(records with `_expect`: None (not read for the window) | exported | later | a reason code, raw lines)."""
    records = []

    def add(expect, rid, at=IN, **fields):
        records.append(dict(event(rid, at, **fields), _expect=expect))

    for n in range(6):
        add("exported", f"ok-{n}", IN + n * 3_600_000)
    add("exported", "captured-next-day", IN, captured_at=ms("2024-03-06T11:59:59.999Z"))
    add(None, "after-window", ms("2024-03-06T02:00:00Z"))
    add(None, "before-window", ms("2024-03-04T20:00:00Z"))
    add("later", "at-ceiling", IN, captured_at=ms(CEILING))
    add("later", "after-ceiling", IN, captured_at=ms("2024-03-06T13:00:00Z"))
    add("later", "bad-and-later", IN, captured_at=ms("2024-03-06T14:00:00Z"), event_name=None)
    add(None, "in-an-unread-folder", IN, captured_at=ms("2024-03-07T01:00:00Z"))   # folder after the ceiling
    add("missing_field", "no-name", IN, event_name=None)
    add("map_not_json", "bad-profile", IN, profile="{not json")
    add("event_time_out_of_range", "negative-time", -5, captured_at=IN)
    add("misfiled", "misfiled", IN, _folder="captured_date=2024-03-04")
    return records


@pytest.fixture(scope="module", params=["jsonl", "parquet"])
def labelled_store(request, tmp_path_factory):
    records = _labelled()
    layout = layout_by_time(records)
    if request.param == "jsonl":   # a line that is no JSON at all, in a folder the run reads
        layout["captured_date=2024-03-05"][0].append("{this is not json")
    root = write_store(tmp_path_factory.mktemp(f"labelled-{request.param}") / "events", layout, request.param)
    expected = collections.Counter(r["_expect"] for r in records)
    if request.param == "jsonl":
        expected["not_json"] += 1
    return root, records, expected


def test_the_run_reconciles_with_an_independent_count(labelled_store, tmp_path):
    root, records, expected = labelled_store
    dest = export_ok(root, tmp_path / "out", "json", START, END, "--captured_before", CEILING,
                     "--max_reject_fraction", 1)
    reasons = {code: n for code, n in expected.items() if code not in (None, "exported", "later")}
    manifest = verify_export(dest, "json", [r for r in records if r["_expect"] == "exported"],
                             rejects=sum(reasons.values()))
    assert manifest["reconciliation"] == {
        "read": sum(n for label, n in expected.items() if label is not None),
        "exported": expected["exported"],
        "rejected": sum(reasons.values()),
        "rejected_by_reason": dict(sorted(reasons.items())),
        "later": expected["later"],
    }


GOOD = {"read": 10, "exported": 6, "rejected": 3, "rejected_by_reason": {"not_json": 1, "misfiled": 2}, "later": 1}


@pytest.mark.parametrize("change, message", [
    ({}, None),
    ({"read": 11}, r"11 records were read for the window but 6 exported \+ 3 rejected \+ 1 later = 10 \(-1\)"),
    ({"exported": 7}, r"= 11 \(\+1\)"),
    ({"rejected_by_reason": {"not_json": 1}}, "the rejects by reason add up to 1, not 3"),
    ({"superseded": 0}, None),
    ({"superseded": 1}, r"\+ 1 superseded = 11"),
    ({"exported": 7, "superseded": -1}, "1 more profiles were exported than the readers passed on"),
])
def test_check_counts(change, message):
    document = dict(GOOD, **change)
    if message is None:
        check_counts(document)
    else:
        with pytest.raises(ReconciliationError, match=message):
            check_counts(document)


def test_the_manifest_step_fails_the_run_when_counts_do_not_add_up(tmp_path):
    """The real step on a real runner: the readers counted one record more than the writers wrote."""
    config = ExportConfig.build(source=str(tmp_path), destination=str(tmp_path / "out"), start=START, end=END,
                                run_timestamp="20240309000000")
    config = dataclasses.replace(config, spill_dir=str(tmp_path / "spill"))
    written = {"key": "k0", "event_name": "A", "date": "20240305", "index": 0, "rows": 4, "bytes": 10,
               "sha256": "0" * 64}
    with pytest.raises(Exception, match="5 records were read for the window but 4 exported"):
        with beam.Pipeline(runner="FnApiRunner") as pipeline:
            objects = pipeline | "Objects" >> beam.Create([written])
            rejects = pipeline | "Rejects" >> beam.Create([])
            counts = pipeline | "Counts" >> beam.Create([pa.table({"read": [5], "later": [0], "rows": [5]})])
            _ = (objects, rejects, counts) | WriteManifest(config)
    assert not list(tmp_path.glob("out/*-manifest.json"))
