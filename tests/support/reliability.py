"""The reliability table: every fault a test tried, with each input record accounted for.

A test marked `@pytest.mark.reliability` breaks something (late files, a kill, an S3 fault, a corrupt
file, bad records, records crafted as a hostile sender would, a bucket whose ETags are not MD5s), lets
the export finish or be rerun, reads back what the destination holds with the independent readers of
tests/support/readers.py, and calls `account(...)`: it counts every input record as
exported (exactly once), rejected (with a reason) or lost, records the case, and fails the test on a
loss, a duplicate or a row nobody wrote. The figures are counted from the bytes read back, never taken
from the exporter's own summary or manifest. `pytest_terminal_summary` in tests/conftest.py prints the
table whenever a case was recorded; `make reliability` runs only these tests. Under pytest-xdist a
worker's cases travel to the table on its tests' reports (`drain` there, `receive` where they arrive).

Record ids: a test gives each input record an id `rid:<text>` and puts it in its `event_props` under
`ID_PROP` (so every output format shows it) and in its `event_id`; a reject carries the record's text,
where `RID` finds it again.
"""

import dataclasses
import gzip
import json
import os
import re
from collections import Counter
from pathlib import Path

__all__ = ["KINDS", "ID_PROP", "RID", "event", "record", "drain", "receive", "account", "account_export", "cases", "table", "folder_files",
           "bucket_files", "exported_ids", "rejected", "rejected_ids"]

KINDS = ("late files", "kills", "S3 faults", "corrupt files", "bad records", "crafted records", "verification")
ID_PROP = "rid"
RID = re.compile(r"rid:[A-Za-z0-9_.~-]+")
_REJECTS = re.compile(r"-rejects-\d{4}\.jsonl\.gz$")
_MANIFEST = "-manifest.json"


@dataclasses.dataclass(frozen=True)
class Case:
    kind: str
    case: str
    exported: int
    rejected: int
    lost: int


_CASES = []
_DRAINED = [0]   # how many of _CASES a worker has put on reports already


def event(rid, at, captured_at=None, name="Reliable", **fields):
    """A store record (stores.write_store's shape) carrying `rid` ('rid:' added) as its id, happening at
    `at` (epoch ms) and captured a second later unless `captured_at` says otherwise; `fields` replace any
    of its columns (a value of ... leaves the column out, for deliberately bad records)."""
    rid = rid if rid.startswith("rid:") else f"rid:{rid}"
    record = {"event_id": rid, "event_name": name, "event_time": at,
              "captured_at": at + 1000 if captured_at is None else captured_at,
              "profile": {"identity": rid}, "device_info": {}, "event_props": {ID_PROP: rid}}
    record.update(fields)
    return {key: value for key, value in record.items() if value is not ...}


def record(kind, case, exported, rejected, lost):
    """Add one row to the table; `kind` is one of KINDS."""
    if kind not in KINDS:
        raise ValueError(f"reliability kind {kind!r} is not one of {', '.join(KINDS)}")
    _CASES.append(Case(kind, case, int(exported), int(rejected), int(lost)))
    return _CASES[-1]


def drain():
    """The cases recorded since the last call, as plain tuples a test report can carry."""
    rows = [dataclasses.astuple(case) for case in _CASES[_DRAINED[0]:]]
    _DRAINED[0] = len(_CASES)
    return rows


def receive(rows):
    _CASES.extend(Case(*row) for row in rows)


def cases():
    return list(_CASES)


def account(kind, case, sent, exported, rejected=()):
    """Record the case from ids: `sent` the input records' ids (each once), `exported` every id read back
    from the data objects (duplicates kept), `rejected` every id read back from the rejects objects.
    Then assert that none is lost, none duplicated and none came from nowhere; return the Case."""
    sent = Counter(sent)
    assert all(n == 1 for n in sent.values()), "input ids must be unique"
    out, bad = Counter(exported), Counter(rejected)
    lost = sorted(set(sent) - set(out) - set(bad))
    recorded = record(kind, case, sum(out.values()), sum(bad.values()), len(lost))
    doubled = sorted(i for i in set(out) | set(bad) if out[i] + bad[i] > 1)
    strangers = sorted((set(out) | set(bad)) - set(sent))
    assert not lost, f"{case}: {len(lost)} record(s) lost, e.g. {lost[:5]}"
    assert not doubled, f"{case}: {len(doubled)} record(s) written more than once, e.g. {doubled[:5]}"
    assert not strangers, f"{case}: {len(strangers)} record(s) that were never sent, e.g. {strangers[:5]}"
    return recorded


