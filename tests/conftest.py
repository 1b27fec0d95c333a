"""Fixtures and hooks shared by the whole suite; the library they build on is tests/support/.

The tests build event and profile stores themselves, following the event store contract
(tests/support/stores.py), so every input row is known, and read every output object back with
independent readers (tests/support/readers.py: gzip + json, a strict RFC 4180 parser and the csv
module, lxml, pyarrow.parquet, fastavro), never with the project's own encoders; verify_export
(tests/support/exports.py) checks a run against what the contracts say it must hold
(tests/support/expected.py). Stores and exports that several tests read are built once per session
here and cached. The fault cases' and the Dask cluster's fixtures are plugins of this file.
"""

import os

import pytest

from tests.support.exports import export_ok
from tests.support.stores import (GEN_END_DATE, HAND_END, HAND_RECORDS, HAND_START, layout_by_time,
                                  read_generated_events, write_store)
from transforms.sinks.endpoint_guard import ALLOW_PRIVATE_ENV

pytest_plugins = ("tests.support.fault_fixtures", "tests.support.dask_fixtures")

# Every S3 server the tests reach is the local one on 127.0.0.1 (devtools/local_s3.py), as a deployment with
# its own S3 server would: endpoint_guard allows it only so. Its own tests turn it off where they check it.
os.environ[ALLOW_PRIVATE_ENV] = "true"


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
# markers, and the reliability table (tests/support/reliability.py)

def pytest_configure(config):
    config.addinivalue_line("markers", "reliability: a fault case that accounts for every record (make reliability)")
    config.addinivalue_line("markers", "slow: a cluster, fault-proxy, kill, browser or harness test, a PostgreSQL variant, "
                                       "or one that takes more than a few seconds; `make test-fast` leaves it out")
    config.addinivalue_line("markers", "serial: restarts a server other tests share; `make test` runs these alone, "
                                       "after the rest")
    if os.environ.get("CI") and not os.environ.get("EVENTEXPORT_TEST_POSTGRES_URL"):
        raise pytest.UsageError("CI runs the control plane's tests on PostgreSQL too: EVENTEXPORT_TEST_POSTGRES_URL is "
                                "not set (`make test` sets it after .ci/postgres installs and starts the server)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    if call.when == "teardown" and hasattr(item.config, "workerinput"):   # a pytest-xdist worker
        from tests.support import reliability
        report.user_properties.extend(("reliability", row) for row in reliability.drain())


def pytest_runtest_logreport(report):
    if getattr(report, "node", None) is not None:   # on pytest-xdist's controller, a worker's report
        from tests.support import reliability
        reliability.receive(row for name, row in report.user_properties if name == "reliability")


def pytest_terminal_summary(terminalreporter):
    from tests.support import reliability
    if reliability.cases():
        terminalreporter.section("reliability: every input record exported once, rejected with a reason, or lost")
        terminalreporter.write_line(reliability.table())
