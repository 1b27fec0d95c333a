"""The control plane runs scheduled windows on a Dask cluster: EVENTEXPORT_RUNNER=DaskRunner with
EVENTEXPORT_RUNNER_OPTIONS=--dask_client_address=..., and the objects are the in-process runner's."""

import datetime as dt
import os
import subprocess
import sys

import pytest

from tests.support.control_deployment import (BEST_DATABASE, ROOT, T0, add_destination, create, deployment,  # noqa: F401
                                              ee, log, store)

pytestmark = pytest.mark.slow   # scheduled runs on the Dask cluster

EVERY = dt.timedelta(hours=12)


@BEST_DATABASE
def test_scheduled_windows_run_on_the_dask_cluster(deployment, dask_cluster, tmp_path):  # noqa: F811
    add_destination(deployment)
    request = create(deployment, "--type", "all_events", "--format", "csv", "--frequency", "recurring",
                     "--every", "12h", now=T0)
    on_dask = dict(deployment, env=dict(deployment["env"], EVENTEXPORT_RUNNER="DaskRunner",
                                        EVENTEXPORT_RUNNER_OPTIONS=f"--dask_client_address={dask_cluster.address}"))
    done = ee(on_dask, "run", "--as-of", (T0 + 2 * EVERY).isoformat())
    assert done.returncode == 0, done.stderr
    entries = log(deployment, "--request-id", request)
    assert [e["status"] for e in entries] == ["Done", "Done"], entries
    assert sum(e["rows"] for e in entries) > 0
    admin = deployment["server"].admin_client()
    for number, entry in enumerate(entries):
        start, end = T0 + number * EVERY, T0 + (number + 1) * EVERY
        stamp = end.strftime("%Y%m%d%H%M%S")
        prefix = f"exports/{request}-{stamp}-"
        keys = [item["Key"] for item in admin.list_objects_v2(Bucket=deployment["bucket"],
                                                              Prefix=prefix).get("Contents", [])]
        uploaded = {k[len("exports/"):]: admin.get_object(Bucket=deployment["bucket"], Key=k)["Body"].read()
                    for k in keys if not k.endswith("-manifest.json")}
        local = tmp_path / f"window-{number}"
        in_process = subprocess.run(
            [sys.executable, "-m", "pipelines.export", "--source", deployment["env"]["EVENTEXPORT_EVENT_STORE"],
             "--destination", str(local), "--format", "csv", "--time_basis", "capture",
             "--start", start.isoformat(), "--end", end.isoformat(), "--request_id", request,
             "--run_timestamp", stamp, "--database_id", "eu1"],
            cwd=ROOT, env=deployment["env"], capture_output=True, text=True, timeout=600)
        assert in_process.returncode == 0, in_process.stderr
        expected = {name: (local / name).read_bytes() for name in os.listdir(local)
                    if not name.endswith("-manifest.json")}
        assert len(expected) == entry["objects"] > 0
        assert uploaded == expected
