"""A run's reconciliation: every record read for its window is exported, rejected or left to later runs.

The counts travel with the data, never through Beam metrics (which some runners drop, and others count
once per attempt of a retried bundle): each store file's reader sends what it judged ("read") and what
the capture ceiling left out ("later") as an element, and so does each file of a folder that starts at
or after the ceiling, only counted (its records of the window are read and later alike:
transforms/sources/later_data.py), beside the descriptors of the objects and rejects objects, whose rows
are what the writers wrote. The manifest step, which sees all of them, checks

    read = exported + rejected + later (+ superseded, for profiles)

before it writes the manifest, and fails the run when it does not hold (docs/contracts.md defines each
count). A profile store holds every version of a profile; the export keeps each identity's newest, so
`superseded` is the rest: the rows the readers passed on less the rows exported.
"""

import collections

from transforms.errors import ReconciliationError

__all__ = ["reconcile", "check_counts"]


def reconcile(kind, counts, objects, rejects):
    """The reconciliation of a run of `kind` ("events" | "profiles") from its readers' `counts` (dicts of
    read, later and rows passed on) and its writers' descriptors; raise ReconciliationError if it fails."""
    totals = collections.Counter()
    for item in counts:
        totals.update(item)
    by_reason = collections.Counter()
    for item in rejects:
        by_reason.update(item.get("reasons") or {})
    exported = sum(item["rows"] for item in objects)
    document = {
        "read": totals["read"],
        "exported": exported,
        "rejected": sum(item["rows"] for item in rejects),
        "rejected_by_reason": dict(sorted(by_reason.items())),
        "later": totals["later"],
    }
    if kind == "profiles":
        document["superseded"] = totals["rows"] - exported
    check_counts(document)
    return document


def check_counts(document):
    """Raise ReconciliationError unless the counts of a reconciliation `document` add up."""
    read, exported, rejected, later = (document[k] for k in ("read", "exported", "rejected", "later"))
    superseded = document.get("superseded", 0)
    problems = []
    accounted = exported + rejected + later + superseded
    if read != accounted:
        parts = f"{exported:,} exported + {rejected:,} rejected + {later:,} later"
        if "superseded" in document:
            parts += f" + {superseded:,} superseded"
        problems.append(f"{read:,} records were read for the window but {parts} = {accounted:,} "
                        f"({accounted - read:+,})")
    if sum(document["rejected_by_reason"].values()) != rejected:
        problems.append(f"the rejects by reason add up to {sum(document['rejected_by_reason'].values()):,}, "
                        f"not {rejected:,}")
    if superseded < 0:
        problems.append(f"{-superseded:,} more profiles were exported than the readers passed on")
    if problems:
        raise ReconciliationError(
            "the run's counts do not add up: " + "; ".join(problems) + ". Records were lost or duplicated "
            "between the store and the objects, so no manifest was written and the run is not Done; rerun it "
            "with the same --run_timestamp (it rewrites the same objects), and report it with the runner's "
            "name if it happens again")
