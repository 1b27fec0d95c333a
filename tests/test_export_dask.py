"""The same export on a dask.distributed cluster (Beam's DaskRunner; scheduler and workers are separate
processes, each with its own hash seed): byte-identical objects and manifest, rejects included, work on
both workers, spill pieces in the platform's bucket, and a worker killed mid-run losing nothing."""

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

import pytest
from distributed import get_task_stream

from devtools.generate import generate
from devtools.local_dask import LocalDaskCluster
from devtools.local_s3 import provision_least_privilege
from pipelines.options import SECRET_ENV
from pipelines.runners import DASK_RUNNER
from tests.support.expected import DATABASE_ID, REQUEST_ID, RUN_TS, manifest_name
from tests.support.exports import REPO, export, export_ok, folder_bytes, load_manifest
from tests.support.stores import GEN_END, GEN_END_DATE, GEN_START, ms, write_store

pytestmark = pytest.mark.slow   # a Dask cluster: scheduler and two worker processes

STORE_PARTS = 4          # generated stores merged into one, so each day is several splits
EVENTS_PER_PART = 1500
BAD_FOLDER = "captured_date=2024-03-09"
BAD_LINES = ["this is not json {", "[1, 2, 3]"]


def dask_args(cluster, runner="DaskRunner"):
    return ["--runner", runner, "--dask_client_address", cluster.address]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """An event store of STORE_PARTS generated stores (hostile names and values) in one, several files a
    day, plus a JSON Lines file with bad records; and its profiles."""
    base = tmp_path_factory.mktemp("dask-store")
    events = base / "events"
    for part in range(STORE_PARTS):
        generate(base / f"g{part}", EVENTS_PER_PART, 3, "parquet", seed=20 + part, end=GEN_END_DATE, hostile=True)
        for path in sorted((base / f"g{part}" / "events").glob("*/*.parquet")):
            (events / path.parent.name).mkdir(parents=True, exist_ok=True)
            shutil.move(path, events / path.parent.name / f"part-{part}-{path.name}")
    good = {"event_id": "jsonl-1", "event_name": "From JSON Lines", "event_time": ms("2024-03-09T12:00:00Z"),
            "captured_at": ms("2024-03-09T12:00:01Z"), "profile": {"identity": "u1"}, "device_info": {},
            "event_props": {"n": 1}}
    write_store(events, {BAD_FOLDER: [[good, *BAD_LINES]]}, "jsonl")
    return {"events": str(events), "profiles": str(base / "g0" / "profiles")}


@pytest.mark.parametrize("fmt,extra", [("json", ("--max_file_bytes", "20000")), ("xml", ()), ("csv", ()),
                                       ("parquet", ()), ("avro", ())])
def test_dask_export_is_byte_identical_to_in_process(store, dask_cluster, tmp_path, fmt, extra):
    local = export_ok(store["events"], tmp_path / "local", fmt, GEN_START, GEN_END, *extra)
    with dask_cluster.client() as client, get_task_stream(client) as tasks:
        on_dask = export_ok(store["events"], tmp_path / "dask", fmt, GEN_START, GEN_END, *extra,
                            *dask_args(dask_cluster))
    assert folder_bytes(on_dask) == folder_bytes(local)
    manifest = load_manifest(on_dask)
    assert manifest["rejects"]["rows"] == len(BAD_LINES)
    assert len({o["event_name"] for o in manifest["objects"]}) > 10
    per_worker = {}
    for task in tasks.data:
        per_worker[task["worker"]] = per_worker.get(task["worker"], 0) + 1
    assert len(per_worker) == 2 and min(per_worker.values()) >= 2, per_worker   # both workers worked


def test_dask_profiles_and_selected_hostile_events(store, dask_cluster, tmp_path):
    """Also the runner's dotted name, which Beam itself would take."""
    for kind, args in (("profiles", (store["profiles"], "parquet", GEN_START, GEN_END, "--export_type",
                                     "all_profiles", "--time_basis", "capture")),
                       ("select", (store["events"], "json", GEN_START, GEN_END, "--export_type", "select_events",
                                   "--events", 'User\'s "Quote" Event', "--events", "Items, Bought",
                                   "--max_reject_fraction", "1"))):
        source, fmt, start, end, *extra = args
        local = export_ok(source, tmp_path / f"{kind}-local", fmt, start, end, *extra)
        on_dask = tmp_path / f"{kind}-dask"
        status, text = export(source, on_dask, fmt, start, end, *extra, *dask_args(dask_cluster, DASK_RUNNER))
        assert status == 0, text
        assert folder_bytes(on_dask) == folder_bytes(local)
        totals = load_manifest(on_dask)["totals"]
        assert totals["rows"] > 0   # the DaskRunner has no metrics: the summary comes from the manifest
        assert text.startswith(f"exported {totals['objects']} objects, {totals['rows']:,} rows"), text


def _keys(client, bucket, prefix=""):
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def _s3_export(server, store, monkeypatch, *extra):
    """Export the store to a new customer bucket (least-privilege key) at exports/; return (bucket, mark)."""
    bucket = f"cust-{uuid.uuid4().hex[:12]}"
    key = provision_least_privilege(server, bucket)
    monkeypatch.setenv(SECRET_ENV, key.secret_access_key)
    mark = server.mark()
    status, text = export(store["events"], f"s3://{bucket}/exports", "csv", GEN_START, GEN_END,
                          "--destination_endpoint_url", server.endpoint_url, "--destination_path_style",
                          "--destination_access_key_id", key.access_key_id, *extra)
    assert status == 0, text
    return bucket, mark


