"""How the console's templates show numbers, sizes and times."""

import re

__all__ = ["FILTERS"]

# the pipeline's progress line (transforms/runtime/progress.py)
_PROGRESS = re.compile(r"progress: ([\d,]+) rows read \(([\d,]+)/s\), ([\d,]+) written \(([\d,]+)/s\) in "
                       r"([\d,]+) objects, ([\d,.]+) MB")


def human_bytes(value):
    if value is None:
        return "—"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def count(value):
    return "—" if value is None else f"{value:,}"


def when(value):
    """'2026-11-29T17:20:00Z' (or a datetime) -> '2026-11-29 17:20'."""
    if value is None:
        return "—"
    text = value if isinstance(value, str) else value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return text.replace("T", " ")[:16]


def progress(value):
    return (value or "").removeprefix("progress: ")


def progress_facts(value):
    """A progress line's figures ({rows_read, read_rate, rows_written, write_rate, objects, mb}), or None."""
    found = _PROGRESS.match(value or "")
    if not found:
        return None
    names = ("rows_read", "read_rate", "rows_written", "write_rate", "objects", "mb")
    return dict(zip(names, found.groups()))


FILTERS = {"human_bytes": human_bytes, "count": count, "when": when, "progress": progress,
           "progress_facts": progress_facts}
