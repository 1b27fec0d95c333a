"""Event and profile stores the tests build themselves, per the event store contract (docs/contracts.md).

Stores are written with pyarrow (Parquet), fastavro (Avro) and gzip (JSON Lines), never the exporter's
code, so every input row is known. Also here: reading a store file back as stored, the hand-written
store (every row known: hostile names and values, window edges, late and skewed captures) and the
window of the generated store (devtools.generate) the session fixtures build.
"""

import datetime as dt
import gzip
import json
from collections import defaultdict
from pathlib import Path

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["UTC", "ms", "utc_of", "EVENT_COLUMNS", "PROFILE_COLUMNS", "STORE_EXT", "write_store", "layout_by_time",
           "read_store_file", "read_generated_events", "in_window", "HAND_START", "HAND_END", "HOSTILE_NAMES",
           "HOSTILE_PROPS", "HOSTILE_KEYS", "HAND_PROFILES", "HAND_DEVICES", "HAND_RECORDS", "N_LONG", "N_LONG2",
           "N_JP", "N_FIT", "N_CUT", "GEN_END_DATE", "GEN_START", "GEN_END"]

UTC = dt.timezone.utc


def ms(text):
    """ISO-8601 instant ('Z' or no offset = UTC) -> epoch milliseconds."""
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return round(value.timestamp() * 1000)


def utc_of(millis):
    return dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(milliseconds=millis)



# ----------------------------------------------------------------------------------------------------------
# writing stores per the event store contract

EVENT_COLUMNS = (("event_id", "string"), ("event_name", "string"), ("event_time", "long"),
                 ("captured_at", "long"), ("profile", "json"), ("device_info", "json"), ("event_props", "json"))
PROFILE_COLUMNS = (("identity", "string"), ("object_id", "string"), ("updated_at", "long"), ("properties", "json"))


def _json_text(value):
    # Deliberately not the exporter's compact style: spaces and \u escapes, so JSON output splicing shows.
    if value is None or isinstance(value, str):
        return value   # a str is already raw text (used for deliberately bad values)
    return json.dumps(value)


