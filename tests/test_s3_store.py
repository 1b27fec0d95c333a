"""The event and profile store on the platform's S3, read by every runner, exported to a customer's bucket
on another S3 server (tests/support/s3_worlds.py): the objects equal those of the same store in a local folder,
byte for byte, and the two S3 worlds never meet (which key signed what, which bucket each server saw)."""

import os
import uuid

import pytest

from devtools.local_s3 import Credentials, platform_policy, provision_least_privilege
from tests.support.exports import REPO, export_ok, folder_bytes
from tests.support.s3_worlds import (BAD_LINES, Customer, Platform, assert_worlds_apart,  # noqa: F401 (fixtures)
                                     bucket_objects, customer_server, export_from_s3, land_store, local_store,
                                     manifest_of, new_customer, platform, without_aws_environment)
from tests.support.stores import GEN_END, GEN_START

TWO_PROCESSES = ("--direct_num_workers=2", "--direct_running_mode=multi_processing")


@pytest.fixture(scope="module")
def local_export(local_store, tmp_path_factory):
    """local_export(kind, fmt, *extra) -> folder of that export of the local store (cached)."""
    cache = {}

    def get(kind, fmt, *extra):
        if (kind, fmt, extra) not in cache:
            dest = tmp_path_factory.mktemp(f"local-{kind}-{fmt}")
            cache[(kind, fmt, extra)] = folder_bytes(export_ok(local_store / kind, dest, fmt, GEN_START, GEN_END,
                                                               *extra))
        return cache[(kind, fmt, extra)]

    return get


def _export(platform, customer, kind, fmt, *extra):
    """Export the platform's store to the customer; return (status, text, the two servers' marks)."""
    marks = platform.server.mark(), customer.server.mark()
    status, text = export_from_s3(platform.store(kind), customer, fmt, GEN_START, GEN_END,
                                  "--s3_endpoint_url", platform.server.endpoint_url, *extra)
    return status, text, marks


@pytest.mark.parametrize("fmt, extra", [("json", ()), ("parquet", ()),
                                        ("json", ("--captured_before", "2024-03-09T00:00:00Z"))])
def test_in_process_with_beams_key_options_equals_the_local_store(platform, customer_server, local_export,
                                                                 monkeypatch, fmt, extra):
    """The platform key as Beam's --s3_access_key_id: nothing of AWS's in the environment. With a capture
    ceiling at midnight, all later data is in the folders from the ceiling on (the bad lines' among them),
    which are only counted, in every store format, alike on S3."""
    without_aws_environment(monkeypatch)
    customer = new_customer(customer_server, monkeypatch)
    status, text, marks = _export(platform, customer, "events", fmt, *platform.beam_options(), *extra)
    assert status == 0, text
    assert_worlds_apart(platform, marks[0], customer, marks[1])   # before anything reads the buckets
    assert bucket_objects(customer) == local_export("events", fmt, *extra)
    manifest = manifest_of(bucket_objects(customer))
    assert (manifest["reconciliation"]["later"] > 0) == bool(extra)
    assert manifest["rejects"]["rows"] == (0 if extra else len(BAD_LINES))
    assert len({o["event_name"] for o in manifest["objects"]}) > 10


def _platform_environment(platform, monkeypatch):
    """The platform key in the environment (boto3's standard chain), as a worker's role gives it."""
    without_aws_environment(monkeypatch)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", platform.key.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", platform.key.secret_access_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", platform.server.region)


@pytest.mark.slow
def test_multi_processing_workers_with_the_key_in_their_environment(platform, customer_server, local_export,
                                                                    monkeypatch):
    _platform_environment(platform, monkeypatch)
    customer = new_customer(customer_server, monkeypatch)
    status, text, marks = _export(platform, customer, "events", "csv", *TWO_PROCESSES)
    assert status == 0, text
    assert_worlds_apart(platform, marks[0], customer, marks[1])   # before anything reads the buckets
    assert bucket_objects(customer) == local_export("events", "csv")


