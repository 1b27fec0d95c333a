"""End to end, per output format: every row read back with an independent reader equals the store's row;
names, manifest, hostile names and values, input-format independence and byte-identical reruns."""

import gzip
import hashlib
import io
import json
import xml.etree.ElementTree as ElementTree

import fastavro
import pyarrow.parquet as pq
import pytest
from lxml import etree

from tests.support.expected import FORMATS, day8, manifest_name, pct
from tests.support.exports import export, export_ok, folder_bytes, load_manifest, verify_export
from tests.support.readers import read_object
from tests.support.stores import (GEN_END, GEN_START, HAND_END, HAND_RECORDS, HAND_START, HOSTILE_KEYS, HOSTILE_NAMES,
                                  HOSTILE_PROPS, N_CUT, N_FIT, N_JP, N_LONG, N_LONG2, in_window, layout_by_time, ms,
                                  write_store)


# ---------------------------------------------------------------------------------------------- the hand store

@pytest.mark.parametrize("fmt", FORMATS)
def test_hand_store_every_row_exact(hand_export, fmt):
    dest = hand_export("parquet", fmt)
    manifest = verify_export(dest, fmt, in_window(HAND_RECORDS, HAND_START, HAND_END))
    assert manifest["window"] == {"start": "2024-03-05T00:00:00Z", "end": "2024-03-08T00:00:00Z",
                                  "time_basis": "event", "captured_before": None}
    assert manifest["export_type"] == "all_events"
    assert manifest["rejects"] == {"rows": 0, "objects": [], "sample": None}
    # every event of the window is there, under its raw name
    assert set(manifest["event_totals"]) == {r["event_name"] for r in in_window(HAND_RECORDS, HAND_START, HAND_END)}
    assert set(HOSTILE_NAMES) <= set(manifest["event_totals"])


def test_key_template_and_percent_encoding(hand_export):
    dest = hand_export("parquet", "json")
    keys = {o["event_name"]: o["key"] for o in load_manifest(dest)["objects"] if o["index"] == 0}
    prefix = "req-7.a_b~c-20240311000000-"
    assert keys["App Launched"].startswith(prefix + "App%20Launched-2024030")
    day = {r["event_name"]: r["event_time"] for r in HAND_RECORDS}
    for name, encoded in [("pre-order-placed", "pre%2Dorder%2Dplaced"), ("checkout/step-2", "checkout%2Fstep%2D2"),
                          ('User\'s "Quote" Event', "User%27s%20%22Quote%22%20Event"),
                          ("🎉 Party", "%F0%9F%8E%89%20Party"), ("Items, Bought", "Items%2C%20Bought"),
                          ("a<b>&c%d+e=f?g#h", "a%3Cb%3E%26c%25d%2Be%3Df%3Fg%23h")]:
        assert keys[name] == f"{prefix}{encoded}-{day8(day[name])}-0000-db1.json.gz"
    assert keys["tab\tname\nnewline"].startswith(prefix + "tab%09name%0Anewline-")
    assert keys["Sign Up Completed"].startswith(prefix + "Sign%20Up%20Completed-")
    # long names: 255-byte basename, cut between escapes, distinct by digest
    for name in (N_LONG, N_LONG2, N_JP):
        assert len(keys[name].encode()) <= 255
        assert keys[name][len(prefix):].split("-")[0] != pct(name)
        assert "%7E" + hashlib.sha256(name.encode()).hexdigest() + "-" in keys[name]
    assert keys[N_LONG] != keys[N_LONG2]
    assert len(keys[N_FIT]) == 255 and f"-{N_FIT}-" in keys[N_FIT]
    assert len(keys[N_CUT]) >= 253 and f"-{N_CUT}-" not in keys[N_CUT]
    assert "%7E" + hashlib.sha256(N_CUT.encode()).hexdigest() + "-" in keys[N_CUT]
    assert len(set(keys.values())) == len(keys)


