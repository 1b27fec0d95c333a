"""Keys for every GroupByKey: integers from a stable hash, so a key meets itself on every runner.

Beam's DaskRunner groups with dask.bag, which sends an element to the output partition
`hash(key) % n`. For a string or a tuple holding one, `hash()` differs in each worker process
(PYTHONHASHSEED is random per process), so one key can come out as two groups (apache/beam issue 29365):
for us, two writers of one (event, date) both writing file index 0000. The hash of an int is the
int itself (mod 2**61 - 1) in every process, whatever the seed, so only ints are grouped here; the
(event, date) travels with each value, and the writer splits a group by it (two partitions whose
keys collide simply share a group and are still written apart).
"""

import hashlib

import orjson

__all__ = ["partition_key", "range_key", "SINGLE_GROUP"]

SINGLE_GROUP = 0  # the key of steps that gather everything in one place (rejects, manifest)


def _key(*parts):
    digest = hashlib.blake2b(orjson.dumps(list(parts)), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def partition_key(name, day):
    """A 63-bit integer for the (event name, yyyymmdd) partition, the same in every process and run."""
    return _key(name, day)


def range_key(name, day, number):
    """A 63-bit integer for row range `number` of a heavy partition (transforms/heavy_partitions.py): the ranges of
    one partition get different keys, so a runner hands them to different workers."""
    return _key(name, day, number)
