"""How the console's templates show numbers, sizes and times."""

__all__ = ["FILTERS"]


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


FILTERS = {"human_bytes": human_bytes, "count": count, "when": when, "progress": progress}
