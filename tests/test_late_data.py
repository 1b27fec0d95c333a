"""Late data: a window runs only once the store's completeness mark has passed its end (or, with no mark,
after the settle delay), so files that land after the window ended are exported, each record once.

The scheduler runs as the `eventexport` CLI with a frozen clock (`run --as-of`), on SQLite: what is
tested here is when a run may start, which does not depend on the database (tests/test_control.py runs
the claims on PostgreSQL too). The store is written the way an ingester fills it: whole files renamed
into place, then the mark advanced.
"""

import datetime as dt
import json
import os
import uuid

import pytest

from tests.support import reliability
from tests.support.control_deployment import (T0, add_destination, create, deployment, ee, log,  # noqa: F401
                                              store)
from tests.support.stores import write_store
from transforms.sources.watermark import WATERMARK_FILE, read_watermark, write_watermark

SQLITE = pytest.mark.parametrize("deployment", ["sqlite"], indirect=True)
HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)


def _ms(moment):
    return int(moment.timestamp() * 1000)


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _land(root, name, records):
    """Land one file of `records` (one capture date) the way an ingester does: written aside, then
    renamed into its folder."""
    day = dt.datetime.fromtimestamp(records[0]["captured_at"] / 1000, dt.timezone.utc).strftime("%Y-%m-%d")
    folder = f"captured_date={day}"
    staging = root.parent / f"staging-{name}"
    write_store(staging, {folder: [records]}, "parquet")
    (root / folder).mkdir(parents=True, exist_ok=True)
    os.replace(staging / folder / "part-00000.parquet", root / folder / f"part-{name}.parquet")


def _captured(rid, at):
    """A record captured at `at` (an aware datetime), whose event happened two seconds earlier."""
    return reliability.event(rid, _ms(at) - 2000, captured_at=_ms(at))


def _run(deployment, as_of):
    done = ee(deployment, "run", "--as-of", as_of.isoformat())
    assert done.returncode == 0, done.stderr
    return done


def _exported(deployment, request):
    """({key: bytes} of the request's objects, its manifests' keys), read back from the bucket."""
    files = reliability.bucket_files(deployment["server"], deployment["bucket"], "exports/")
    files = {key: data for key, data in files.items() if key.startswith(f"{request}-")}
    return files, [key for key in files if key.endswith("-manifest.json")]


def _with_store(deployment, root, **env):
    return dict(deployment, env=dict(deployment["env"], EVENTEXPORT_EVENT_STORE=str(root), **env))


@pytest.mark.slow
@SQLITE
@pytest.mark.reliability
def test_files_landing_after_the_window_are_exported_once_the_mark_passes(deployment, tmp_path):
    root = tmp_path / "late-store" / "events"
    root.mkdir(parents=True)
    live = _with_store(deployment, root)
    add_destination(live)
    request = create(live, "--type", "all_events", "--format", "json", "--frequency", "recurring", "--every", "4h")
    first, second = T0 + 4 * HOUR, T0 + 8 * HOUR          # the first two windows' ends
    on_time = [_captured(f"on-time-{n}", T0 + n * 20 * MINUTE) for n in range(11)]        # up to 03:20
    _land(root, "00000", on_time)
    write_watermark(str(root), _ms(T0 + 3 * HOUR + 50 * MINUTE))

    _run(live, first + 5 * MINUTE)
    (entry,) = log(live, "--request-id", request)
    assert entry["status"] == "Pending" and entry["attempts"] == 0
    assert entry["progress"] == (f"waiting for data up to {_iso(first)}: the store is complete before "
                                 f"{_iso(T0 + 3 * HOUR + 50 * MINUTE)}")
    assert _exported(live, request)[1] == []

    # a capture at 03:55-03:59 lands at 04:07, with the next window's first captures; the mark moves on
    late = [_captured(f"late-{n}", first - (5 - n) * MINUTE) for n in range(5)]
    next_window = [_captured(f"next-{n}", first + (n + 1) * MINUTE) for n in range(5)]
    _land(root, "00001", late + next_window)
    write_watermark(str(root), _ms(first + 10 * MINUTE))
    _run(live, first + 15 * MINUTE)
    entries = log(live, "--request-id", request)
    assert [e["status"] for e in entries] == ["Done"] and entries[0]["rows"] == len(on_time + late)

    # the second window's own late file; captures after its end wait for the third window
    tail = [_captured(f"tail-{n}", second - (10 - n) * MINUTE) for n in range(5)]
    beyond = [_captured(f"beyond-{n}", second + (n + 1) * MINUTE) for n in range(3)]
    _land(root, "00002", tail + beyond)
    _run(live, second + 5 * MINUTE)                       # the mark still says 04:10: the window waits
    assert [e["status"] for e in log(live, "--request-id", request)] == ["Done", "Pending"]
    write_watermark(str(root), _ms(second + 5 * MINUTE))
    _run(live, second + 6 * MINUTE)
    entries = log(live, "--request-id", request)
    assert [(e["status"], e["attempts"]) for e in entries] == [("Done", 1), ("Done", 1)]

    files, manifests = _exported(live, request)
    assert len(manifests) == 2
    sent = [r["event_id"] for r in on_time + late + next_window + tail]   # everything captured before 08:00
    reliability.account("late files", "recurring 4h windows, files landing up to 10 min late, mark",
                        sent, reliability.exported_ids(files))


