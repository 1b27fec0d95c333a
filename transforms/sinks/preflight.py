"""What we can learn about a customer's bucket with a key that may only list it and put objects.

`check_destination` is the connection test run before a destination is saved: it lists, puts a small
marker, and checks the bucket's region against the account's data region. `list_objects` is the listing
that verification.py compares with a finished run's manifest.
"""

import dataclasses

from botocore.exceptions import BotoCoreError, ClientError

from transforms.errors import ConfigError, DestinationError
from transforms.sinks.s3 import classify, client_for, region_name

__all__ = ["DATA_REGIONS", "DATA_REGION_NAMES", "MARKER_NAME", "least_privilege_policy", "preflight",
           "check_destination", "list_objects"]

# The platform keeps each account's data in one region; its exports go to a bucket in the same region.
DATA_REGIONS = {"EU": "eu-west-1", "IN": "ap-south-1", "US": "us-west-2", "SG": "ap-southeast-1",
                "SK": "ap-northeast-2"}
# What the console says of each: the data region, and the bucket's AWS region by its console name.
DATA_REGION_NAMES = {"EU": ("EU", "EU (Ireland) eu-west-1"), "IN": ("India", "Asia Pacific (Mumbai) ap-south-1"),
                     "US": ("US", "US West (Oregon) us-west-2"),
                     "SG": ("Singapore", "Asia Pacific (Singapore) ap-southeast-1"),
                     "SK": ("South Korea", "Asia Pacific (Seoul) ap-northeast-2")}
MARKER_NAME = "eventexport-connection-test.txt"
_MARKER_BODY = b"eventexport wrote this object to test the destination; it is safe to delete.\n"


def least_privilege_policy(bucket, prefix="", kms_key_arn=None):
    """The IAM policy customers give the export key or role: list the bucket, put objects under the prefix,
    nothing else; with SSE-KMS under the customer's own key, also make data keys with that key."""
    statements = [
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [f"arn:aws:s3:::{bucket}"]},
        {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": [f"arn:aws:s3:::{bucket}/{prefix}*"]},
    ]
    if kms_key_arn:
        statements.append({"Effect": "Allow", "Action": ["kms:GenerateDataKey"], "Resource": [kms_key_arn]})
    return {"Version": "2012-10-17", "Statement": statements}


def _bucket_region(client, bucket, settings):
    """The bucket's region, as AWS gives it to a key that may only list and put: HeadBucket is authorised by
    s3:ListBucket there (GetBucketLocation is not, so it is never asked). An S3-compatible server
    (`endpoint_url`) has its own regions, and not every one authorises HeadBucket so (moto checks an
    action that does not exist): there the configured region stands and the bucket sees list and put alone."""
    configured = settings.region or client.meta.region_name
    if settings.endpoint_url:
        return configured
    try:
        headers = client.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPHeaders"]
    except ClientError as error:
        headers = error.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return headers["x-amz-bucket-region"] if region_name(headers.get("x-amz-bucket-region")) else configured


def preflight(settings, bucket, prefix):
    """List the bucket, the one request besides PutObject the key may make, so a bad key, a missing
    bucket or a denied listing fails before the store is read. Returns the listing's response headers."""
    try:
        answer = client_for(settings).list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
    except (ClientError, BotoCoreError) as error:
        raise classify(error, "list", bucket, settings, prefix) from None
    return answer["ResponseMetadata"].get("HTTPHeaders", {})


def check_destination(settings, bucket, prefix, data_region=None):
    """Raise DestinationError (or ConfigError) naming what is wrong; return the bucket's region."""
    expected = None
    if data_region is not None:
        if data_region not in DATA_REGIONS:
            raise ConfigError(f"data region {data_region!r} is not one of {', '.join(DATA_REGIONS)}")
        expected = DATA_REGIONS[data_region]
    if settings.region is None and expected:
        settings = dataclasses.replace(settings, region=expected)
    preflight(settings, bucket, prefix)
    client = client_for(settings)
    region = _bucket_region(client, bucket, settings)
    if expected and region != expected:
        raise DestinationError(
            f"bucket {bucket!r} is in region {region}, but data region {data_region} keeps its data in "
            f"{expected}; use a bucket in {expected}")
    try:
        client_for(settings).put_object(Bucket=bucket, Key=prefix + MARKER_NAME, Body=_MARKER_BODY,
                                        **settings.encryption_args())
    except (ClientError, BotoCoreError) as error:
        raise classify(error, "put", bucket, settings, prefix) from None
    return region


def list_objects(settings, bucket, prefix):
    """{key: (size, etag without quotes)} of every object under `prefix`, by ListObjectsV2 alone."""
    found = {}
    try:
        for page in client_for(settings).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                found[item["Key"]] = (item["Size"], item["ETag"].strip('"'))
    except (ClientError, BotoCoreError) as error:
        raise classify(error, "list", bucket, settings, prefix) from None
    return found
