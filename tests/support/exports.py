"""Running the exporter with the suite's ids, and checking everything a run promises about its objects.

Exports run in-process through `pipelines.export.run(argv)`; tests that need the command line start
the module as a subprocess from REPO. `verify_export` is the oracle most export tests end with: the
objects read back by the independent readers (readers.py) against what the contracts say they must
hold (expected.py).
"""

import hashlib
import json
import os
from collections import defaultdict
from pathlib import Path

from tests.support.expected import (DATABASE_ID, MAX_BASENAME, REQUEST_ID, RUN_TS, SHAPES, check_name_part,
                                    expected_avro, expected_csv, expected_groups, expected_json, expected_parquet,
                                    expected_xml, key_regex, manifest_name)
from tests.support.readers import read_object

__all__ = ["REPO", "export", "export_ok", "load_manifest", "folder_bytes", "assert_file_rows", "verify_export"]

REPO = Path(__file__).resolve().parents[2]


def export(source, dest, fmt="json", start=None, end=None, *extra):
    """`pipelines.export.run` with this suite's ids; returns (status, text)."""
    from pipelines.export import run
    argv = ["--source", str(source), "--destination", str(dest), "--format", fmt, "--request_id", REQUEST_ID,
            "--run_timestamp", RUN_TS, "--database_id", DATABASE_ID]
    if start is not None:
        argv += ["--start", start]
    if end is not None:
        argv += ["--end", end]
    return run(argv + [str(e) for e in extra])


def export_ok(source, dest, fmt="json", start=None, end=None, *extra):
    status, text = export(source, dest, fmt, start, end, *extra)
    assert status == 0, text
    return Path(dest)


def load_manifest(dest):
    return json.loads((Path(dest) / manifest_name()).read_text(encoding="utf-8"))


def folder_bytes(dest):
    dest = Path(dest)
    return {name: (dest / name).read_bytes() for name in sorted(os.listdir(dest))}


def assert_file_rows(fmt, data, name, recs, kind="events"):
    """The object `data` holds exactly `recs` (logical output records, in order), as `fmt` shows them."""
    got_name, got = read_object(data, fmt, kind)
    if fmt == "json":
        assert got_name == name
        assert got == [expected_json(r, kind) for r in recs]
    elif fmt == "xml":
        assert got == [expected_xml(r, kind) for r in recs]
    elif fmt == "csv":
        header, rows = expected_csv(recs, kind)
        assert got[0] == header
        assert got[1:] == rows
    elif fmt == "parquet":
        fields, rows = expected_parquet(recs, kind)
        assert list(got.schema) == fields
        assert got.to_pylist() == rows
    elif fmt == "avro":
        schema, rows = got
        assert [f["name"] for f in schema["fields"]] == [n for n, _ in SHAPES[kind]["fields"]]
        assert rows == [expected_avro(r, kind) for r in recs]
    return got


def verify_export(dest, fmt, records, kind="events", max_file_bytes=None, rejects=0):
    """Everything DESIGN.md promises about one run's objects, for `records` (the store rows in the window).

    Returns the manifest. Checks: the folder holds exactly the manifest's objects (and rejects); each key
    follows the template; bytes and SHA-256 match; indices are contiguous from 0000 per (name, date);
    every file is within the limit; the rows, concatenated over shards, are exactly the expected rows in
    (time, id) order, each file shown as its format says; the totals add up.
    """
    dest = Path(dest)
    manifest = load_manifest(dest)
    assert manifest["request_id"] == REQUEST_ID and manifest["run_timestamp"] == RUN_TS
    assert manifest["database_id"] == DATABASE_ID and manifest["format"] == fmt
    objects = manifest["objects"]
    reject_objects = manifest["rejects"]["objects"]
    assert manifest["rejects"]["rows"] == rejects
    on_disk = sorted(os.listdir(dest))
    assert on_disk == sorted([manifest_name()] + [o["key"] for o in objects] + [o["key"] for o in reject_objects])
    pattern = key_regex(fmt)
    groups = expected_groups(records, kind)
    by_group = defaultdict(list)
    for item in objects:
        found = pattern.fullmatch(item["key"])
        assert found, item["key"]
        assert len(item["key"].encode()) <= MAX_BASENAME
        assert (found["date"], int(found["index"])) == (item["date"], item["index"])
        check_name_part(item["event_name"], found["name"], fmt, item["date"])
        data = (dest / item["key"]).read_bytes()
        assert item["bytes"] == len(data)
        assert item["sha256"] == hashlib.sha256(data).hexdigest()
        if max_file_bytes is not None:
            assert len(data) <= max_file_bytes
        by_group[(item["event_name"], item["date"])].append((item, data))
    assert sorted(by_group) == sorted(groups)
    for group, items in by_group.items():
        items.sort(key=lambda pair: pair[0]["index"])
        assert [item["index"] for item, _ in items] == list(range(len(items))), group
        want, offset = groups[group], 0
        for item, data in items:
            assert item["rows"] >= 1
            assert_file_rows(fmt, data, group[0], want[offset:offset + item["rows"]], kind)
            offset += item["rows"]
        assert offset == len(want), group
    assert len({o["key"] for o in objects}) == len(objects)
    assert manifest["totals"] == {"objects": len(objects), "rows": sum(len(v) for v in groups.values()),
                                  "bytes": sum(o["bytes"] for o in objects)}
    summary = defaultdict(lambda: {"objects": 0, "rows": 0, "bytes": 0})
    for o in objects:
        for k, v in (("objects", 1), ("rows", o["rows"]), ("bytes", o["bytes"])):
            summary[o["event_name"]][k] += v
    assert manifest["event_totals"] == dict(summary)
    return manifest
