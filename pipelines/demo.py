"""`make demo`: the whole product on embedded defaults, offline, in about a minute.

It generates a sample event store, starts a local S3 server (moto, IAM enforced), creates a bucket and
a key holding exactly the least-privilege policy customers give us, tests that destination, exports
every format to it with that key, verifies the run by listing alone, and lists what was written.
"""

import argparse
import datetime as dt
import os
import shutil
import sys

from pipelines import export, generate
from pipelines.local_s3 import LocalS3Server, provision_least_privilege
from transforms.formats import FORMATS
from transforms.s3 import S3Settings
from transforms.s3_checks import check_destination, list_objects

__all__ = ["main"]

BUCKET = "acme-analytics-exports"
PREFIX = "eventexport"
DATA_REGION, REGION = "EU", "eu-west-1"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m pipelines.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", default="demo-out")
    parser.add_argument("--events", type=int, default=50_000)
    args = parser.parse_args(argv)
    shutil.rmtree(args.workdir, ignore_errors=True)
    end = dt.date(2026, 11, 27)
    store = os.path.join(args.workdir, "store")
    counts = generate.generate(store, args.events, 3, "parquet", seed=7, end=end, hostile=True)
    print(f"1. sample store: {counts['events']:,} events, {counts['profiles']:,} profiles in {store}")
    with LocalS3Server(region=REGION) as server:
        key = provision_least_privilege(server, BUCKET, region=REGION)
        os.environ.update(key.as_env())   # the customer's key reaches the exporter by the standard chain
        settings = S3Settings(region=REGION, endpoint_url=server.endpoint_url, path_style=True)
        print(f"2. local S3 at {server.endpoint_url}: bucket {BUCKET}, a key that may only list it and put")
        check_destination(settings, BUCKET, PREFIX + "/", DATA_REGION)
        print(f"3. connection test passed (list, put marker, region {REGION} for data region {DATA_REGION})")
        common = ["--source", os.path.join(store, "events"), "--destination", f"s3://{BUCKET}/{PREFIX}",
                  "--start", f"{end - dt.timedelta(days=2)}T00:00:00Z", "--end", f"{end}T00:00:00Z",
                  "--database_id", "eu1", "--run_timestamp", f"{end:%Y%m%d}000000",
                  "--s3_endpoint_url", server.endpoint_url, "--s3_region", REGION, "--s3_path_style",
                  "--manifest_copy", os.path.join(args.workdir, "manifests")]
        for fmt in FORMATS:
            status, text = export.run(common + ["--format", fmt, "--request_id", f"demo-{fmt}"])
            print(f"4. export {fmt}: {text.splitlines()[0]}")
            if status:
                return status
        status, text = export.run(
            ["--source", os.path.join(store, "profiles"), "--destination", f"s3://{BUCKET}/{PREFIX}",
             "--export_type", "all_profiles", "--end", f"{end}T00:00:00Z", "--format", "csv",
             "--request_id", "demo-profiles"] + common[4:])
        print(f"5. profiles: {text.splitlines()[0]}")
        listed = list_objects(settings, BUCKET, PREFIX + "/")
        print(f"6. the bucket, listed with the customer's key: {len(listed)} objects, "
              f"{sum(size for size, _ in listed.values()):,} bytes")
        for name in sorted(listed)[:12]:
            print(f"   {listed[name][0]:>9,}  s3://{BUCKET}/{name}")
        print(f"   ... and {max(0, len(listed) - 12)} more; manifests kept in {args.workdir}/manifests")
    return status


if __name__ == "__main__":
    sys.exit(main())
