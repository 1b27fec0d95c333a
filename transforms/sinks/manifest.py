"""The run's manifest: written last, from what the writers reported, so its presence means "complete".

It lists every object (key, raw event name, date, index, rows, bytes, SHA-256, ETag and the ETag's kind),
the rejects (their count, objects and the first reason, as a sample), per-event and run totals, the
window and the run's reconciliation (reconciliation.py). Its bytes depend only on the run and the store
it read, never on a clock or on arrival order: only the count of later data can grow when a retry finds
more records captured after the ceiling in the folders it reads.
"""

import collections
import json

from transforms.errors import GroupingError

__all__ = ["build_manifest", "summarize", "check_objects"]


def check_objects(objects):
    """Fail loudly unless each (event, date) came from one writer: every key once, and the file indexes
    0, 1, ..., n-1 once each. Two groups of one (event, date) (a runner that split a key) both start at
    index 0000, so either of these shows it; writing a manifest over such a run would hide lost rows."""
    keys = collections.Counter(o["key"] for o in objects)
    twice = sorted(key for key, count in keys.items() if count > 1)
    if twice:
        names = sorted({o["event_name"] for o in objects if o["key"] == twice[0]})
        if len(names) > 1:   # naming.py makes this a SHA-256 collision: not a fault a rerun can cure
            raise GroupingError(f"object key {twice[0]!r} was written for {len(names)} event names "
                                f"({', '.join(map(repr, names))}): the names share a key part, which naming.py "
                                "rules out; report it as a bug, and meanwhile export these events in separate "
                                "runs (--export_type select_events)")
        raise GroupingError(f"object key {twice[0]!r} was written by {keys[twice[0]]} writers "
                            f"({len(twice)} keys in all): the runner split one (event, date) group; rerun "
                            "with the same --run_timestamp")
    indexes = collections.defaultdict(list)
    for item in objects:
        indexes[(item["event_name"], item["date"])].append(item["index"])
    for (name, date), found in sorted(indexes.items()):
        if sorted(found) != list(range(len(found))):
            raise GroupingError(f"event {name!r} on {date} reached the manifest from more than one group "
                                f"(file indexes {sorted(found)}); rerun with the same --run_timestamp")


def summarize(objects):
    """{event name: {"objects", "rows", "bytes"}} in name order."""
    per_event = {}
    for item in objects:
        totals = per_event.setdefault(item["event_name"], {"objects": 0, "rows": 0, "bytes": 0})
        totals["objects"] += 1
        totals["rows"] += item["rows"]
        totals["bytes"] += item["bytes"]
    return dict(sorted(per_event.items()))


def build_manifest(run, objects, rejects, reconciliation):
    """`run`: request/run ids, format, window...; `objects`, `rejects`: dicts the writers yielded;
    `reconciliation`: what reconciliation.reconcile made of them."""
    objects = sorted(objects, key=lambda o: (o["event_name"], o["date"], o["index"]))
    rejects = sorted(rejects, key=lambda o: o["index"])
    sample = rejects[0]["sample"] if rejects else None
    rejects = [{k: v for k, v in o.items() if k not in ("sample", "reasons")} for o in rejects]
    document = dict(run)
    document["objects"] = objects
    document["event_totals"] = summarize(objects)
    document["totals"] = {
        "objects": len(objects),
        "rows": sum(o["rows"] for o in objects),
        "bytes": sum(o["bytes"] for o in objects),
    }
    document["rejects"] = {"rows": sum(o["rows"] for o in rejects), "objects": rejects, "sample": sample}
    document["reconciliation"] = reconciliation
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
