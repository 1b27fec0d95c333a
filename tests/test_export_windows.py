"""Which rows a run exports: event-time and capture-time windows (late and clock-skewed captures, hour
folders, a capture ceiling), select_events, all_profiles as of --end or within a capture window, empty
windows."""

import shutil
from pathlib import Path

import pytest

from tests.support.expected import RUN_TS, manifest_name
from tests.support.exports import export, export_ok, folder_bytes, load_manifest, verify_export
from tests.support.readers import read_object
from tests.support.stores import HAND_END, HAND_RECORDS, HAND_START, in_window, layout_by_time, ms, write_store
from transforms.config import ExportConfig
from transforms.errors import ConfigError

W_START, W_END = "2024-03-05T00:00:00Z", "2024-03-07T00:00:00Z"


def _event(tag, event_time, captured_at, name="Window Test", folder=None):
    record = {"event_id": tag, "event_name": name, "event_time": ms(event_time), "captured_at": ms(captured_at),
              "profile": {"identity": "u-" + tag}, "device_info": {"make": "Apple"}, "event_props": {"tag": tag}}
    if folder:
        record["_folder"] = folder
    return record


#                 tag               event time                   captured at                  event  capture
WINDOW_EVENTS = [
    _event("plain", "2024-03-05T10:00:00Z", "2024-03-05T10:00:03Z"),                        # in     in
    _event("late", "2024-03-06T09:00:00Z", "2024-03-08T12:00:00Z"),                         # in     out
    _event("far-late", "2024-03-06T01:00:00Z", "2024-03-10T01:00:00Z"),                     # in     out
    _event("skew", "2024-03-05T00:03:00Z", "2024-03-04T23:58:00Z"),                         # in     out
    _event("before", "2024-03-04T12:00:00Z", "2024-03-04T12:00:03Z"),                       # out    out
    _event("at-start", "2024-03-05T00:00:00.000Z", "2024-03-05T00:00:01Z"),                 # in     in
    _event("at-end", "2024-03-07T00:00:00.000Z", "2024-03-07T00:00:02Z"),                   # out    out
    _event("old-late", "2024-03-03T20:00:00Z", "2024-03-05T08:00:00Z"),                     # out    in
    _event("cap-last", "2024-03-06T23:59:58Z", "2024-03-06T23:59:59.999Z"),                 # in     in
    _event("cap-at-end", "2024-03-06T23:59:59.500Z", "2024-03-07T00:00:00.000Z"),           # in     out
    _event("hour", "2024-03-06T13:10:00Z", "2024-03-06T13:10:03Z",
           folder="captured_date=2024-03-06/captured_hour=13"),                               # in     in
    _event("hour-early", "2024-03-05T05:30:00Z", "2024-03-05T05:30:02Z", name="Other",
           folder="captured_date=2024-03-05/captured_hour=05"),                               # in     in
]
EVENT_IN = {"plain", "late", "far-late", "skew", "at-start", "cap-last", "cap-at-end", "hour", "hour-early"}
CAPTURE_IN = {"plain", "at-start", "old-late", "cap-last", "hour", "hour-early"}


@pytest.fixture(scope="module")
def window_store(tmp_path_factory):
    return write_store(tmp_path_factory.mktemp("window-store"), layout_by_time(WINDOW_EVENTS, parts=1), "parquet")


def _tags(dest):
    tags = []
    for item in load_manifest(dest)["objects"]:
        _, rows = read_object((dest / item["key"]).read_bytes(), "json")
        tags += [dict(row)["eventProps"]["tag"] for row in rows]
    return tags


def test_event_time_window(window_store, tmp_path):
    # the same instants as W_START and W_END, written with an offset and without one (UTC)
    dest = export_ok(window_store, tmp_path, "json", "2024-03-05T05:30:00+05:30", "2024-03-07T00:00:00")
    assert sorted(_tags(dest)) == sorted(EVENT_IN)
    manifest = verify_export(dest, "json", [r for r in WINDOW_EVENTS if r["event_id"] in EVENT_IN])
    assert manifest["window"] == {"start": W_START, "end": W_END, "time_basis": "event", "captured_before": None}


