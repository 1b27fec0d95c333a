"""An export killed with SIGKILL at exact points of its run, to a local folder and to S3: no torn object
and no manifest is left, and the rerun writes exactly what an uninterrupted run writes.

The exporter runs as a child process (tests/support/kill_child.py) that stops at the chosen point and announces
it; for S3 the fault proxy holds the chosen request instead, so a part upload is cut in the middle.
"""

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import pytest

from devtools.local_s3 import provision_least_privilege
from pipelines.options import SECRET_ENV
from tests.support import reliability
from tests.support.expected import DATABASE_ID, REQUEST_ID, RUN_TS, manifest_name
from tests.support.exports import REPO, export
from tests.support.fault_fixtures import FAULT_END, FAULT_START, SMALL_PART
from tests.support.s3_faults import FaultProxy
from transforms.sinks import s3

pytestmark = pytest.mark.slow   # exporters killed at exact points, each a child process

_PATIENCE = 240  # seconds a child may take to reach its point on a loaded machine; never reached when healthy


def _export_args(source, destination, *extra):
    return ["--source", source, "--destination", destination, "--format", "json", "--request_id", REQUEST_ID,
            "--run_timestamp", RUN_TS, "--database_id", DATABASE_ID, "--start", FAULT_START, "--end", FAULT_END,
            *extra]


def _start_child(pause, marker, part_bytes, args, env=None):
    env = dict(os.environ, PYTHONPATH=str(REPO), **(env or {}))
    command = [sys.executable, "-m", "tests.support.kill_child", pause, str(marker), str(part_bytes), *args]
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _kill_when(child, reached):
    """SIGKILL the child once `reached()` holds; fail if it ends or stalls before."""
    deadline = time.monotonic() + _PATIENCE
    while not reached():
        if child.poll() is not None:
            pytest.fail(f"the export ended (status {child.returncode}) before its kill point: {child.stderr.read()}")
        if time.monotonic() > deadline:
            child.kill()
            pytest.fail("the export never reached its kill point")
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stderr.close()
    assert child.returncode == -signal.SIGKILL


def _no_torn_object(files, calm):
    """What a killed run left: whole objects of the calm run, never the manifest, never a part of one."""
    assert manifest_name() not in files
    assert all(name in calm and data == calm[name] for name, data in files.items()), sorted(files)


def _spilled(folder):
    """Our spill folders in `folder` (Beam keeps its own temp files there too)."""
    return [name for name in os.listdir(folder) if name.startswith("eventexport-")]


LOCAL_POINTS = {
    "while reading the store": "read:2",
    "halfway through the first object": "half:1",
    "between objects": "put:3",
    "halfway through the manifest": "half:last",
}


@pytest.mark.reliability
@pytest.mark.parametrize("point", LOCAL_POINTS)
def test_killed_export_to_a_local_folder_reruns_to_the_same_objects(fault_store, fault_calm, tmp_path, monkeypatch,
                                                                    point):
    source, ids = fault_store
    dest, marker, spill = tmp_path / "out", tmp_path / "reached", tmp_path / "spill"
    spill.mkdir()
    pause = LOCAL_POINTS[point].replace("last", str(len(fault_calm)))   # the manifest is the last write
    child = _start_child(pause, marker, 0, _export_args(source, str(dest)), env={"TMPDIR": str(spill)})
    _kill_when(child, marker.exists)
    assert len(_spilled(spill)) == 1, "the killed run's spilled rows are left behind"
    left = reliability.folder_files(dest)
    _no_torn_object(left, fault_calm)
    if pause.startswith("half"):
        assert [name for name in os.listdir(dest) if name.startswith(".")], "the kill was not mid-write"
    monkeypatch.setattr(tempfile, "tempdir", str(spill))
    status, text = export(source, dest, "json", FAULT_START, FAULT_END)
    assert status == 0, text
    assert sorted(os.listdir(dest)) == sorted(fault_calm), "a rerun leaves nothing else behind"
    assert _spilled(spill) == [], "nor any spilled rows, its own or the killed run's"
    reliability.account_export("kills", f"local folder, {point} ({len(left)} objects left)",
                               reliability.folder_files(dest), fault_calm, ids)


S3_POINTS = {
    "mid-part of a multipart upload": ("UploadPart", 2),
    "before the multipart upload completes": ("CompleteMultipartUpload", 1),
    "between objects": ("PutObject", 3),
}


@pytest.mark.reliability
@pytest.mark.parametrize("point", S3_POINTS)
def test_killed_export_to_s3_reruns_to_the_same_objects(small_parts_server, fault_store, fault_calm, monkeypatch,
                                                         point):
    source, ids = fault_store
    bucket = f"kills-{uuid.uuid4().hex[:12]}"
    key = provision_least_privilege(small_parts_server, bucket)
    reached, release = threading.Event(), threading.Event()

    def hold(operation, number):
        """Keep the chosen request waiting until the exporter is dead, then drop it half read."""
        if (operation, number) == S3_POINTS[point]:
            reached.set()
            release.wait(_PATIENCE)
            return "reset"
        return None

    s3_args = ["--destination_path_style", "--destination_access_key_id", key.access_key_id]
    destination = f"s3://{bucket}/kills"
    with FaultProxy(small_parts_server.endpoint_url, on_request=hold) as proxy:
        child = _start_child("none", "unused", SMALL_PART,
                             _export_args(source, destination, "--destination_endpoint_url", proxy.endpoint_url,
                                          *s3_args),
                             env={SECRET_ENV: key.secret_access_key})
        try:
            _kill_when(child, reached.is_set)
        finally:
            release.set()
    left = reliability.bucket_files(small_parts_server, bucket, "kills/")
    _no_torn_object(left, fault_calm)
    if "multipart" in point:   # parts were sent, but an upload that was never completed shows no object
        assert small_parts_server.admin_client().list_multipart_uploads(Bucket=bucket).get("Uploads")
        assert not [name for name in left if len(fault_calm[name]) > SMALL_PART]
    monkeypatch.setattr(s3, "MULTIPART_THRESHOLD", SMALL_PART)
    monkeypatch.setattr(s3, "PART_BYTES", SMALL_PART)
    monkeypatch.setenv(SECRET_ENV, key.secret_access_key)
    status, text = export(source, destination, "json", FAULT_START, FAULT_END, "--destination_endpoint_url",
                          small_parts_server.endpoint_url, *s3_args)
    assert status == 0, text
    reliability.account_export("kills", f"S3, {point} ({len(left)} objects left)",
                               reliability.bucket_files(small_parts_server, bucket, "kills/"), fault_calm, ids,
                               same_manifest=False)