def test_profiles_from_the_platforms_s3(platform, customer_server, local_export, monkeypatch):
    _platform_environment(platform, monkeypatch)
    customer = new_customer(customer_server, monkeypatch)
    extra = ("--export_type", "all_profiles", "--time_basis", "capture")
    status, text, marks = _export(platform, customer, "profiles", "json", *extra)
    assert status == 0, text
    assert_worlds_apart(platform, marks[0], customer, marks[1])   # before anything reads the buckets
    objects = bucket_objects(customer)
    assert objects == local_export("profiles", "json", *extra)
    assert any("-profiles-" in name for name in objects)


def _nothing_written(customer, mark):
    assert [r.method for r in customer.server.requests_since(mark)] == ["GET"]   # the preflight's listing
    assert bucket_objects(customer) == {}


def test_a_missing_store_names_it_and_writes_nothing(platform, customer_server, monkeypatch):
    _platform_environment(platform, monkeypatch)
    customer = new_customer(customer_server, monkeypatch)
    missing = f"s3://{platform.bucket}/store/evnets"
    mark = customer.server.mark()
    status, text = export_from_s3(missing, customer, "json", GEN_START, GEN_END, "--s3_endpoint_url",
                                  platform.server.endpoint_url)
    assert status == 2 and f"--source {missing!r} holds no objects" in text, text
    _nothing_written(customer, mark)


def test_a_denied_read_names_the_file_and_writes_nothing(platform, customer_server, monkeypatch):
    """A platform key that may list the bucket and read only the profiles."""
    key = provision_least_privilege(platform.server, platform.bucket, user_name=f"no-events-{platform.bucket}",
                                    create_bucket=False,
                                    policy=platform_policy(platform.bucket, store_prefix="store/profiles/"))
    narrow = Platform(platform.server, platform.bucket, key)
    without_aws_environment(monkeypatch)
    customer = new_customer(customer_server, monkeypatch)
    mark = customer.server.mark()
    status, text, _ = _export(narrow, customer, "events", "json", *narrow.beam_options())
    assert status == 2, text
    assert f"store file 's3://{platform.bucket}/store/events/captured_date=" in text, text
    assert "cannot be read: access denied" in text and "needs s3:GetObject on it" in text, text
    _nothing_written(customer, mark)


def test_a_file_gone_after_the_listing_names_it_and_writes_nothing(platform, customer_server, local_store,
                                                                   monkeypatch):
    """Seeded fault: one store file is deleted between the listing and the read."""
    import pipelines.export
    _platform_environment(platform, monkeypatch)
    customer = new_customer(customer_server, monkeypatch)
    listed = pipelines.export.list_store
    gone = []

    def list_then_delete(*args):
        splits, later = listed(*args)
        gone.append(splits[len(splits) // 2])
        platform.server.admin_client().delete_object(Bucket=platform.bucket, Key=gone[0].split("/", 3)[3])
        return splits, later

    monkeypatch.setattr(pipelines.export, "list_store", list_then_delete)
    mark = customer.server.mark()
    try:
        status, text, _ = _export(platform, customer, "events", "json")
    finally:
        land_store(platform.server, platform.bucket, local_store)   # the store whole again for the other tests
    assert status == 2 and f"store file {gone[0]!r} disappeared after the store was listed" in text, text
    _nothing_written(customer, mark)


@pytest.mark.slow
def test_dask_workers_with_only_the_platform_key_equal_the_local_store(dask_cluster, server, customer_server,
                                                                        local_store, local_export, monkeypatch):
    """Spill under --temp_location in the platform bucket; the launcher, like the workers, holds the platform
    key in its environment alone."""
    env = dask_cluster.platform_env
    cluster_platform = Platform(server, dask_cluster.platform_bucket,
                                Credentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]))
    land_store(server, cluster_platform.bucket, local_store)
    without_aws_environment(monkeypatch)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    customer = new_customer(customer_server, monkeypatch)
    extra = ("--max_file_bytes", "20000")
    status, text, marks = _export(cluster_platform, customer, "events", "json", *extra,
                                  "--temp_location", f"s3://{cluster_platform.bucket}/spill/s3-store",
                                  "--runner", "DaskRunner", "--dask_client_address", dask_cluster.address)
    assert status == 0, text
    assert_worlds_apart(cluster_platform, marks[0], customer, marks[1])   # before anything reads the buckets
    assert bucket_objects(customer) == local_export("events", "json", *extra)
    spilled = [r for r in server.requests_since(marks[0]) if r.method == "PUT" and "/spill/s3-store/" in r.path]
    assert spilled, "no piece went through the platform bucket"
    assert server.admin_client().list_objects_v2(Bucket=cluster_platform.bucket,
                                                 Prefix="spill/s3-store/").get("KeyCount") == 0