@pytest.mark.slow
@SQLITE
@pytest.mark.reliability
def test_without_a_mark_a_window_waits_the_settle_delay(deployment, tmp_path):
    root = tmp_path / "unmarked" / "events"
    root.mkdir(parents=True)
    live = _with_store(deployment, root)
    add_destination(live)
    request = create(live, "--type", "all_events", "--format", "json", "--frequency", "recurring", "--every", "4h")
    end = T0 + 4 * HOUR
    on_time = [_captured(f"on-time-{n}", T0 + n * 30 * MINUTE) for n in range(8)]
    _land(root, "00000", on_time)
    _run(live, end + 10 * MINUTE)
    (entry,) = log(live, "--request-id", request)
    assert entry["status"] == "Pending"
    assert entry["progress"] == (f"waiting for data up to {_iso(end)}: the store has no completeness mark "
                                 f"({WATERMARK_FILE}), so the run starts 30 min after the window ends, at "
                                 f"{_iso(end + 30 * MINUTE)}")
    late = [_captured(f"late-{n}", end - (n + 1) * MINUTE) for n in range(4)]    # lands within the delay
    _land(root, "00001", late)
    _run(live, end + 30 * MINUTE)
    (entry,) = log(live, "--request-id", request)
    assert entry["status"] == "Done" and entry["attempts"] == 1
    files, manifests = _exported(live, request)
    assert len(manifests) == 1
    reliability.account("late files", "recurring window, no mark, files landing within the 30 min settle delay",
                        [r["event_id"] for r in on_time + late], reliability.exported_ids(files))


@pytest.mark.slow
@SQLITE
@pytest.mark.reliability
def test_one_time_export_reaching_past_the_mark_waits(deployment, tmp_path):
    root = tmp_path / "once" / "events"
    root.mkdir(parents=True)
    live = _with_store(deployment, root, EVENTEXPORT_SETTLE_MINUTES="0")  # a mark, when present, always rules
    add_destination(live)
    start, end = T0 - 2 * HOUR, T0 + 90 * MINUTE
    landed = [_captured(f"landed-{n}", start + (n * 10 + 1) * MINUTE) for n in range(12)]   # up to 23:51
    _land(root, "00000", landed)
    write_watermark(str(root), _ms(T0 + HOUR))
    request = create(live, "--type", "all_events", "--format", "json", "--frequency", "once",
                     "--from", start.isoformat(), "--to", end.isoformat(), now=T0 + 2 * HOUR)
    _run(live, T0 + 2 * HOUR)
    (entry,) = log(live, "--request-id", request)
    assert entry["status"] == "Pending"
    assert entry["progress"] == (f"waiting for data up to {_iso(end)}: the store is complete before "
                                 f"{_iso(T0 + HOUR)}")
    late = [_captured(f"late-{n}", T0 + HOUR + n * 5 * MINUTE) for n in range(6)]     # 01:00 to 01:25
    _land(root, "00001", late)
    write_watermark(str(root), _ms(end))
    _run(live, T0 + 2 * HOUR + MINUTE)
    (entry,) = log(live, "--request-id", request)
    assert entry["status"] == "Done" and entry["attempts"] == 1
    files, manifests = _exported(live, request)
    assert len(manifests) == 1
    reliability.account("late files", "one-time export reaching past the mark, files landing before it passes",
                        [r["event_id"] for r in landed + late], reliability.exported_ids(files))


