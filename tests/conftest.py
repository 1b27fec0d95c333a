"""Shared helpers and fixtures for the end-to-end export tests (tests/test_export_*.py).

The tests build event and profile stores themselves, following DESIGN.md's event store contract
(Parquet via pyarrow, Avro via fastavro, gzip JSON Lines), so every input row is known, and read
every output object back with independent readers (gzip + json, a strict RFC 4180 parser and the
csv module, lxml, pyarrow.parquet, fastavro), never with the project's own encoders.

Exports run in-process through `pipelines.export.run(argv)`; the CLI tests start the module as a
subprocess. Stores and exports that several tests read are built once per session and cached.
"""

import csv
import datetime as dt
import gzip
import hashlib
import io
import json
import os
import re
import urllib.parse
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from pathlib import Path

import avro.datafile
import avro.io
import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from lxml import etree

from transforms.sinks.endpoint_guard import ALLOW_PRIVATE_ENV

pytest_plugins = ("tests.fault_fixtures", "tests.dask_fixtures")   # fault cases' and the Dask cluster's fixtures

REPO = Path(__file__).resolve().parents[1]
# Every S3 server the tests reach is the local one on 127.0.0.1 (devtools/local_s3.py), as a deployment with
# its own S3 server would: endpoint_guard allows it only so. Its own tests turn it off where they check it.
os.environ[ALLOW_PRIVATE_ENV] = "true"
REQUEST_ID = "req-7.a_b~c"      # request ids may hold '-', so key parsing must not split on it blindly
RUN_TS = "20240311000000"
DATABASE_ID = "db1"
UTC = dt.timezone.utc
FORMATS = ("json", "xml", "csv", "parquet", "avro")
SUFFIX = {"json": ".json.gz", "xml": ".xml.gz", "csv": ".csv.gz", "parquet": ".parquet", "avro": ".avro"}
MAX_BASENAME = 255

# ----------------------------------------------------------------------------------------------------------
# time and naming, written from DESIGN.md


def ms(text):
    """ISO-8601 instant ('Z' or no offset = UTC) -> epoch milliseconds."""
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return round(value.timestamp() * 1000)


def _utc(millis):
    return dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(milliseconds=millis)


def ts14(millis):
    """`ts`: event time as the integer yyyyMMddHHmmss in UTC."""
    return int(_utc(millis).strftime("%Y%m%d%H%M%S"))


def day8(millis):
    return _utc(millis).strftime("%Y%m%d")


def pct(name):
    """DESIGN.md: bytes outside A-Za-z0-9._~ become %XX (uppercase), so '-' is %2D and ' ' is %20."""
    return urllib.parse.quote(name, safe="._~").replace("-", "%2D")


def key_regex(fmt, name_part=r"(?:%[0-9A-F]{2}|[A-Za-z0-9._~])*"):
    return re.compile(
        rf"{re.escape(REQUEST_ID)}-{RUN_TS}-(?P<name>{name_part})-(?P<date>\d{{8}})-(?P<index>\d{{4}})-"
        rf"{re.escape(DATABASE_ID)}{re.escape(SUFFIX[fmt])}")


def manifest_name():
    return f"{REQUEST_ID}-{RUN_TS}-manifest.json"


def rejects_regex():
    return re.compile(rf"{re.escape(REQUEST_ID)}-{RUN_TS}-rejects-(?P<index>\d{{4}})\.jsonl\.gz")


def check_name_part(raw, part, fmt, date):
    """The name part of a key is pct(raw); a name too long for a 255-byte basename is cut between
    whole characters and ends in '%7E' (an escaped '~', which pct never writes) + the 64 hex digits of the
    raw name's SHA-256 (transforms/sinks/naming.py)."""
    encoded = pct(raw)
    head = f"{REQUEST_ID}-{RUN_TS}-"
    tail = f"-{date}-0000-{DATABASE_ID}{SUFFIX[fmt]}"
    if len(head) + len(encoded) + len(tail) <= MAX_BASENAME:
        assert part == encoded, (raw, part)
        return
    digest = "%7E" + hashlib.sha256(raw.encode("utf-8")).hexdigest()
    assert part.endswith(digest) and "%7E" not in encoded, (raw, part)
    kept = part[:-len(digest)]
    assert kept and encoded.startswith(kept), (raw, part)
    assert re.fullmatch(r"(?:%[0-9A-F]{2}|[A-Za-z0-9._~])+", kept), part  # never cut inside an escape
    urllib.parse.unquote_to_bytes(kept).decode("utf-8")                     # nor inside a character
    length = len(head) + len(part) + len(tail)
    assert MAX_BASENAME - 11 <= length <= MAX_BASENAME, length


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
        name = record.get("_folder") or f"{folder}={_utc(record[column]).strftime('%Y-%m-%d')}"
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