def test_capture_time_window(window_store, tmp_path):
    dest = export_ok(window_store, tmp_path, "json", W_START, W_END, "--time_basis", "capture")
    assert sorted(_tags(dest)) == sorted(CAPTURE_IN)
    # files are still dated and stamped by event time: 'old-late' lands in a 20240303 file
    manifest = verify_export(dest, "json", [r for r in WINDOW_EVENTS if r["event_id"] in CAPTURE_IN])
    assert manifest["window"]["time_basis"] == "capture"
    assert "20240303" in {o["date"] for o in manifest["objects"]}


def test_capture_window_prunes_hours(window_store, tmp_path):
    dest = export_ok(window_store, tmp_path, "json", "2024-03-05T06:00:00Z", "2024-03-06T14:00:00Z",
                     "--time_basis", "capture")
    assert sorted(_tags(dest)) == ["hour", "old-late", "plain"]


def test_clock_skew_option_widens_the_read(window_store, tmp_path):
    """With no allowance for clock skew, the event captured before it happened (previous capture date) is
    not read; the default (24 h) finds it."""
    dest = export_ok(window_store, tmp_path, "json", W_START, W_END, "--clock_skew_hours", 0)
    assert sorted(_tags(dest)) == sorted(EVENT_IN - {"skew"})


CEILING = "2024-03-06T18:00:00Z"   # inside captured_date=2024-03-06, so that folder is read row by row


def _land(source, folder, name, records, fmt):
    """Add a file of `records` to `folder` of the store beside the files already there."""
    written = write_store(source.parent / f"landing-{name}", {folder: [records]}, fmt)
    (made,) = (Path(written) / folder).iterdir()
    made.rename(source / folder / f"{name}{''.join(made.suffixes)}")


def test_capture_ceiling_leaves_later_captures_out_and_a_rerun_is_byte_identical(window_store, tmp_path):
    """'cap-last' (captured 03-06 23:59) is cut row by row; 'cap-at-end', 'late' and 'far-late' sit in
    folders starting after the ceiling, which are only counted, as later data. Files that land afterwards,
    captured at or after the ceiling, change no object: neither the rows nor the rejects (a bad record
    captured later is later data too); only the manifest's count of later data grows."""
    source = tmp_path / "store"
    shutil.copytree(window_store, source)
    first = export_ok(source, tmp_path / "first", "json", W_START, W_END, "--captured_before", CEILING)
    kept = EVENT_IN - {"cap-last", "cap-at-end", "late", "far-late"}
    manifest = verify_export(first, "json", [r for r in WINDOW_EVENTS if r["event_id"] in kept])
    assert manifest["window"] == {"start": W_START, "end": W_END, "time_basis": "event", "captured_before": CEILING}

    folder = "captured_date=2024-03-06"
    _land(source, folder, "landed", [_event("at-ceiling", "2024-03-06T10:00:00Z", CEILING),
                                     dict(_event("no-time", "2024-03-06T10:00:00Z", "2024-03-06T19:00:00Z"),
                                          event_time=None)], "parquet")
    _land(source, folder, "landed-bad", [dict(_event("bad-time", "2024-03-06T10:00:00Z", "2024-03-06T20:00:00Z"),
                                              event_time="yesterday")], "jsonl")
    again = export_ok(source, tmp_path / "again", "json", W_START, W_END, "--captured_before", ms(CEILING))
    manifests = [load_manifest(dest) for dest in (first, again)]
    assert {k: v for k, v in folder_bytes(again).items() if not k.endswith("-manifest.json")} == {
        k: v for k, v in folder_bytes(first).items() if not k.endswith("-manifest.json")}
    # Only the count of later data grows: the three landed records are read for the window and left out.
    counts = [manifest.pop("reconciliation") for manifest in manifests]
    assert manifests[0] == manifests[1]
    assert counts[0] == {"read": 9, "exported": 5, "rejected": 0, "rejected_by_reason": {}, "later": 4}
    assert counts[1] == dict(counts[0], read=12, later=7)

    # The folders after the ceiling are listed (to count their later data) by the rules of any folder read.
    (source / "captured_date=2024-03-07" / "notes.json").write_text("{}")
    status, text = export(source, tmp_path / "stray", "json", W_START, W_END, "--captured_before", CEILING)
    assert status == 2 and "notes.json" in text, text