def test_spill_goes_to_the_platform_bucket_and_the_customer_sees_only_list_and_put(
        server, store, dask_cluster, monkeypatch):
    in_process, _ = _s3_export(server, store, monkeypatch)
    for name, value in dask_cluster.platform_env.items():   # the launcher, like the workers, is the platform
        monkeypatch.setenv(name, value)
    platform = dask_cluster.platform_bucket
    bucket, mark = _s3_export(server, store, monkeypatch, "--temp_location", f"s3://{platform}/spill",
                              "--s3_endpoint_url", server.endpoint_url, *dask_args(dask_cluster))
    requests = server.requests_since(mark)
    to_customer = [r for r in requests if r.path.split("/")[1] == bucket]
    assert server.object_access_violations(mark, bucket) == []
    assert {r.method for r in to_customer} <= {"GET", "PUT", "POST"}
    assert {r.path for r in to_customer if r.method == "GET"} == {f"/{bucket}"}   # the one listing
    assert all(r.status < 400 for r in to_customer)
    spilled = {r.path for r in requests if r.method == "PUT" and r.path.startswith(f"/{platform}/spill/")}
    assert any(path.endswith(".arrow") for path in spilled), "pieces did not go to the platform bucket"
    admin = server.admin_client()
    assert _keys(admin, platform, "spill/") == []          # removed after the run

    def objects(name):
        return {k: admin.get_object(Bucket=name, Key=k)["Body"].read() for k in _keys(admin, name)}

    assert objects(bucket) == objects(in_process)


def test_dask_refuses_a_remote_scheduler_without_shared_temp_storage(store, tmp_path):
    status, text = export(store["events"], tmp_path, "json", GEN_START, GEN_END, "--runner", "DaskRunner",
                          "--dask_client_address", "tcp://dask-scheduler.cluster.invalid:8786")
    assert status == 2 and "--temp_location" in text, text


def _wait_for(condition, process, timeout=300):
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the export did not get that far"
        time.sleep(0.02)


def _export_command(store, dest, cluster, extra):
    return [sys.executable, "-m", "pipelines.export", "--source", store["events"], "--destination", str(dest),
            "--format", "json", "--start", GEN_START, "--end", GEN_END, "--request_id", REQUEST_ID,
            "--run_timestamp", RUN_TS, "--database_id", DATABASE_ID, *extra, *dask_args(cluster)]


def _run_and_kill_a_worker(command, cluster, dest):
    """Start the export, and once it writes objects, SIGKILL a worker that is running a task; return
    (the finished process, whether the manifest was still absent at the kill, stderr)."""
    with subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as run:
        _wait_for(lambda: dest.is_dir() and any(dest.glob("*.json.gz")), run)
        with cluster.client() as client:
            pids = client.run(os.getpid)
            busy = []

            def some_worker_busy():
                busy[:] = [address for address, keys in client.processing().items() if keys]
                return busy

            _wait_for(some_worker_busy, run)
            os.kill(pids[busy[0]], signal.SIGKILL)
        before_the_manifest = not (dest / manifest_name()).exists()
        _, err = run.communicate(timeout=600)
    return run, before_the_manifest, err


def test_a_worker_killed_mid_run_loses_nothing(store, tmp_path):
    """Bare workers (no nanny): the killed one stays dead, and Dask gives its tasks to the other."""
    extra = ["--max_file_bytes", "8192"]
    local = export_ok(store["events"], tmp_path / "local", "json", GEN_START, GEN_END, *extra)
    dest = tmp_path / "dask"
    with LocalDaskCluster(workers=2, threads=1, nanny=False) as cluster:
        run, before_the_manifest, err = _run_and_kill_a_worker(_export_command(store, dest, cluster, extra),
                                                               cluster, dest)
    assert before_the_manifest
    assert run.returncode == 0, err
    assert folder_bytes(dest) == folder_bytes(local)


def test_a_run_the_cluster_gives_up_on_says_so_and_a_rerun_completes_it(store, tmp_path):
    """A scheduler that allows no failure gives up on the task the killed worker was running: the export
    says the cluster lost the run, leaves no manifest, and a rerun with the same --run_timestamp gives
    the in-process objects, byte for byte."""
    extra = ["--max_file_bytes", "8192"]
    local = export_ok(store["events"], tmp_path / "local", "json", GEN_START, GEN_END, *extra)
    dest = tmp_path / "dask"
    strict = {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    with LocalDaskCluster(workers=2, threads=1, nanny=False, env=strict) as cluster:
        command = _export_command(store, dest, cluster, extra)
        run, _, err = _run_and_kill_a_worker(command, cluster, dest)
        assert run.returncode == 1, err
        # one line says what happened (a slow run may print progress lines before it)
        errors = [line for line in err.splitlines() if not line.startswith("progress: ")]
        assert len(errors) == 1 and "lost the run" in errors[0] and "rerun with the same --run_timestamp" in errors[0]
        assert not (dest / manifest_name()).exists()
        cluster.add_worker()
        cluster.wait_for_workers(2)
        rerun = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert folder_bytes(dest) == folder_bytes(local)
