"""The peers eventexport is measured against, each a small self-contained export run as its own process.

    python -m benchmarks.peers duckdb --source STORE/events --destination DIR --format json|csv|parquet \
        --start-ms S --end-ms E [--threads 1]
    python -m benchmarks.peers beam --source STORE/events --destination DIR --start-ms S --end-ms E

Both export the rows with S <= event_time < E (the event-time window `pipelines.export` uses), split
by (event name, UTC date of the event time), gzip-compressed, with content as close to ours as the tool
allows without writing an encoder for it:

* DuckDB (one thread by default), `COPY ... TO DIR (PARTITION_BY (event_name, day), COMPRESSION gzip)`:
  - json: one object per line `{"profile":{..},"ts":yyyyMMddHHmmss,"deviceInfo":{..}|null,"eventProps":{..}}`,
    the maps parsed with json() (DuckDB re-serialises them minified); an empty deviceInfo is written as
    null where ours omits the key; no first line with the event name (ours has one per file).
  - csv: header, `eventName,ts,profile.<k>..,deviceInfo.<k>..,eventProps.<k>..` with each group's keys
    sorted like ours; the keys are the union over the whole window (found by a first query, inside the
    timed run) where ours uses each file's own union, so DuckDB's files carry more empty columns.
  - parquet (codec gzip, like ours): ts, eventName and the three maps as typed structs whose type comes
    from json_group_structure over the whole window (a first query, timed too).
  DuckDB has no XML or Avro writer.
* Stock Beam on the in-process FnApiRunner (no Prism download): ReadFromParquet (one dict per row) ->
  Filter(window) -> Map(json.loads the maps, build the JSON line) -> fileio.WriteToFiles with a
  small FileSink that gzips each file itself (zlib level 6; Beam's own TextSink with GZIP file metadata
  fails, see GzipLineSink). WriteToFiles writes temp files and renames them, which DESIGN.md explains
  S3 under a put-only key forbids, so it is a speed reference only. JSON only.
"""

import argparse
import datetime as dt
import gzip
import json
import sys
import time
import urllib.parse

__all__ = ["duckdb_export", "beam_export", "main"]

DUCKDB_FORMATS = ("json", "csv", "parquet")


def _sql_string(text):
    return "'" + text.replace("'", "''") + "'"


def _ident(text):
    return '"' + text.replace('"', '""') + '"'


def _pointer(key):
    """A JSON pointer to a top-level key (any key text: '~' and '/' escaped per RFC 6901)."""
    return "/" + key.replace("~", "~0").replace("/", "~1")


def duckdb_export(source, destination, fmt, start_ms, end_ms, threads=1):
    """COPY the window to `destination` (a folder that must not exist yet)."""
    import duckdb

    if fmt not in DUCKDB_FORMATS:
        raise ValueError(f"DuckDB peer writes {', '.join(DUCKDB_FORMATS)}, not {fmt!r}")
    con = duckdb.connect()
    con.execute(f"SET threads={int(threads)}")
    con.execute("SET preserve_insertion_order=false")  # order within a file is not part of the contract
    glob = _sql_string(source.rstrip("/") + "/**/*.parquet")
    src = (f"(SELECT event_name, event_time, profile, device_info, event_props "
           f"FROM read_parquet({glob}, hive_partitioning=false) "
           f"WHERE event_time >= {int(start_ms)} AND event_time < {int(end_ms)})")
    ts = "strftime(epoch_ms(event_time), '%Y%m%d%H%M%S')::BIGINT"
    day = "strftime(epoch_ms(event_time), '%Y%m%d')::INTEGER"
    target = _sql_string(destination)
    if fmt == "json":
        query = (f"SELECT json(profile) AS profile, {ts} AS ts, json(NULLIF(device_info, '{{}}')) AS deviceInfo, "
                 f"json(event_props) AS eventProps, event_name, {day} AS day FROM {src}")
        options = "FORMAT json, COMPRESSION gzip"
    else:
        # The three maps' key sets and value types (json_group_structure merges them), one scan each:
        # the three aggregates in one query ran out of memory at 5M events (docs/performance.md).
        structures = [con.execute(f"SELECT json_group_structure({column}::JSON) FROM {src}").fetchone()[0]
                      for column in ("profile", "device_info", "event_props")]
        groups = [("profile", "profile"), ("deviceInfo", "device_info"), ("eventProps", "event_props")]
        if fmt == "csv":
            inner, outer = [], [f"event_name AS {_ident('eventName')}", f"{ts} AS ts"]
            for (name, column), structure in zip(groups, structures):
                parsed = json.loads(structure) if structure else {}
                keys = sorted(parsed) if isinstance(parsed, dict) else []
                if not keys:
                    continue
                paths = "[" + ", ".join(_sql_string(_pointer(k)) for k in keys) + "]"
                inner.append(f"json_extract_string({column}, {paths}) AS {_ident('_' + name)}")
                outer += [f"{_ident('_' + name)}[{i + 1}] AS {_ident(f'{name}.{k}')}" for i, k in enumerate(keys)]
            query = (f"SELECT {', '.join(outer)}, event_name, {day} AS day FROM "
                     f"(SELECT event_name, event_time{''.join(', ' + c for c in inner)} FROM {src})")
            options = "FORMAT csv, HEADER true, COMPRESSION gzip"
        else:
            maps = []
            for (name, column), structure in zip(groups, structures):
                if structure and isinstance(json.loads(structure), dict) and json.loads(structure):
                    maps.append(f"json_transform({column}, {_sql_string(structure)}) AS {_ident(name)}")
                else:  # no keys at all in the window: keep the text
                    maps.append(f"{column} AS {_ident(name)}")
            query = (f"SELECT {ts} AS ts, event_name AS {_ident('eventName')}, {', '.join(maps)}, "
                     f"event_name, {day} AS day FROM {src}")
            options = "FORMAT parquet, COMPRESSION gzip"
    con.execute(f"COPY ({query}) TO {target} ({options}, PARTITION_BY (event_name, day))")