@pytest.mark.slow
@SQLITE
@pytest.mark.reliability
def test_a_failed_run_retried_after_late_files_landed_writes_the_same_objects(deployment, tmp_path):
    """The first claim fixes the run's capture ceiling at the store's mark; the retry passes the same one,
    so captures that landed in between (in a folder the run reads) are later data, not this run's: the
    same objects, and a manifest that differs only in its count of later data."""
    root = tmp_path / "retried" / "events"
    root.mkdir(parents=True)
    live = _with_store(deployment, root)
    add_destination(live)
    start, end, mark = T0 - 2 * HOUR, T0 + 90 * MINUTE, T0 + 100 * MINUTE
    landed = [_captured(f"landed-{n}", start + (n * 10 + 1) * MINUTE) for n in range(12)]     # 11-19 folder
    early = [_captured(f"early-{n}", T0 + (n * 10 + 1) * MINUTE) for n in range(8)]          # 11-20 folder
    _land(root, "00000", landed)
    _land(root, "00001", early)
    write_watermark(str(root), _ms(mark))
    request = create(live, "--type", "all_events", "--format", "json", "--frequency", "once",
                     "--from", start.isoformat(), "--to", end.isoformat(), now=T0 + 2 * HOUR)
    blocked = tmp_path / "manifests-blocked"
    blocked.write_text("a file where our manifest folder should be: the run fails after writing the bucket")
    _run(dict(live, env=dict(live["env"], EVENTEXPORT_MANIFESTS=str(blocked))), T0 + 2 * HOUR)
    (entry,) = log(live, "--request-id", request)
    assert (entry["status"], entry["attempts"]) == ("Failed", 1), entry
    first, _ = _exported(live, request)

    # events of the window delivered late: captured at and after the ceiling, into the folder the run reads
    late = [reliability.event(f"late-{n}", _ms(T0 + 80 * MINUTE), captured_at=_ms(mark + n * MINUTE))
            for n in range(5)]
    _land(root, "00002", late)
    write_watermark(str(root), _ms(T0 + 3 * HOUR))
    _run(live, T0 + 2 * HOUR + 10 * MINUTE)
    (entry,) = log(live, "--request-id", request)
    assert (entry["status"], entry["attempts"]) == ("Done", 2), entry
    files, manifests = _exported(live, request)
    assert len(manifests) == 1 and files.keys() == first.keys()
    assert all(files[key] == first[key] for key in files if key not in manifests)   # every object the same
    retried, failed = (json.loads(found[manifests[0]]) for found in (files, first))
    counts = [manifest.pop("reconciliation") for manifest in (retried, failed)]
    assert retried == failed and retried["window"]["captured_before"] == _iso(mark)
    assert counts[1] == {"read": 20, "exported": 20, "rejected": 0, "rejected_by_reason": {}, "later": 0}
    assert counts[0] == dict(counts[1], read=25, later=5)   # only the late captures' count grew
    reliability.account("late files", "one-time export failed, retried after late captures landed: the same "
                        "objects, the ceiling fixed at first claim", [r["event_id"] for r in landed + early],
                        reliability.exported_ids(files))


def test_mark_reads_back_on_a_local_folder_and_on_s3(tmp_path, server):
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.options.pipeline_options import PipelineOptions

    assert read_watermark(str(tmp_path)) is None
    write_watermark(str(tmp_path), 1_790_000_000_123)
    assert read_watermark(str(tmp_path)) == 1_790_000_000_123
    assert [p.name for p in tmp_path.iterdir()] == [WATERMARK_FILE]
    bucket = f"store-{uuid.uuid4().hex[:10]}"
    server.admin_client().create_bucket(Bucket=bucket)
    admin = server.admin_credentials
    FileSystems.set_options(PipelineOptions([
        "--s3_endpoint_url", server.endpoint_url, "--s3_region_name", server.region,
        "--s3_access_key_id", admin.access_key_id, "--s3_secret_access_key", admin.secret_access_key]))
    try:
        assert read_watermark(f"s3://{bucket}/events") is None
        write_watermark(f"s3://{bucket}/events", 1_790_000_000_456)
        assert read_watermark(f"s3://{bucket}/events/") == 1_790_000_000_456
        body = server.admin_client().get_object(Bucket=bucket, Key=f"events/{WATERMARK_FILE}")["Body"].read()
        assert json.loads(body) == {"complete_before": 1_790_000_000_456}
    finally:
        FileSystems.set_options(None)


@pytest.mark.parametrize("text", ['{"complete_before": "soon"}', "{}", "not json", '{"complete_before": -1}'])
def test_a_broken_mark_is_an_error_naming_the_file(tmp_path, text):
    from transforms.errors import SourceError
    (tmp_path / WATERMARK_FILE).write_text(text)
    with pytest.raises(SourceError, match=f"{WATERMARK_FILE} must hold"):
        read_watermark(str(tmp_path))


END = dt.datetime(2026, 11, 20, 4, 0)       # a window's end, naive UTC as the runs table holds it


@pytest.mark.parametrize("mark, as_of, waits", [
    (_ms(END.replace(tzinfo=dt.timezone.utc)), END, None),                       # complete before the end: go
    (_ms(END.replace(tzinfo=dt.timezone.utc)) - 1, END + 5 * HOUR, "the store is complete before"),
    (None, END + 30 * MINUTE, None),                                             # settled
    (None, END + 30 * MINUTE - dt.timedelta(seconds=1), "no completeness mark"),
    ("broken", END + 5 * HOUR, "must hold"),
])
def test_when_a_run_may_start(tmp_path, mark, as_of, waits):
    from control.readiness import StoreMarks
    from control.settings import load_settings
    if mark == "broken":
        (tmp_path / WATERMARK_FILE).write_text("{}")
    elif mark is not None:
        write_watermark(str(tmp_path), mark)
    account = {"id": "default", "event_store": str(tmp_path), "profile_store": None}
    reason = StoreMarks(load_settings({}), as_of).waiting_for({"window_end": END}, account, "all_events")
    if waits is None:
        assert reason is None
    else:
        assert reason.startswith("waiting for data up to 2026-11-20T04:00:00Z: ") and waits in reason
