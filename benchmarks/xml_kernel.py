"""XML's encoder alone, on one store file per bench profile and on purchase events with nested items.

    python -m benchmarks.xml_kernel [--workdir W] [--events 200000] [--repeat 7]

Prints the encoder's CPU seconds (the least of --repeat, `process_time`) for the first store file of each
profile (its rows validated and split by (event, date) as the pipeline does) and for 50,000 purchase
events whose properties hold a list of three items (no bench store has nested values). For comparing two
trees: run it with each on PYTHONPATH (docs/xml-performance.md).
"""

import argparse
import glob
import io
import json
import os
import random
import time

import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.stores import STORE_PROFILES, prepare_store
from transforms.formats import encoder_for, xml_format
from transforms.formats.xml_text import Map, write_records
from transforms.records import EVENTS
from transforms.shuffle.partition import add_time_parts, split_by_partition
from transforms.sources.validation import validate


def least_cpu(work, repeat):
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best


def store_file(workdir, events, profile):
    store, _ = prepare_store(workdir, events, 3, 1, profile)
    table = pq.read_table(sorted(glob.glob(os.path.join(store, "events", "*", "*.parquet")))[0])
    return list(split_by_partition(add_time_parts(validate("store", table, EVENTS, []), "event_time", "UTC"), EVENTS))


def purchases(count=50_000, seed=1):
    draw = random.Random(seed)
    return pa.array([json.dumps({"Amount": round(draw.random() * 100, 2), "Items": [
        {"Category": "Shoes", "Name": f"Item {i}", "Price": round(draw.random() * 50, 2), "Quantity": draw.randrange(1, 4)}
        for i in range(3)]}) for _ in range(count)])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=os.path.join("out", "bench"))
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    encoder = encoder_for("xml", EVENTS)
    for profile in STORE_PROFILES:
        partitions = store_file(args.workdir, args.events, profile)
        rows = sum(part.num_rows for _, part in partitions)
        seconds = least_cpu(lambda: [encoder.write_file(part, name, io.BytesIO()) for (name, _), part in partitions],
                            args.repeat)
        print(f"{profile}: {rows:,} rows of one store file, {seconds * 1000:.0f} ms")
    texts = purchases()
    rule = xml_format._python_fragments("eventProps", False)
    seconds = least_cpu(lambda: write_records(io.BytesIO(), len(texts), [Map(texts, "eventProps", False, rule)]),
                        args.repeat)
    print(f"nested: {len(texts):,} purchase events with three items each ({texts.nbytes / 1e6:.1f} MB), "
          f"{seconds * 1000:.0f} ms")


if __name__ == "__main__":
    main()
