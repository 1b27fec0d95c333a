"""Independent readers of the exporter's objects: gzip + json, a strict RFC 4180 parser and the csv
module, lxml, pyarrow.parquet, fastavro and Apache's own avro package, never the project's encoders.

Each reader also asserts what the format's contract says about the file as a whole (a JSON file's
first line is the event name, a CSV file's lines end in CRLF, Parquet is not gzip-wrapped, ...).
"""

import csv
import gzip
import io
import json

import avro.datafile
import avro.io
import fastavro
import pyarrow.parquet as pq
from lxml import etree

from tests.support.expected import SHAPES, xml_element_key

__all__ = ["rfc4180", "read_xml_map", "read_object"]


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