def beam_export(source, destination, start_ms, end_ms):
    """The stock-Beam JSON export (see the module doc); runs to completion on the FnApiRunner."""
    import apache_beam as beam
    from apache_beam.io import fileio
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.options.pipeline_options import PipelineOptions

    class GzipLineSink(fileio.FileSink):
        """One JSON line per element, gzip (zlib level 6) written by the sink itself.

        Not TextSink + FileMetadata(compression_type=GZIP): with Beam 2.77 that fails on every file
        ("zlib.error: Error -2 while flushing: inconsistent stream state") because TextSink.flush()
        finishes Beam's CompressedFile and WriteToFiles then closes (finishes) it again.
        """

        def create_metadata(self, destination, full_file_name):
            return fileio.FileMetadata(mime_type="application/json", compression_type=CompressionTypes.UNCOMPRESSED)

        def open(self, fh):
            self._gz = gzip.GzipFile(fileobj=fh, mode="wb", compresslevel=6, mtime=0)

        def write(self, pair):
            self._gz.write(pair[1].encode("utf-8"))
            self._gz.write(b"\n")

        def flush(self):
            self._gz.close()  # writes the gzip trailer; leaves fh open for WriteToFiles to close

    def in_window(row):
        return start_ms <= row["event_time"] < end_ms

    def to_line(row):
        when = dt.datetime.fromtimestamp(row["event_time"] / 1000, dt.timezone.utc)
        record = {"profile": json.loads(row["profile"]), "ts": int(when.strftime("%Y%m%d%H%M%S"))}
        device = json.loads(row["device_info"])
        if device:
            record["deviceInfo"] = device
        record["eventProps"] = json.loads(row["event_props"])
        name = urllib.parse.quote(row["event_name"], safe="")
        return f"{name}-{when:%Y%m%d}", json.dumps(record, ensure_ascii=False)

    options = PipelineOptions(runner="FnApiRunner")
    with beam.Pipeline(options=options) as pipeline:
        _ = (pipeline
             | "Read" >> beam.io.ReadFromParquet(source.rstrip("/") + "/*/*.parquet")
             | "Window" >> beam.Filter(in_window)
             | "ToJson" >> beam.Map(to_line)
             | "Write" >> fileio.WriteToFiles(
                 path=destination, destination=lambda pair: pair[0],
                 sink=lambda _: GzipLineSink(),
                 file_naming=fileio.destination_prefix_naming(suffix=".json.gz")))


def main(argv=None):
    parser = argparse.ArgumentParser(description="Peer exports for the eventexport benchmark")
    parser.add_argument("peer", choices=["duckdb", "beam"])
    parser.add_argument("--source", required=True, help="event store events/ folder (parquet)")
    parser.add_argument("--destination", required=True, help="output folder (must not exist for duckdb)")
    parser.add_argument("--format", default="json", choices=DUCKDB_FORMATS)
    parser.add_argument("--start-ms", type=int, required=True)
    parser.add_argument("--end-ms", type=int, required=True)
    parser.add_argument("--threads", type=int, default=1, help="DuckDB threads")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.peer == "duckdb":
        duckdb_export(args.source, args.destination, args.format, args.start_ms, args.end_ms, args.threads)
    else:
        if args.format != "json":
            parser.error("the stock Beam peer writes json only")
        beam_export(args.source, args.destination, args.start_ms, args.end_ms)
    print(json.dumps({"peer": args.peer, "format": args.format, "inner_s": time.perf_counter() - started}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
