"""Grouping is safe on every runner: group keys hash alike in every process, and a manifest step that is
handed one (event, date) from two groups, or a key twice, fails the run instead of hiding lost rows."""

import dataclasses
import json
import os
import subprocess
import sys

import apache_beam as beam
import pytest

from devtools.generate import HOSTILE_NAMES
from transforms.config import ExportConfig
from transforms.errors import GroupingError
from transforms.shuffle.grouping import partition_key
from transforms.sinks.manifest import check_objects
from transforms.steps import WriteManifest

PARTITIONS = [(name, day) for name in HOSTILE_NAMES + ["App Launched", "profiles"] for day in (20240308, 20240309)]
# What dask.bag's groupby computes in each worker process for an element's key (apache/beam issue 29365).
_BUCKETS = """
import json, sys
from transforms.shuffle.grouping import partition_key
partitions = [tuple(p) for p in json.loads(sys.stdin.read())]
print(json.dumps({"string keys": [hash(p) % 16 for p in partitions],
                  "our keys": [hash(partition_key(*p)) % 16 for p in partitions]}))
"""


def _buckets(seed):
    env = dict(os.environ, PYTHONHASHSEED=str(seed))
    done = subprocess.run([sys.executable, "-c", _BUCKETS], input=json.dumps(PARTITIONS), env=env,
                          capture_output=True, text=True, check=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    return json.loads(done.stdout)


def test_group_keys_land_in_the_same_bucket_in_every_worker_process():
    """Two worker processes with different hash seeds: (name, date) tuples go to different shuffle
    buckets (one key would become two groups), our integer keys to the same ones."""
    first, second = _buckets(1), _buckets(2)
    assert first["string keys"] != second["string keys"]
    assert first["our keys"] == second["our keys"]
    assert len({partition_key(*p) for p in PARTITIONS}) == len(PARTITIONS)
    assert all(isinstance(partition_key(*p), int) and 0 <= partition_key(*p) < 2 ** 63 for p in PARTITIONS)


def _object(name, date, index, key=None):
    return {"key": key or f"r-{name}-{date}-{index:04d}.json.gz", "event_name": name, "date": date,
            "index": index, "rows": 1, "bytes": 10, "sha256": "0" * 64, "etag": "0" * 32}


@pytest.mark.parametrize("objects,message", [
    ([_object("A", "20240308", 0), _object("A", "20240308", 0)], "written by 2 writers.*rerun with the same"),
    ([_object("A", "20240308", 0, "k"), _object("B", "20240308", 0, "k")],
     "written for 2 event names \\('A', 'B'\\).*report it as a bug.*separate runs"),
    ([_object("A", "20240308", 0), _object("A", "20240308", 1, "other"), _object("A", "20240308", 0, "x")],
     "from more than one group"),
    ([_object("A", "20240308", 1)], "from more than one group"),
])
def test_check_objects_refuses_split_groups(objects, message):
    with pytest.raises(GroupingError, match=message):
        check_objects(objects)


def test_check_objects_accepts_one_writer_per_partition():
    check_objects([_object("A", "20240308", 0), _object("A", "20240308", 1), _object("B", "20240308", 0)])


def test_the_manifest_step_fails_the_run_and_writes_no_manifest(tmp_path):
    """The real step on a real runner: two groups' descriptors of one (event, date) reach it."""
    config = ExportConfig.build(source=str(tmp_path), destination=str(tmp_path / "out"), start="2024-03-08T00:00:00Z",
                                end="2024-03-09T00:00:00Z", run_timestamp="20240309000000")
    config = dataclasses.replace(config, spill_dir=str(tmp_path / "spill"))
    split = [_object("A", "20240308", 0, "k0"), _object("A", "20240308", 1, "k1"), _object("A", "20240308", 0, "k0")]
    with pytest.raises(Exception, match="object key 'k0' was written by 2 writers"):
        with beam.Pipeline(runner="FnApiRunner") as pipeline:
            objects = pipeline | "Objects" >> beam.Create(split)
            rejects = pipeline | "Rejects" >> beam.Create([])
            counts = pipeline | "Counts" >> beam.Create([])
            _ = (objects, rejects, counts) | WriteManifest(config)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").glob("*-manifest.json"))
