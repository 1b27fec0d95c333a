"""A run's reconciliation (transforms/sinks/reconciliation.py): read = exported + rejected + later.

The end-to-end case counts a hand-labelled store independently: each record says what the definition in
docs/contracts.md makes of it (not read for the window, exported, rejected for a reason, later data), and
the run's manifest must give the same numbers. Later data filed in folders after the ceiling, which the
run only counts (transforms/sources/later_data.py), is counted here by a plain predicate over the records
written. The check itself is table-driven, and the real manifest step on a real runner refuses counts
that do not add up, writing no manifest.
"""

import collections
import dataclasses

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.support.exports import export_ok, verify_export
from tests.support.reliability import event
from tests.support.stores import layout_by_time, ms, utc_of, write_store
from transforms.config import ExportConfig
from transforms.errors import ReconciliationError
from transforms.records import EVENTS
from transforms.sinks.reconciliation import check_counts
from transforms.sources.later_data import count_later, list_store
from transforms.sources.store_files import list_splits
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
    add("later", "in-a-later-folder", IN, captured_at=ms("2024-03-07T01:00:00Z"))   # folder after the ceiling
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


# A window whose ceiling is its end, as the scheduler fixes it for a store marked complete up to there:
# the ceiling's own folder (2024-03-06) and every later one are only counted, never read for rows.
PICKED = ("Picked", "Also Picked")
TWO_WORKERS = ("--direct_num_workers=2", "--direct_running_mode=multi_processing")


def _beyond_the_ceiling():
    """Records of a select_events export of [START, END) with the ceiling at END, most in later folders."""
    def at(text):
        return ms(f"2024-03-{text}Z")

    return [
        event("kept-1", at("05T01:00:00"), name="Picked"),
        event("kept-2", at("05T22:00:00"), name="Also Picked"),
        event("not-picked", at("05T03:00:00"), name="Other"),
        event("skew", at("05T00:30:00"), captured_at=at("04T23:00:00"), name="Picked"),
        event("at-ceiling", at("05T23:00:00"), captured_at=ms(END), name="Picked"),             # own folder
        event("own-folder", at("05T04:00:00"), captured_at=at("06T05:00:00"), name="Also Picked"),
        event("outside", at("06T01:00:00"), captured_at=at("06T02:00:00"), name="Picked"),
        event("later-not-picked", at("05T05:00:00"), captured_at=at("06T03:00:00"), name="Other"),
        dict(event("hour-folder", at("05T06:00:00"), captured_at=at("08T07:30:00"), name="Picked"),
             _folder="captured_date=2024-03-08/captured_hour=07"),
        event("days-later", at("05T07:00:00"), captured_at=at("09T10:00:00"), name="Also Picked"),
        # Bad ones after the ceiling: later data when their times and name place them in the window (as in
        # a folder the run reads); the others belong to the runs that read their folders.
        event("bad-map", at("05T08:00:00"), captured_at=at("09T11:00:00"), name="Picked", profile="{not json"),
        dict(event("misfiled", at("05T09:00:00"), captured_at=at("05T09:00:01"), name="Picked"),
             _folder="captured_date=2024-03-09"),
        event("impossible-time", -5, captured_at=at("09T12:00:00"), name="Picked"),
        event("no-time", at("05T10:00:00"), captured_at=at("09T13:00:00"), name="Picked", event_time=...),
    ]


def _folder_span(record):
    """[first, last) epoch ms of the folder layout_by_time files `record` in."""
    folder = record.get("_folder") or f"captured_date={utc_of(record['captured_at']):%Y-%m-%d}"
    parts = dict(part.split("=") for part in folder.split("/"))
    first = ms(parts["captured_date"]) + int(parts.get("captured_hour", 0)) * 3_600_000
    return first, first + (3_600_000 if "captured_hour" in parts else 86_400_000)


def _independent_count(records, ceiling):
    """(exported, later) by the definitions of docs/contracts.md, from the records alone."""
    counts = collections.Counter()
    for record in records:
        first, last = _folder_span(record)
        moment, captured = record.get("event_time"), record.get("captured_at")
        if (record.get("event_name") in PICKED and isinstance(moment, int) and ms(START) <= moment < ms(END)
                and isinstance(captured, int) and first <= captured < last):
            counts["later" if captured >= ceiling else "exported"] += 1
    return counts