@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_values_survive(hand_export, fmt):
    """The '🎉 Party' row carries every hostile value; look at it the way a customer's tool would."""
    dest = hand_export("parquet", fmt)
    item = next(o for o in load_manifest(dest)["objects"] if o["event_name"] == "🎉 Party")
    data = (dest / item["key"]).read_bytes()
    props = HOSTILE_PROPS
    if fmt == "json":
        name, rows = read_object(data, fmt)
        assert name == "🎉 Party"
        assert dict(rows[0])["eventProps"] == props
    elif fmt == "xml":
        root = etree.fromstring(gzip.decompress(data))
        entries = {e.findtext("key"): e.findtext("value") for e in root.find("Event/eventProps")}
        assert entries["multi line"] == "line1\nline2\r\nline3\rend"          # CR kept via &#13;
        assert entries["control"] == "x\ufffdy\ufffdz\ufffdw\ufffd\ufffd\ufffd"  # C0 controls replaced
        assert entries["nonchar"] == "a\ufffdb\ufffdc"
        assert entries["html"] == props["html"] and entries["tab\tkey"] == "a\tb"
        assert entries["<&>\"'"] == "markup key"
        assert entries["unicode"] == props["unicode"] and entries["big.blob"] == props["big.blob"]
        assert entries["null value"] == "" and entries["empty"] == "" and entries["flag"] == "true"
        assert b"&#13;" in gzip.decompress(data) and b"\x01" not in gzip.decompress(data)
    elif fmt == "csv":
        _, rows = read_object(data, fmt)
        cells = dict(zip(rows[0], rows[1]))
        for key, value in props.items():
            want = "" if value is None else ("true" if value is True else str(value))
            assert cells[f"eventProps.{key}"] == want, key
        assert cells["eventName"] == "🎉 Party"
    elif fmt == "parquet":
        row = pq.read_table(io.BytesIO(data)).to_pylist()[0]
        assert row["eventProps"] == props
    else:
        row = next(iter(fastavro.reader(io.BytesIO(data))))
        assert row["eventProps"] == props and row["eventName"] == "🎉 Party"


def test_xml_is_well_formed_everywhere(hand_export):
    """Strict parsing of every XML object (lxml raises on any character XML 1.0 cannot carry)."""
    dest = hand_export("parquet", "xml")
    for item in load_manifest(dest)["objects"]:
        raw = gzip.decompress((dest / item["key"]).read_bytes())
        root = etree.fromstring(raw)
        assert len(root) == item["rows"]
        assert [c.tag for c in root[0]] == ["ts", "eventName", "profile", "deviceInfo", "eventProps"]


def test_xml_profile_and_device_in_the_seed_shape(hand_export):
    """A customer's parser finds `<profile><email>`; hostile keys are entries in the same parent, every key
    and value kept; Python's own (expat, XML 1.0 fourth edition names) parser reads every file too."""
    dest = hand_export("parquet", "xml")
    events = []
    for item in load_manifest(dest)["objects"]:
        raw = gzip.decompress((dest / item["key"]).read_bytes())
        assert len(ElementTree.fromstring(raw)) == item["rows"]
        events += list(etree.fromstring(raw))
    priya = next(e for e in events if e.findtext("profile/identity") == "1000001")
    assert priya.findtext("profile/email") == "priya.sharma@example.com"
    assert [c.tag for c in priya.find("profile")] == ["email", "identity", "name", "objectId", "phone", "platform"]
    assert all(c.tag == "entry" for c in priya.find("eventProps"))
    web = next(e for e in events if e.findtext("profile/identity") == "web-3")
    entries = {e.findtext("key"): e.findtext("value") for e in web.find("profile") if e.tag == "entry"}
    assert entries == HOSTILE_KEYS
    assert web.findtext("profile/email") == "" and web.findtext("profile/vip") == "false"
    browser = next(e for e in events if e.findtext("deviceInfo/browser") == "Chrome")
    assert browser.findtext("deviceInfo/é") == "e-acute" and browser.findtext("deviceInfo/XmlHttp") is None
    device_entries = {e.findtext("key"): e.findtext("value") for e in browser.find("deviceInfo") if e.tag == "entry"}
    assert device_entries == {"screen size": '13"', "2nd": "2", "ǅ": "fifth-edition only", "XmlHttp": "x"}