def account_export(kind, case, files, calm, sent, same_manifest=True):
    """A faulted run's destination `files` against `calm` (the files of the same export run without a
    fault): the same names, every data and rejects object byte for byte (the manifest too when
    `same_manifest`; an S3 manifest differs from a local one in its ETags), then `account` the records."""
    assert sorted(files) == sorted(calm)
    differ = {name for name in calm if files[name] != calm[name]}
    assert differ <= (set() if same_manifest else {name for name in calm if name.endswith(_MANIFEST)}), differ
    return account(kind, case, sent, exported_ids(files), rejected_ids(files))


def table(rows=None):
    """The cases as a fixed-width text table, grouped in KINDS order, with a total line per kind."""
    rows = _CASES if rows is None else rows
    header = ("kind", "case", "exported", "rejected", "lost")
    lines = []
    for kind in KINDS:
        mine = [r for r in rows if r.kind == kind]
        if not mine:
            continue
        lines += [(kind, r.case, r.exported, r.rejected, r.lost) for r in mine]
        lines.append((kind, f"= {len(mine)} tried", sum(r.exported for r in mine), sum(r.rejected for r in mine),
                      sum(r.lost for r in mine)))
    widths = [max(len(str(line[i])) for line in [header] + lines) for i in range(5)]
    def show(line):
        return "  ".join(str(v).ljust(w) if i < 2 else str(v).rjust(w) for i, (v, w) in enumerate(zip(line, widths)))
    rule = "  ".join("-" * w for w in widths)
    return "\n".join([show(header), rule] + [show(line) for line in lines])


# ------------------------------------------------------------------------------------------ reading back

def folder_files(folder):
    """{name: bytes} of every visible file in a local destination folder (hidden files are not objects)."""
    folder = Path(folder)
    if not folder.exists():
        return {}
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder)) if not name.startswith(".")}


def bucket_files(server, bucket, prefix=""):
    """{key without prefix: bytes} of every object under `prefix`, read with the server's admin key."""
    admin = server.admin_client()
    pages = admin.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    return {key[len(prefix):]: admin.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


def _row_ids(fmt, data):
    from tests.support.readers import read_object
    _, rows = read_object(data, fmt)
    if fmt == "json":
        return [dict(row)["eventProps"][ID_PROP] for row in rows]
    if fmt == "xml":
        return [value for row in rows for name, entries in row if name == "eventProps"
                for key, value in entries if key == ID_PROP]
    if fmt == "csv":
        column = rows[0].index(f"eventProps.{ID_PROP}")
        return [row[column] for row in rows[1:]]
    if fmt == "parquet":
        return [row["eventProps"][ID_PROP] for row in rows.to_pylist()]
    if fmt == "avro":
        return [row["eventProps"][ID_PROP] for row in rows[1]]
    raise ValueError(fmt)


def exported_ids(files, fmt="json"):
    """Every record id in the data objects of `files` ({name: bytes}), read with independent readers."""
    return [rid for name, data in sorted(files.items())
            if not name.endswith(_MANIFEST) and not _REJECTS.search(name) for rid in _row_ids(fmt, data)]


def rejected(files):
    """Every reject (dict with source, reason, record) in the rejects objects of `files`."""
    return [json.loads(line) for name, data in sorted(files.items()) if _REJECTS.search(name)
            for line in gzip.decompress(data).decode("utf-8").splitlines()]


def rejected_ids(files):
    """The record id in each reject's record text (asserting each reject gives a reason and one id)."""
    ids = []
    for item in rejected(files):
        assert item["reason"], item
        found = set(RID.findall(item["record"]))
        assert len(found) == 1, f"a reject without exactly one record id: {item}"
        ids += found
    return ids
