"""The session's dask.distributed cluster (scheduler + two single-threaded workers, separate processes),
with the platform's own S3 key in the workers' environment, as a real deployment gives them a role.

A plugin of tests/conftest.py (pytest_plugins), so that every test module shares one cluster.
"""

import uuid

import pytest

from devtools.local_dask import LocalDaskCluster
from devtools.local_s3 import platform_policy, provision_least_privilege

__all__ = ["dask_cluster", "platform_storage"]


def platform_storage(server):
    """(bucket, environment with its key) of a new platform temp bucket on the local S3 server."""
    bucket = f"platform-{uuid.uuid4().hex[:10]}"
    key = provision_least_privilege(server, bucket, policy=platform_policy(bucket))
    return bucket, {"AWS_ACCESS_KEY_ID": key.access_key_id, "AWS_SECRET_ACCESS_KEY": key.secret_access_key,
                    "AWS_DEFAULT_REGION": server.region}


@pytest.fixture(scope="session")
def dask_cluster(server):
    """A running LocalDaskCluster; `.platform_bucket` and `.platform_env` say what its workers may use."""
    bucket, env = platform_storage(server)
    with LocalDaskCluster(workers=2, threads=1, env=env) as cluster:
        cluster.platform_bucket, cluster.platform_env = bucket, env
        yield cluster