def test_csv_header_is_per_file_union(hand_export):
    dest = hand_export("parquet", "csv")
    items = {o["event_name"]: o for o in load_manifest(dest)["objects"]}
    _, rows = read_object((dest / items["Charged"]["key"]).read_bytes(), "csv")
    header = rows[0]
    assert header[:2] == ["eventName", "ts"]
    props = [h for h in header if h.startswith("eventProps.")]
    assert props == ["eventProps." + k for k in sorted(["Amount", "Items", "Coupon", "mixed", "ok", "onlynull",
                                                         "Currency"])]
    # App Uninstalled rows have no device info and no properties: no such columns at all
    _, rows = read_object((dest / items["App Uninstalled"]["key"]).read_bytes(), "csv")
    assert not [h for h in rows[0] if h.startswith(("deviceInfo.", "eventProps."))]


def test_parquet_types_and_codec(hand_export, tmp_path, hand_stores):
    dest = hand_export("parquet", "parquet")
    items = {o["event_name"]: o for o in load_manifest(dest)["objects"]}
    data = (dest / items["Charged"]["key"]).read_bytes()
    table = pq.read_table(io.BytesIO(data))
    props = table.schema.field("eventProps").type
    types = {props.field(i).name: str(props.field(i).type) for i in range(props.num_fields)}
    assert types == {"Amount": "double", "Items": "int64", "Coupon": "string", "mixed": "string", "ok": "bool",
                     "onlynull": "string", "Currency": "string"}
    assert [r["eventProps"]["mixed"] for r in table.to_pylist()] == ["x", "3", "false"]
    meta = pq.ParquetFile(io.BytesIO(data)).metadata
    assert {meta.row_group(0).column(i).compression for i in range(meta.num_columns)} == {"GZIP"}
    table = pq.read_table(io.BytesIO((dest / items["App Uninstalled"]["key"]).read_bytes()))
    assert table.column_names == ["ts", "eventName", "profile"]  # maps empty in every row are left out
    # --parquet_codec zstd: same rows, zstd inside, still a plain .parquet
    out = export_ok(hand_stores["parquet"], tmp_path / "zstd", "parquet", HAND_START, HAND_END,
                    "--parquet_codec", "zstd")
    manifest = verify_export(out, "parquet", in_window(HAND_RECORDS, HAND_START, HAND_END))
    meta = pq.ParquetFile(out / manifest["objects"][0]["key"]).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"


def test_avro_schema(hand_export):
    dest = hand_export("parquet", "avro")
    item = load_manifest(dest)["objects"][0]
    reader = fastavro.reader(io.BytesIO((dest / item["key"]).read_bytes()))
    fields = {f["name"]: f["type"] for f in reader.writer_schema["fields"]}
    assert fields["ts"] == "long" and fields["eventName"] == "string"
    for name in ("profile", "deviceInfo", "eventProps"):
        assert fields[name]["type"] == "map"
        assert sorted(fields[name]["values"]) == sorted(["null", "boolean", "long", "double", "string"])


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
def test_input_formats_give_the_same_output(hand_export, fmt):
    """The same records stored as Parquet, Avro and JSON Lines export to the same objects."""
    base = folder_bytes(hand_export("parquet", fmt))
    for store_fmt in ("avro", "jsonl"):
        other = folder_bytes(hand_export(store_fmt, fmt))
        assert sorted(other) == sorted(base)
        if fmt != "json":
            for name in base:
                assert other[name] == base[name], (store_fmt, name)
            continue
        # JSON splices the store's own map text: Parquet/Avro hold it as written, JSON Lines as objects
        for name in base:
            if name == manifest_name():
                strip = lambda m: {k: v for k, v in m.items() if k not in ("objects", "totals", "event_totals")}
                assert strip(json.loads(other[name])) == strip(json.loads(base[name]))
                continue
            assert read_object(other[name], "json") == read_object(base[name], "json"), (store_fmt, name)


