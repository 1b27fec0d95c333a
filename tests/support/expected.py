"""What the exporter must write, derived from the contracts (docs/contracts.md), never from its code.

The suite's ids (every export of the suite runs with them), the object-name template and its
percent-encoding, and, per output kind and format, the logical record and how each format shows it.
tests/support/exports.py compares these with what the independent readers (readers.py) find.
"""

import hashlib
import json
import re
import urllib.parse
import xml.etree.ElementTree as ElementTree
from collections import defaultdict

import pyarrow as pa
from lxml import etree

from tests.support.stores import utc_of

__all__ = ["REQUEST_ID", "RUN_TS", "DATABASE_ID", "FORMATS", "SUFFIX", "MAX_BASENAME", "ts14", "day8", "pct",
           "key_regex", "manifest_name", "rejects_regex", "check_name_part", "SHAPES", "out_record", "text",
           "xml_text", "xml_element_key", "expected_json", "expected_xml", "expected_csv", "expected_parquet",
           "expected_avro", "expected_groups"]

REQUEST_ID = "req-7.a_b~c"      # request ids may hold '-', so key parsing must not split on it blindly
RUN_TS = "20240311000000"
DATABASE_ID = "db1"
FORMATS = ("json", "xml", "csv", "parquet", "avro")
SUFFIX = {"json": ".json.gz", "xml": ".xml.gz", "csv": ".csv.gz", "parquet": ".parquet", "avro": ".avro"}
MAX_BASENAME = 255

# ----------------------------------------------------------------------------------------------------------
# time and naming


def ts14(millis):
    """`ts`: event time as the integer yyyyMMddHHmmss in UTC."""
    return int(utc_of(millis).strftime("%Y%m%d%H%M%S"))


def day8(millis):
    return utc_of(millis).strftime("%Y%m%d")


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
# what each format must hold, from the contracts and the encoders' documented rules

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


def expected_groups(records, kind="events"):
    """{(raw name, yyyymmdd): [output records sorted by (time, id)]}."""
    shape = SHAPES[kind]
    groups = defaultdict(list)
    for r in sorted(records, key=lambda r: (r[shape["time"]], r[shape["id"]])):
        name = r["event_name"] if kind == "events" else "profiles"
        groups[(name, day8(r[shape["time"]]))].append(out_record(r, kind))
    return dict(groups)