@pytest.fixture(scope="module")
def beyond_store(request, tmp_path_factory):
    records = _beyond_the_ceiling()
    layout = layout_by_time(records)
    if request.param == "jsonl":   # not even JSON, in a later folder: nobody's later data
        layout["captured_date=2024-03-09"][0].append("{this is not json")
    root = write_store(tmp_path_factory.mktemp(f"beyond-{request.param}") / "events", layout, request.param)
    return request.param, root, records


@pytest.mark.parametrize("beyond_store, workers", [("jsonl", ()), ("parquet", ()), ("avro", ()),
                                                    ("parquet", TWO_WORKERS)], indirect=["beyond_store"],
                         ids=["jsonl", "parquet", "avro", "parquet-multi_processing"])
def test_later_data_in_folders_after_the_ceiling_is_counted(beyond_store, tmp_path, workers):
    _, root, records = beyond_store
    picks = [arg for name in PICKED for arg in ("--events", name)]
    dest = export_ok(root, tmp_path / "out", "json", START, END, "--captured_before", END, "--export_type",
                     "select_events", *picks, *workers)
    expected = _independent_count(records, ms(END))
    assert expected == {"exported": 3, "later": 5}   # the store holds what the test is about
    manifest = verify_export(dest, "json", [r for r in records if r["event_id"] in ("rid:kept-1", "rid:kept-2",
                                                                                  "rid:skew")])
    assert manifest["reconciliation"] == {"read": expected["exported"] + expected["later"],
                                          "exported": expected["exported"], "rejected": 0,
                                          "rejected_by_reason": {}, "later": expected["later"]}


@pytest.mark.parametrize("beyond_store", ["jsonl"], indirect=True)
@pytest.mark.parametrize("settings, later", [
    ({"captured_before": END}, ["captured_date=2024-03-06", "captured_date=2024-03-08/captured_hour=07",
                                "captured_date=2024-03-09"]),
    ({}, []),                                                                  # no ceiling: nothing changes
    ({"captured_before": END, "time_basis": "capture"}, []),                  # nor on capture time
    ({"captured_before": "2024-03-09T12:00:00Z", "time_basis": "capture"}, []),
])
def test_which_folders_are_only_counted(beyond_store, settings, later):
    _, root, _ = beyond_store
    config = ExportConfig.build(source=root, destination=root, start=START, end=END, **settings)
    reads, counted = list_store(root, EVENTS, config.window)
    assert reads == list_splits(root, EVENTS, config.window.partition_filter(EVENTS))
    assert sorted({path[len(root) + 1:].rsplit("/", 1)[0] for path in counted}) == later


def test_parquet_row_groups_outside_the_window_are_skipped(tmp_path, monkeypatch):
    """Statistics skip the row groups wholly before or after the window; a group of nulls is read."""
    times = [ms("2024-03-04T01:00:00Z"), ms("2024-03-04T02:00:00Z"), IN, ms("2024-03-06T03:00:00Z"),
             ms("2024-03-07T01:00:00Z"), ms("2024-03-08T01:00:00Z"), None, None]
    folder = tmp_path / "captured_date=2024-03-09"
    folder.mkdir()
    path = folder / "part-0.parquet"
    pq.write_table(pa.table({"event_name": ["A"] * 8, "event_time": pa.array(times, pa.int64()),
                             "captured_at": [ms("2024-03-09T01:00:00Z")] * 8}), path, row_group_size=2)
    config = ExportConfig.build(source=str(tmp_path), destination=str(tmp_path / "out"), start=START, end=END,
                                captured_before=CEILING)
    read = []
    real = pq.ParquetFile.iter_batches
    monkeypatch.setattr(pq.ParquetFile, "iter_batches", lambda self, *a, **k: read.append(k["row_groups"]) or
                        real(self, *a, **k))
    assert count_later(str(path), EVENTS, config.window) == 1
    assert pq.ParquetFile(path).metadata.num_row_groups == 4 and read == [[1, 3]]


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