@pytest.mark.parametrize("extra, outcome", [
    ({"captured_before": "2024-03-06T00:00:00Z"}, 1709683200000),            # event time: any ceiling
    ({"captured_before": "1709769600000", "time_basis": "capture"}, 1709769600000),   # exactly --end, epoch ms
    ({"captured_before": "2024-03-06T23:59:59Z", "time_basis": "capture"}, "is before --end"),
    ({"captured_before": "2024-03-06T23:59:59Z", "export_type": "all_profiles"}, "is before --end"),
    ({"captured_before": "soon"}, "neither an ISO-8601 instant nor epoch milliseconds"),
])
def test_capture_ceiling_option(tmp_path, extra, outcome):
    build = dict(source=str(tmp_path), destination=str(tmp_path / "out"), start=W_START, end=W_END, **extra)
    if isinstance(outcome, str):
        with pytest.raises(ConfigError, match=outcome):
            ExportConfig.build(**build)
    else:
        assert ExportConfig.build(**build).window.captured_before_ms == outcome


def test_timezone_dates_and_ts(window_store, tmp_path):
    dest = export_ok(window_store, tmp_path, "json", W_START, W_END, "--timezone", "Asia/Kolkata")
    stamps = {}
    for item in load_manifest(dest)["objects"]:
        _, rows = read_object((dest / item["key"]).read_bytes(), "json")
        for row in map(dict, rows):
            stamps[row["eventProps"]["tag"]] = (item["date"], row["ts"])
    assert stamps["plain"] == ("20240305", 20240305153000)       # 10:00 UTC is 15:30 in India
    assert stamps["cap-last"] == ("20240307", 20240307052958)    # the next day there
    assert set(stamps) == EVENT_IN                               # the window itself is an instant range


def test_empty_window(window_store, tmp_path):
    for basis in ("event", "capture"):
        dest = tmp_path / basis
        export_ok(window_store, dest, "csv", "2024-02-01T00:00:00Z", "2024-02-02T00:00:00Z", "--time_basis", basis)
        manifest = load_manifest(dest)
        assert manifest["objects"] == [] and manifest["event_totals"] == {}
        assert manifest["totals"] == {"objects": 0, "rows": 0, "bytes": 0}
        assert manifest["rejects"] == {"rows": 0, "objects": [], "sample": None}
        assert [p.name for p in dest.iterdir()] == [manifest_name()]


# ---------------------------------------------------------------------------------------------- select_events

def test_select_events(hand_stores, tmp_path):
    names = ["Items, Bought", "App Launched", "🎉 Party", "pre-order-placed", "No Such Event"]
    args = ["--export-type", "select_events"]
    for name in names:
        args += ["--events", name]
    dest = export_ok(hand_stores["parquet"], tmp_path, "csv", HAND_START, HAND_END, *args)
    want = [r for r in in_window(HAND_RECORDS, HAND_START, HAND_END) if r["event_name"] in names]
    manifest = verify_export(dest, "csv", want)
    assert set(manifest["event_totals"]) == set(names) - {"No Such Event"}
    assert manifest["export_type"] == "select_events"


def test_select_events_comma_name_alone(hand_stores, tmp_path):
    """A name holding a comma is one name, never split into 'Items' and ' Bought'."""
    dest = export_ok(hand_stores["jsonl"], tmp_path, "json", HAND_START, HAND_END,
                     "--export_type", "select_events", "--events", "Items, Bought")
    manifest = verify_export(dest, "json", [r for r in in_window(HAND_RECORDS, HAND_START, HAND_END)
                                            if r["event_name"] == "Items, Bought"])
    assert list(manifest["event_totals"]) == ["Items, Bought"]


# ---------------------------------------------------------------------------------------------- all_profiles

def _version(identity, object_id, updated_at, properties):
    return {"identity": identity, "object_id": object_id, "updated_at": ms(updated_at), "properties": properties}