# ---------------------------------------------------------------------------------------------- a generated store

# Limits small enough to cut the larger partitions into several shards; a Parquet file holding one
# hostile row (a 3 KB value, repeated in the column statistics) alone takes ~24 KB.
LIMITS = {"json": 6000, "xml": 8000, "csv": 3000, "avro": 8000, "parquet": 30000}


@pytest.fixture(scope="module")
def generated_exports(generated, tmp_path_factory):
    """Each format exported twice to two folders, with a small --max_file_bytes."""
    source, _ = generated
    runs = {}
    for fmt in FORMATS:
        runs[fmt] = [export_ok(source, tmp_path_factory.mktemp(f"gen-{fmt}-{n}"), fmt, GEN_START, GEN_END,
                               "--max_file_bytes", LIMITS[fmt]) for n in (1, 2)]
    return runs


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
def test_generated_store_every_row_exact(generated, generated_exports, fmt):
    _, rows = generated
    want = in_window(rows, GEN_START, GEN_END)
    assert 0 < len(want) < len(rows)   # the window cuts the store
    manifest = verify_export(generated_exports[fmt][0], fmt, want, max_file_bytes=LIMITS[fmt])
    indices = {}
    for o in manifest["objects"]:
        indices.setdefault((o["event_name"], o["date"]), []).append(o["index"])
    if fmt != "parquet":
        assert max(len(v) for v in indices.values()) >= 3   # several shards somewhere


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
def test_rerun_is_byte_identical(generated_exports, fmt):
    first, second = (folder_bytes(d) for d in generated_exports[fmt])
    assert len(first) > 10
    assert first == second


# ---------------------------------------------------------------------------------------------- bugs

def test_parquet_integer_beyond_int64(tmp_path):
    records = [
        {"event_id": "a", "event_name": "Big", "event_time": ms("2024-03-05T10:00:00Z"),
         "captured_at": ms("2024-03-05T10:00:01Z"), "profile": {"identity": "u"}, "device_info": {},
         "event_props": {"n": 10000000000000000000}},
        {"event_id": "b", "event_name": "Big", "event_time": ms("2024-03-05T11:00:00Z"),
         "captured_at": ms("2024-03-05T11:00:01Z"), "profile": {"identity": "u"}, "device_info": {},
         "event_props": {"n": 5}},
    ]
    source = write_store(tmp_path / "store", layout_by_time(records), "parquet")
    status, text = export(source, tmp_path / "out", "parquet", HAND_START, HAND_END)
    assert status == 0, text
    item = load_manifest(tmp_path / "out")["objects"][0]
    values = [r["eventProps"]["n"] for r in pq.read_table(tmp_path / "out" / item["key"]).to_pylist()]
    assert values in ([10000000000000000000, 5], ["10000000000000000000", "5"])


@pytest.mark.parametrize("number", [123456789012345678901234, -9223372036854775809])
@pytest.mark.parametrize("fmt", ["csv", "xml", "avro"])
def test_integer_beyond_64_bits_keeps_every_digit(tmp_path, fmt, number):
    """orjson would read these as floats; text formats show the stored digits."""
    records = [{"event_id": "a", "event_name": "Big", "event_time": ms("2024-03-05T10:00:00Z"),
                "captured_at": ms("2024-03-05T10:00:01Z"), "profile": {"identity": "u"}, "device_info": {},
                "event_props": {"n": number}}]
    source = write_store(tmp_path / "store", layout_by_time(records), "parquet")
    status, text = export(source, tmp_path / "out", fmt, HAND_START, HAND_END)
    assert status == 0, text
    item = load_manifest(tmp_path / "out")["objects"][0]
    raw = (tmp_path / "out" / item["key"]).read_bytes()
    if fmt == "avro":
        values = [r["eventProps"]["n"] for r in fastavro.reader(io.BytesIO(raw))]
        assert values == [str(number)]
    else:
        assert str(number).encode() in gzip.decompress(raw)