def _write_file(path, fmt, columns, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        arrays = {name: pa.array([None if r is None else (r.get(name) if kind == "long" else
                                                         _json_text(r.get(name)) if kind == "json" else r.get(name))
                                  for r in records], pa.int64() if kind == "long" else pa.string())
                  for name, kind in columns}
        pq.write_table(pa.table(arrays), path, compression="snappy")
    elif fmt == "avro":
        schema = fastavro.parse_schema({"type": "record", "name": "Event", "fields": [
            {"name": name, "type": ["null", "long" if kind == "long" else "string"]} for name, kind in columns]})
        rows = [{name: (_json_text(r.get(name)) if kind == "json" else r.get(name)) for name, kind in columns}
                for r in records]
        with open(path, "wb") as out:
            fastavro.writer(out, schema, rows, codec="deflate", sync_marker=b"0123456789abcdef")
    elif fmt == "jsonl":
        lines = []
        for r in records:
            if isinstance(r, str):     # a raw line, e.g. one that is not JSON at all
                lines.append(r)
            else:
                lines.append(json.dumps({k: v for k, v in r.items() if not k.startswith("_")}, ensure_ascii=False))
        data = ("\n".join(lines) + "\n").encode("utf-8")
        if path.name.endswith(".gz"):
            data = gzip.compress(data, mtime=0)
        path.write_bytes(data)
    else:
        raise ValueError(fmt)


STORE_EXT = {"parquet": ".parquet", "avro": ".avro", "jsonl": ".jsonl.gz"}


def write_store(root, layout, fmt, kind="events"):
    """`layout`: {relative folder: [[records of part 0], [records of part 1], ...]}; returns root as str.

    JSON Lines parts 00001 are plain `.jsonl`, the others `.jsonl.gz`: the contract allows both."""
    columns = EVENT_COLUMNS if kind == "events" else PROFILE_COLUMNS
    root = Path(root)
    for folder, parts in layout.items():
        for number, records in enumerate(parts):
            ext = ".jsonl" if fmt == "jsonl" and number == 1 else STORE_EXT[fmt]
            _write_file(root / folder / f"part-{number:05d}{ext}", fmt, columns, records)
    return str(root)


def layout_by_time(records, column="captured_at", folder="captured_date", parts=2):
    """Records -> {folder=YYYY-MM-DD: parts}: rows dealt round-robin into `parts` files in reverse order,
    so the store order is never the export order. A record's `_folder` overrides its folder."""
    by_folder = defaultdict(list)
    for record in records:
        name = record.get("_folder") or f"{folder}={utc_of(record[column]).strftime('%Y-%m-%d')}"
        by_folder[name].append(record)
    layout = {}
    for name, rows in sorted(by_folder.items()):
        rows = rows[::-1]
        layout[name] = [p for p in (rows[i::parts] for i in range(parts)) if p]
    return layout


def read_store_file(path):
    """One store file's records as stored (map columns are JSON text in Parquet and Avro), read with
    pyarrow/fastavro/gzip, not the exporter's readers."""
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    if path.suffix == ".avro":
        with open(path, "rb") as fo:
            return list(fastavro.reader(fo))
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def read_generated_events(root):
    """The rows of a generated store, map columns decoded."""
    rows = []
    for path in sorted(Path(root).glob("captured_date=*/*")):
        part = read_store_file(path)
        for row in part:
            for key in ("profile", "device_info", "event_props"):
                if isinstance(row[key], str):
                    row[key] = json.loads(row[key])
        rows += part
    return rows


def in_window(records, start, end, column="event_time"):
    low, high = ms(start), ms(end)
    return [r for r in records if low <= r[column] < high]


# ----------------------------------------------------------------------------------------------------------
# the hand-written event store: every row known, hostile names and values, edge times

HAND_START, HAND_END = "2024-03-05T00:00:00Z", "2024-03-08T00:00:00Z"

N_LONG = ("Very long event name " * 10)[:200]
N_LONG2 = N_LONG[:-1] + "!"                      # differs only past the cut: keys must still differ
N_JP = "日本語のイベント名" * 12                   # 108 characters, 324 bytes, every byte escaped
# "req-7.a_b~c-20240311000000-" + name + "-yyyymmdd-0000-db1.json.gz" is 53 + len(name) bytes
N_FIT = "Fits" + "f" * 198                       # a .json.gz basename of exactly 255 bytes: untouched
N_CUT = "Cuts" + "c" * 199                       # one byte more: cut, with the digest
HOSTILE_NAMES = ("Sign Up Completed", "checkout/step-2", "pre-order-placed", 'User\'s "Quote" Event', "🎉 Party",
                 "Items, Bought", N_LONG, N_LONG2, N_JP, "a<b>&c%d+e=f?g#h", "tab\tname\nnewline", N_FIT, N_CUT)

HOSTILE_PROPS = {
    "multi line": "line1\nline2\r\nline3\rend",
    "csv.like": 'a,b,"c",d',
    "html": "<script>alert('x')</script> & <b>bold</b> > 1 ]]> &amp;",
    "tab\tkey": "a\tb",
    "control": "x\x01y\x1fz\x00w\x0b\x0c\x08",
    "nonchar": "a\uffffb\ufffec",
    "big.blob": ("3KB payload éü🙂 " * 200)[:3072],
    "unicode": "naïve café 日本語 Ωmega 🚀 \u2028\u2029 \x7f\x85 \ufeff",
    "key with spaces.and.dots": 1.5,
    "a,b": "comma key",
    "<&>\"'": "markup key",
    "padded": "  two spaces  ",
    "empty": "",
    "null value": None,
    "flag": True,
    "count": -7,
}

# Profile and device keys XML cannot (or must not) write as element names: each must come out as an entry.
HOSTILE_KEYS = {"first name": "space", "1st": "digit first", "a:b": "colon", "xmlFoo": "reserved", "XML": "reserved",
                "🎉": "emoji", "": "empty key", "<": "markup", "entry": "the entry tag", "email ": "trailing space",
                "-dash": "dash first", "tab\tkey": "tab", "&amp;": "entity-like"}

HAND_PROFILES = [
    {"identity": "1000001", "objectId": "__g01", "email": "priya.sharma@example.com", "name": "Priya Sharma",
     "platform": "Android", "phone": "+919800000001"},
    {"identity": "1000002", "objectId": "__g02", "email": "o'brien@example.com", "name": 'Seán O\'Brien, "Jr"',
     "platform": "iOS"},
    {"identity": "web-3", "objectId": "__g03", "email": None, "name": "<b>Zoë</b> & co\r\n", "platform": "Web",
     "score": 7, "vip": False, **HOSTILE_KEYS},
]
HAND_DEVICES = [{"make": "samsung", "model": "SM-S918B", "os_version": "14", "sdk_version": "7.0.1"},
                {"browser": "Chrome", "os_version": "Windows 10", "screen size": "13\"", "2nd": 2, "é": "e-acute",
                 "ǅ": "fifth-edition only", "XmlHttp": "x"}, {}, None]


def _hand_records():
    specs = []  # (name, event_time, captured_at, props, device index)

    def add(name, event_time, props, device=0, lag_ms=2_500, captured=None):
        t = ms(event_time)
        specs.append((name, t, ms(captured) if captured else t + lag_ms, props, device))

    for day in ("05", "06", "07"):
        for hour, located in ((1, True), (9, False), (18, True), (23, True)):
            add("App Launched", f"2024-03-{day}T{hour:02d}:{day}:17.250Z",
                {"ct_source": "Mobile", "ct_latitude": 12.9716 if located else None,
                 "ct_longitude": 77.5946 if located else None, "ct_app_version": "5.12.1"}, device=hour % 3)
    # window edges: start is inclusive, end exclusive; ms are truncated in ts
    add("App Launched", "2024-03-05T00:00:00.000Z", {"edge": "start"})
    add("App Launched", "2024-03-07T23:59:59.999Z", {"edge": "last ms"})
    add("App Launched", "2024-03-04T23:59:59.999Z", {"edge": "before start"})
    add("App Launched", "2024-03-08T00:00:00.000Z", {"edge": "end"})
    add("App Launched", "2024-03-01T10:00:00Z", {"edge": "long before"})
    # delivered two days late (captured_date=2024-03-08), and captured before it happened (clock skew)
    add("Search", "2024-03-06T09:00:00Z", {"query": "late", "Results count": 3}, captured="2024-03-08T12:00:00Z")
    add("Search", "2024-03-05T00:03:00Z", {"query": "skew", "Results count": 0}, captured="2024-03-04T23:58:00Z")
    # ties on event time: ordered by event_id
    for query in ("tie one", "tie two", "tie three"):
        add("Search", "2024-03-06T12:00:00Z", {"query": query, "Results count": 1})
    # a key's values: int and float -> double; mixed types -> string; bools; all null; missing keys
    add("Charged", "2024-03-06T10:00:00Z", {"Amount": 19.99, "Items": 2, "Coupon": None, "mixed": "x", "ok": True,
                                            "onlynull": None, "Currency": "INR"}, device=3)
    add("Charged", "2024-03-06T11:00:00Z", {"Amount": 5, "Items": 1, "Coupon": "SAVE10", "mixed": 3, "ok": False,
                                            "onlynull": None}, device=2)
    add("Charged", "2024-03-06T13:00:00Z", {"Amount": 120, "Items": 3, "mixed": False}, device=1)
    # server-side events: no device info, no properties
    add("App Uninstalled", "2024-03-07T05:00:00Z", {}, device=2)
    add("App Uninstalled", "2024-03-07T06:00:00Z", {}, device=3)
    for number, name in enumerate(HOSTILE_NAMES):
        add(name, f"2024-03-0{5 + number % 3}T{number + 2:02d}:30:00Z", HOSTILE_PROPS, device=number % 4)
    records = []
    for number, (name, t, captured, props, device) in enumerate(specs):
        records.append({
            # ids run against time order, so sorting by (time, id) is visible
            "event_id": f"ev-{len(specs) - number:03d}", "event_name": name, "event_time": t,
            "captured_at": captured, "profile": HAND_PROFILES[number % 3],
            "device_info": HAND_DEVICES[device], "event_props": props,
        })
    return records


HAND_RECORDS = _hand_records()


# ----------------------------------------------------------------------------------------------------------
# the generated store's window (the `generated` fixture of tests/conftest.py)

GEN_END_DATE = dt.date(2024, 3, 10)
GEN_START, GEN_END = "2024-03-08T06:00:00Z", "2024-03-10T18:00:00Z"