PROFILE_VERSIONS = [
    _version("u1", "o1", "2024-03-01T10:00:00Z", {"tier": "Bronze", "v": 1}),
    _version("u1", "o1", "2024-03-04T10:00:00Z", {"tier": "Silver", "v": 2}),
    _version("u1", "o1", "2024-03-08T10:00:00Z", {"tier": "Gold", "v": 3}),          # after --end
    _version("u2", "o2", "2024-02-20T09:00:00Z", {"tier": "Bronze", "name": "O'Brien, \"Jr\"\r\n<&>"}),
    _version("u3", "o3", "2024-03-03T00:00:00Z", {"tier": "Bronze"}),
    _version("u3", "o3", "2024-03-05T23:59:59.999Z", {"tier": "Silver", "push": True}),
    _version("u4", "o4", "2024-03-07T00:00:00Z", {"tier": "Gold"}),                   # only after --end
    _version("u5", "o5", "2024-03-02T10:00:00Z", {"tier": "Bronze"}),
    _version("u5", "o5", "2024-03-05T12:00:00Z", {"tier": "Silver"}),
    _version("u5", "o5b", "2024-03-05T18:00:00Z", {"tier": "Gold", "score": 1.5}),
    _version("u6", "o6", "2024-03-06T00:00:00.000Z", {}),                              # exactly at --end
]
P_END = "2024-03-06T00:00:00Z"


def _pick(*pairs):
    return [next(v for v in PROFILE_VERSIONS if (v["identity"], v["updated_at"]) == (i, ms(t))) for i, t in pairs]


AS_OF_END = _pick(("u1", "2024-03-04T10:00:00Z"), ("u2", "2024-02-20T09:00:00Z"), ("u3", "2024-03-05T23:59:59.999Z"),
                  ("u5", "2024-03-05T18:00:00Z"))
IN_WINDOW = _pick(("u1", "2024-03-04T10:00:00Z"), ("u3", "2024-03-05T23:59:59.999Z"), ("u5", "2024-03-05T18:00:00Z"))


@pytest.fixture(scope="module")
def profile_store(tmp_path_factory):
    layout = layout_by_time(PROFILE_VERSIONS, column="updated_at", folder="updated_date")
    return write_store(tmp_path_factory.mktemp("profile-store"), layout, "avro", kind="profiles")


@pytest.mark.parametrize("fmt", ["json", "csv", "xml", "parquet"])
def test_profiles_as_of_end(profile_store, tmp_path, fmt):
    dest = export_ok(profile_store, tmp_path, fmt, None, P_END, "--export_type", "all_profiles")
    manifest = verify_export(dest, fmt, AS_OF_END, kind="profiles")
    assert set(manifest["event_totals"]) == {"profiles"}
    assert all(f"-{RUN_TS}-profiles-" in o["key"] for o in manifest["objects"])


def test_profiles_capture_window(profile_store, tmp_path):
    dest = export_ok(profile_store, tmp_path, "json", "2024-03-03T00:00:00Z", P_END, "--export_type",
                     "all_profiles", "--time_basis", "capture")
    verify_export(dest, "json", IN_WINDOW, kind="profiles")
    _, rows = read_object((dest / load_manifest(dest)["objects"][-1]["key"]).read_bytes(), "json")
    assert [k for k, _ in rows[0]] == ["identity", "objectId", "ts", "properties"]


# ---------------------------------------------------------------------------------------------- bugs

def test_source_path_with_brackets(hand_stores, tmp_path):
    source = tmp_path / "store[1]"
    shutil.copytree(hand_stores["parquet"], source)
    dest = export_ok(source, tmp_path / "out", "json", HAND_START, HAND_END)
    assert load_manifest(dest)["totals"]["rows"] == len(in_window(HAND_RECORDS, HAND_START, HAND_END))


def test_store_files_outside_the_layout_are_an_error(tmp_path):
    records = in_window(HAND_RECORDS, HAND_START, HAND_END)
    source = write_store(tmp_path / "store", layout_by_time(records[:4]), "parquet")
    write_store(source, {"2024-03-06": [records[4:6]]}, "parquet")   # a folder without 'captured_date='
    status, text = export(source, tmp_path / "out", "json", HAND_START, HAND_END)
    assert status == 2, text
