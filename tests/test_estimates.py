"""Estimates (control/estimates/) against what real exports of the same store give, in every format.

The store is the session's generated one (hostile names, 3 days); the oracle is the export's own manifest.
Rows are counted from Parquet columns, so they match exactly; bytes come from a sample and carry an error
bar, which the real export must fall within. The same store on the platform's S3 gives the same estimate.
"""

import datetime as dt
from pathlib import Path

import pytest
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from control import estimates
from control.estimates import estimate
from tests.support.exports import export_ok, load_manifest
from tests.support.s3_worlds import local_store, platform  # noqa: F401 (fixtures)
from tests.support.stores import GEN_END, GEN_START, in_window, layout_by_time, write_store
from transforms.sources.window import parse_instant

WINDOW = {"window_from": parse_instant(GEN_START, "start"), "window_to": parse_instant(GEN_END, "end")}


def _estimate(store, fmt="json", **settings):
    return estimate(str(store), **dict({"export_type": "all_events", "format": fmt, "frequency": "once"},
                                       **WINDOW, **settings))


@pytest.mark.parametrize("fmt", ["json", "xml", "csv", "parquet", "avro"])
def test_an_estimate_matches_the_real_export(generated, tmp_path, fmt):
    store, _ = generated
    manifest = load_manifest(export_ok(store, tmp_path, fmt, GEN_START, GEN_END))
    guess = _estimate(store, fmt)
    real = manifest["event_totals"]
    assert {e["event_name"]: e["rows"] for e in guess["events"]} == {n: t["rows"] for n, t in real.items()}
    assert guess["objects"] == manifest["totals"]["objects"]
    for item in guess["events"]:   # each name's bytes within its own error bar
        assert abs(item["bytes"] / real[item["event_name"]]["bytes"] - 1) <= item["bytes_error"], item
    assert abs(guess["bytes"] / manifest["totals"]["bytes"] - 1) <= guess["bytes_error"]


def test_selected_names_the_store_lacks_are_named(generated):
    store, records = generated
    guess = _estimate(store, export_type="select_events", events=["App Launched", "No Such Event"])
    expected = sum(1 for r in in_window(records, GEN_START, GEN_END) if r["event_name"] == "App Launched")
    assert [(e["event_name"], e["rows"]) for e in guess["events"]] == [("App Launched", expected)]
    assert guess["missing_events"] == ["No Such Event"]


def test_a_store_without_footers_is_read_whole_when_small_and_scaled_when_large(generated, tmp_path,
                                                                                monkeypatch):
    """The same records as JSON Lines: read whole; then, as if large, scaled by size from one file per suffix."""
    _, records = generated
    store = write_store(tmp_path / "jsonl", layout_by_time(records), "jsonl")
    exact = len(in_window(records, GEN_START, GEN_END))
    small = _estimate(store)
    assert small["rows"] == exact and small["basis"]["files_scaled"] == 0 and small["rows_error"] == 0.01
    monkeypatch.setattr(estimates, "READ_WHOLE_BYTES", 0)
    large = _estimate(store)
    assert large["basis"]["files_scaled"] == large["basis"]["files"] > 1
    assert abs(large["rows"] / exact - 1) <= large["rows_error"]


def test_a_store_on_the_platforms_s3_gives_the_same_estimate(platform, local_store):  # noqa: F811
    local = _estimate(local_store / "events", "parquet")
    FileSystems.set_options(PipelineOptions(platform.beam_options()))
    try:
        remote = _estimate(platform.store("events"), "parquet")
    finally:
        FileSystems.set_options(PipelineOptions([]))
    assert remote == local and local["basis"]["files_counted"] > 0 and local["rows"] > 0


def test_a_recurring_export_is_estimated_per_run(generated):
    store, records = generated
    now = dt.datetime(2024, 3, 11, tzinfo=dt.timezone.utc)   # the generated store's days are the 7 before
    guess = estimate(store, export_type="all_events", format="json", frequency="recurring", every="6h", now=now)
    captured = sum(1 for r in records if r["captured_at"] < now.timestamp() * 1000)
    assert guess["per"] == "run (every 6h)" and guess["window"]["time_basis"] == "capture"
    assert guess["rows"] == pytest.approx(captured * 6 / (7 * 24), abs=len({r["event_name"] for r in records}))


def test_a_profile_export_is_estimated_one_row_per_identity(generated, tmp_path):
    profiles = str(Path(generated[0]).parent / "profiles")
    manifest = load_manifest(export_ok(profiles, tmp_path, "json", GEN_START, GEN_END, "--export_type", "all_profiles",
                                       "--time_basis", "capture"))
    guess = estimate(profiles, export_type="all_profiles", format="json", frequency="once", **WINDOW)
    assert manifest["reconciliation"]["superseded"] > 0   # older versions, which the estimate does not count
    assert (guess["rows"], guess["objects"]) == (manifest["totals"]["rows"], manifest["totals"]["objects"])
    assert abs(guess["bytes"] / manifest["totals"]["bytes"] - 1) <= guess["bytes_error"]
