"""`make demo-cluster`: one export through a local dask.distributed cluster into the local S3 server.

It starts a scheduler and two single-threaded workers (separate processes, as on a real cluster) and a
local S3 server (moto, IAM enforced) holding the customer's bucket, with a key that may only list it
and put objects, and the platform's own bucket, whose key the workers have in their environment (a real
cluster's workers get it from their role): it may read the store and use the spill prefix, nothing else.
It generates a sample store and lands it in the platform bucket, as an ingester would, runs the export
from there with `--runner DaskRunner`, spilling through the platform bucket, lists the customer's bucket
with the customer's key, shows where the objects are and the Dask dashboard address, and stops everything.
The platform's S3 is Beam's --s3_endpoint_url and --s3_region_name; the customer's the --destination_*
options: the two never share a setting or a key (docs/s3-store.md).
"""

import datetime as dt
import os
import shutil
import subprocess
import sys

from devtools import generate
from devtools.demo import SHOWN, demo_parser, run_demo, show_bucket
from devtools.local_dask import LocalDaskCluster
from devtools.local_s3 import LocalS3Server, platform_policy, provision_least_privilege, upload_tree
from pipelines.options import SECRET_ENV

__all__ = ["main"]

BUCKET = "acme-analytics-exports"
PLATFORM_BUCKET = "acme-platform"   # the platform's own: store/ (the store), spill/ (the shuffle's pieces)
PREFIX = "eventexport"
REGION = "eu-west-1"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None):
    parser = demo_parser("devtools.demo_cluster", __doc__, "demo-cluster-out", 20_000)
    parser.add_argument("--format", default="json")
    return run_demo(_run, parser.parse_args(argv))


def _run(args):
    workdir = os.path.abspath(args.workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    today = dt.datetime.now(dt.timezone.utc).date()
    store = os.path.join(workdir, "store")
    counts = generate.generate(store, args.events, 3, "parquet", seed=7, end=today, hostile=True)
    with LocalS3Server(region=REGION) as server:
        key = provision_least_privilege(server, BUCKET, region=REGION)
        platform = provision_least_privilege(server, PLATFORM_BUCKET, region=REGION,
                                             policy=platform_policy(PLATFORM_BUCKET))
        files = upload_tree(server, store, PLATFORM_BUCKET, "store/")
        platform_env = {"AWS_ACCESS_KEY_ID": platform.access_key_id, "AWS_SECRET_ACCESS_KEY":
                        platform.secret_access_key, "AWS_DEFAULT_REGION": REGION}
        print(f"local S3 at {server.endpoint_url}: customer bucket {BUCKET} (list + put only), platform bucket "
              f"{PLATFORM_BUCKET} (its key reads store/ and uses spill/)", flush=True)
        print(f"sample store: {counts['events']:,} events in {files} files at s3://{PLATFORM_BUCKET}/store/events",
              flush=True)
        with LocalDaskCluster(workers=2, threads=1, dashboard=True, env=platform_env) as cluster:
            print(f"dask scheduler at {cluster.address}, 2 workers x 1 thread", flush=True)
            print(f"dask dashboard: {cluster.dashboard or 'not available (pip install bokeh)'}", flush=True)
            command = [sys.executable, "-m", "pipelines.export", "--source", f"s3://{PLATFORM_BUCKET}/store/events",
                       "--destination", f"s3://{BUCKET}/{PREFIX}", "--format", args.format,
                       "--start", f"{today - dt.timedelta(days=2)}T00:00:00Z", "--end", f"{today + dt.timedelta(days=1)}T00:00:00Z",
                       "--request_id", "demo-cluster", "--database_id", "eu1",
                       "--manifest_copy", os.path.join(workdir, "manifests"),
                       "--s3_endpoint_url", server.endpoint_url, "--s3_region_name", REGION,
                       "--destination_endpoint_url", server.endpoint_url, "--destination_path_style",
                       "--destination_region", REGION,
                       "--destination_access_key_id", key.access_key_id,
                       "--runner", "DaskRunner", "--dask_client_address", cluster.address,
                       "--temp_location", f"s3://{PLATFORM_BUCKET}/spill"]
            shown = ["<customer key id>" if part == key.access_key_id else part for part in command[3:]]
            print("$ python -m pipelines.export " + " ".join(shown), flush=True)
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            env.update(platform_env, **{SECRET_ENV: key.secret_access_key})
            done = subprocess.run(command, env=env, cwd=ROOT, text=True)  # nosec B603  # our interpreter, no shell
            if done.returncode:
                return done.returncode
        print("dask cluster stopped", flush=True)
        listed = show_bucket(server, key, BUCKET, PREFIX, REGION)
        manifest = [name for name in listed if name.endswith("-manifest.json")]
        print(f"  ... {max(0, len(listed) - SHOWN)} more; the manifest is s3://{BUCKET}/{manifest[0]}")
        left = server.admin_client().list_objects_v2(Bucket=PLATFORM_BUCKET, Prefix="spill/").get("KeyCount", 0)
        print(f"platform bucket's spill/ after the run: {left} objects (spill pieces are removed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