# ----------------------------------------------------------------------------------------------------------
# running the exporter


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


# ----------------------------------------------------------------------------------------------------------
# what each format must hold, from DESIGN.md and the encoders' documented rules

SHAPES = {
    "events": {
        "fields": (("ts", "int"), ("eventName", "str"), ("profile", "map"), ("deviceInfo", "map"),
                   ("eventProps", "map")),
        "csv": ("eventName", "ts", "profile", "deviceInfo", "eventProps"),
        "json": ("profile", "ts", "deviceInfo", "eventProps"),
        "omit": {"deviceInfo"}, "root": "Events", "element": "Event", "xml_named": {"profile", "deviceInfo"},
        "time": "event_time", "id": "event_id",
    },
    "profiles": {
        "fields": (("identity", "str"), ("objectId", "str"), ("ts", "int"), ("properties", "map")),
        "csv": ("identity", "objectId", "ts", "properties"),
        "json": ("identity", "objectId", "ts", "properties"),
        "omit": set(), "root": "Profiles", "element": "Profile", "xml_named": {"properties"},
        "time": "updated_at", "id": "identity",
    },
}


def out_record(record, kind="events"):
    """A store record as the output's logical fields (maps as dicts, a null map as {})."""
    if kind == "events":
        return {"ts": ts14(record["event_time"]), "eventName": record["event_name"],
                "profile": record["profile"] or {}, "deviceInfo": record.get("device_info") or {},
                "eventProps": record["event_props"] or {}}
    return {"identity": record["identity"], "objectId": record["object_id"], "ts": ts14(record["updated_at"]),
            "properties": record["properties"] or {}}