@pytest.mark.slow
def test_a_recurring_window_driven_by_the_scheduler_from_an_s3_store(platform, customer_server, local_store,
                                                                      tmp_path):
    """The account's store is s3://; the deployment's platform S3 settings say how to reach it, the platform key is
    in the scheduler's environment; the tenant's destination is on the customer's server. Each window's objects
    equal an export of the local store with the run's own options."""
    from control.models import runs
    import sqlalchemy as sa
    from tests.support.control_deployment import ee
    customer_bucket = f"cust-{uuid.uuid4().hex[:12]}"
    key = provision_least_privilege(customer_server, customer_bucket, region="eu-west-1")
    db = f"sqlite:///{tmp_path}/eventexport.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "EVENTEXPORT_"))}
    env.update(PYTHONPATH=str(REPO), EVENTEXPORT_DB=db, EVENTEXPORT_KEY_FILE=str(tmp_path / "master.key"),
               EVENTEXPORT_EVENT_STORE=platform.store("events"), EVENTEXPORT_MANIFESTS=str(tmp_path / "manifests"),
               EVENTEXPORT_DATABASE_ID="eu1", EVENTEXPORT_PLATFORM_S3_ENDPOINT_URL=platform.server.endpoint_url,
               EVENTEXPORT_PLATFORM_S3_REGION=platform.server.region, AWS_ACCESS_KEY_ID=platform.key.access_key_id,
               AWS_SECRET_ACCESS_KEY=platform.key.secret_access_key,
               EVENTEXPORT_ALLOW_PRIVATE_ENDPOINTS="true")   # the customer's S3 server is on 127.0.0.1
    deployment = {"env": env, "key": key, "tmp": tmp_path}
    done = ee(deployment, "destination", "add", "--name", "acme", "--bucket", customer_bucket, "--data-region", "EU",
              "--access-key-id", key.access_key_id, "--endpoint-url", customer_server.endpoint_url, "--path-style")
    assert done.returncode == 0, done.stderr
    created = ee(deployment, "export", "create", "--destination", "acme", "--type", "all_events", "--format", "json",
                 "--frequency", "recurring", "--every", "4h", "--now", "2024-03-10T00:00:00+00:00")
    assert created.returncode == 0, created.stderr
    request = created.stdout.strip()
    customer = Customer(customer_server, customer_bucket, key)
    marks = platform.server.mark(), customer_server.mark()
    done = ee(deployment, "run", "--as-of", "2024-03-10T08:05:00+00:00")
    assert done.returncode == 0 and done.stdout.count(": Done, ") == 2, done.stdout + done.stderr
    assert_worlds_apart(platform, marks[0], customer, marks[1])
    mark_read = [r for r in platform.server.recorded_since(marks[0]) if r.path.endswith("/events/_watermark.json")]
    assert mark_read, "the scheduler did not read the store's mark on the platform's S3"
    objects = bucket_objects(customer)
    with sa.create_engine(db).connect() as connection:
        done_runs = connection.execute(sa.select(runs).where(runs.c.request_id == request)).all()
    assert len(done_runs) == 2
    for run in done_runs:
        local = export_ok(local_store / "events", tmp_path / f"local-{run.run_timestamp}", "json",
                          f"{run.window_start:%Y-%m-%dT%H:%M:%S}Z", f"{run.window_end:%Y-%m-%dT%H:%M:%S}Z",
                          "--time_basis", "capture", "--request_id", request, "--run_timestamp", run.run_timestamp,
                          "--captured_before", run.captured_before, "--database_id", "eu1")
        mine = {name: data for name, data in objects.items() if name.startswith(f"{request}-{run.run_timestamp}-")}
        assert mine == folder_bytes(local) and len(mine) > 5