def text(value):
    """A value shown as text (CSV cells, XML): strings as they are, null '', true/false, numbers as JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(value):
    """xml_format.py: C0 controls but tab, LF and CR (and U+FFFE/U+FFFF) become U+FFFD; CR survives."""
    return _XML_BAD.sub("\ufffd", text(value))


def xml_element_key(key):
    """DESIGN.md: a profile/device key is written as its own element when it is a valid XML element name:
    lxml takes it as a (namespace-free) tag, Python's expat parses it as one, it does not start with 'xml'
    in any case, and it is not 'entry' (which would read as a key/value pair)."""
    try:
        etree.Element(key)
        ElementTree.fromstring(f"<{key}/>")
    except (ValueError, ElementTree.ParseError):
        return False
    return ":" not in key and not key.lower().startswith("xml") and key != "entry"


def read_xml_map(element, named):
    """A map element -> [(key, value)] in document order; checks each child has the form DESIGN.md gives
    its key: its own element where `named` and the key is a valid name, else an entry pair."""
    pairs = []
    for child in element:
        if child.tag == "entry":
            assert [c.tag for c in child] == ["key", "value"] and not child.attrib, etree.tostring(child)
            key, value = child[0].text or "", child[1].text or ""
            assert not (named and xml_element_key(key)), f"{key!r} must be an element of its own"
        else:
            assert named and xml_element_key(child.tag), child.tag
            assert len(child) == 0 and not child.attrib, etree.tostring(child)
            key, value = child.tag, child.text or ""
        pairs.append((key, value))
    return pairs


def expected_json(rec, kind):
    shape = SHAPES[kind]
    return [(name, rec[name]) for name in shape["json"] if not (name in shape["omit"] and not rec[name])]


def expected_xml(rec, kind):
    out = []
    for name, field_kind in SHAPES[kind]["fields"]:
        if field_kind == "map":
            out.append((name, [(xml_text(k), xml_text(v)) for k, v in sorted(rec[name].items())]))
        else:
            out.append((name, xml_text(rec[name])))
    return out


def expected_csv(recs, kind):
    shape = SHAPES[kind]
    kinds = dict(shape["fields"])
    keys = {name: sorted({k for r in recs for k in r[name]}) for name in shape["csv"] if kinds[name] == "map"}
    header = []
    for name in shape["csv"]:
        header += [f"{name}.{k}" for k in keys[name]] if kinds[name] == "map" else [name]
    rows = []
    for r in recs:
        row = []
        for name in shape["csv"]:
            if kinds[name] == "map":
                row += [text(r[name].get(k)) for k in keys[name]]
            else:
                row.append(text(r[name]))
        rows.append(row)
    return header, rows


def _parquet_child(values):
    kinds = {type(v) for v in values if v is not None}
    if kinds == {bool}:
        return pa.bool_(), values
    if kinds == {int}:
        return pa.int64(), values
    if kinds and kinds <= {int, float}:
        return pa.float64(), [None if v is None else float(v) for v in values]
    return pa.string(), [None if v is None else text(v) for v in values]


def expected_parquet(recs, kind):
    """(schema fields, rows): a map is a struct of its keys in the file, sorted, typed where all values
    share one JSON type (numbers mixing int and fraction: double), string otherwise; a map empty in
    every row of the file is left out."""
    fields, columns = [], {}
    for name, field_kind in SHAPES[kind]["fields"]:
        if field_kind == "int":
            fields.append(pa.field(name, pa.int64()))
            columns[name] = [r[name] for r in recs]
        elif field_kind == "str":
            fields.append(pa.field(name, pa.string()))
            columns[name] = [r[name] for r in recs]
        else:
            keys = sorted({k for r in recs for k in r[name]})
            if not keys:
                continue
            children, values = [], {}
            for key in keys:
                typ, values[key] = _parquet_child([r[name].get(key) for r in recs])
                children.append(pa.field(key, typ))
            fields.append(pa.field(name, pa.struct(children)))
            columns[name] = [{k: values[k][i] for k in keys} for i in range(len(recs))]
    rows = [{f.name: columns[f.name][i] for f in fields} for i in range(len(recs))]
    return fields, rows


def _avro_value(value):
    return value if value is None or isinstance(value, (bool, int, float, str)) else text(value)


def expected_avro(rec, kind):
    return {name: ({k: _avro_value(v) for k, v in rec[name].items()} if field_kind == "map" else rec[name])
            for name, field_kind in SHAPES[kind]["fields"]}


# ----------------------------------------------------------------------------------------------------------
# independent readers


def rfc4180(data):
    """A strict RFC 4180 parser: records end in CRLF; a field is plain (no '"', ',', CR, LF) or quoted
    with quotes doubled. Raises AssertionError on anything else."""
    rows, row, field, i, n = [], [], [], 0, len(data)
    assert data.endswith("\r\n"), repr(data[-20:])
    while i < n:
        if data[i] == '"':
            i += 1
            while True:
                j = data.index('"', i)
                field.append(data[i:j])
                if j + 1 < n and data[j + 1] == '"':
                    field.append('"')
                    i = j + 2
                    continue
                i = j + 1
                break
            assert i < n and data[i] in ",\r", f"text after a closing quote at {i}: {data[i:i + 20]!r}"
        else:
            j = i
            while j < n and data[j] not in ',\r\n"':
                j += 1
            assert j < n and data[j] in ",\r", f"bare quote or bare LF at {j}: {data[j - 10:j + 10]!r}"
            field.append(data[i:j])
            i = j
        row.append("".join(field))
        field = []
        if data[i] == ",":
            i += 1
            continue
        assert data[i:i + 2] == "\r\n", f"bare CR at {i}: {data[i - 10:i + 10]!r}"
        rows.append(row)
        row = []
        i += 2
    return rows


def read_object(data, fmt, kind="events"):
    """Bytes of one object -> (partition name or None, rows in the format's own terms)."""
    shape = SHAPES[kind]
    if fmt == "json":
        lines = gzip.decompress(data).decode("utf-8").split("\n")
        assert lines[-1] == "", "a JSON Lines file ends in a newline"
        name = json.loads(lines[0])
        assert isinstance(name, str)
        rows = [list(json.loads(line).items()) for line in lines[1:-1]]
        return name, rows
    if fmt == "xml":
        raw = gzip.decompress(data)
        assert raw.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
        root = etree.fromstring(raw, etree.XMLParser(resolve_entities=False, huge_tree=True))
        assert root.tag == shape["root"]
        rows = []
        for element in root:
            assert element.tag == shape["element"]
            row = []
            for child in element:
                if dict(shape["fields"])[child.tag] == "map":
                    row.append((child.tag, read_xml_map(child, child.tag in shape["xml_named"])))
                else:
                    assert len(child) == 0
                    row.append((child.tag, child.text or ""))
            rows.append(row)
        return None, rows
    if fmt == "csv":
        decoded = gzip.decompress(data).decode("utf-8")
        strict = rfc4180(decoded)
        loose = list(csv.reader(io.StringIO(decoded, newline="")))
        assert strict == loose
        return None, strict
    if fmt == "parquet":
        assert data[:4] == b"PAR1" and data[-4:] == b"PAR1", "a plain Parquet file, not gzip-wrapped"
        return None, pq.read_table(io.BytesIO(data))
    if fmt == "avro":
        reader = fastavro.reader(io.BytesIO(data))
        assert reader.codec == "deflate"
        records = list(reader)
        # a second, independent reader: Apache Avro's own Python implementation
        with avro.datafile.DataFileReader(io.BytesIO(data), avro.io.DatumReader()) as apache:
            assert apache.codec == "deflate"
            assert list(apache) == records
        return None, (reader.writer_schema, records)
    raise ValueError(fmt)


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


def load_manifest(dest):
    return json.loads((Path(dest) / manifest_name()).read_text(encoding="utf-8"))


def expected_groups(records, kind="events", name_of=None):
    """{(raw name, yyyymmdd): [output records sorted by (time, id)]}."""
    shape = SHAPES[kind]
    groups = defaultdict(list)
    for r in sorted(records, key=lambda r: (r[shape["time"]], r[shape["id"]])):
        name = r["event_name"] if kind == "events" else "profiles"
        groups[(name, day8(r[shape["time"]]))].append(out_record(r, kind))
    return dict(groups)


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


def folder_bytes(dest):
    dest = Path(dest)
    return {name: (dest / name).read_bytes() for name in sorted(os.listdir(dest))}


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


def in_window(records, start, end, column="event_time"):
    low, high = ms(start), ms(end)
    return [r for r in records if low <= r[column] < high]


@pytest.fixture(scope="session")
def hand_stores(tmp_path_factory):
    """{input format: store root} holding HAND_RECORDS, one store per input format."""
    base = tmp_path_factory.mktemp("hand-stores")
    layout = layout_by_time(HAND_RECORDS)
    return {fmt: write_store(base / fmt, layout, fmt) for fmt in ("parquet", "avro", "jsonl")}


@pytest.fixture(scope="session")
def hand_export(hand_stores, tmp_path_factory):
    """hand_export(input format, output format) -> folder of that export of the hand window (cached)."""
    cache = {}

    def get(store_fmt, fmt):
        if (store_fmt, fmt) not in cache:
            dest = tmp_path_factory.mktemp(f"hand-{store_fmt}-{fmt}")
            cache[(store_fmt, fmt)] = export_ok(hand_stores[store_fmt], dest, fmt, HAND_START, HAND_END)
        return cache[(store_fmt, fmt)]

    return get


# ----------------------------------------------------------------------------------------------------------
# a generated store (devtools.generate), larger and realistic

GEN_END_DATE = dt.date(2024, 3, 10)
GEN_START, GEN_END = "2024-03-08T06:00:00Z", "2024-03-10T18:00:00Z"


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    """(events root, rows of the whole store) of a 3-day parquet store with hostile events."""
    from devtools.generate import generate
    out = tmp_path_factory.mktemp("generated")
    generate(out, 3000, 3, "parquet", seed=11, end=GEN_END_DATE, hostile=True)
    return str(out / "events"), read_generated_events(out / "events")


@pytest.fixture(scope="session")
def server():
    """One local S3 server (moto, IAM enforced) for the whole session; tests make their own buckets."""
    from devtools.local_s3 import LocalS3Server
    with LocalS3Server() as running:
        yield running


# ----------------------------------------------------------------------------------------------------------
# the reliability table (tests/reliability.py)


def pytest_configure(config):
    config.addinivalue_line("markers", "reliability: a fault case that accounts for every record (make reliability)")
    config.addinivalue_line("markers", "slow: a cluster, fault-proxy, browser or harness test; `make test-fast` leaves it out")
    if os.environ.get("CI") and not os.environ.get("EVENTEXPORT_TEST_POSTGRES_URL"):
        raise pytest.UsageError("CI runs the control plane's tests on PostgreSQL too: EVENTEXPORT_TEST_POSTGRES_URL is "
                                "not set (.ci/run sets it after .ci/postgres installs and starts the server)")


def pytest_terminal_summary(terminalreporter):
    from tests import reliability
    if reliability.cases():
        terminalreporter.section("reliability: every input record exported once, rejected with a reason, or lost")
        terminalreporter.write_line(reliability.table())
