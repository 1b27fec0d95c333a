"""What a customer pastes into AWS to let us in by role: the trust policy, the permission policy, and both
as one CloudFormation template.

The trust policy names the platform's principal (the deployment's setting, transforms/sinks/credentials.py)
and requires the account's external id, so no other customer of ours can have us assume this role: the
external id is made by us (control/models.py `new_external_id`), shown, and never taken from a customer.
The permission policy is the key's (list the bucket, put under the prefix, the customer's KMS key if any).
"""

import json

from control.destinations import folder_prefix
from transforms.sinks.credentials import platform_principal
from transforms.sinks.preflight import least_privilege_policy

__all__ = ["trust_policy", "permission_policy", "cloudformation_template", "role_setup", "PLACEHOLDER_PRINCIPAL"]

PLACEHOLDER_PRINCIPAL = "arn:aws:iam::PLATFORM-ACCOUNT-ID:root"   # shown while the deployment names none


def trust_policy(external_id, principal=None):
    """Who may assume the role: our principal, and only with the account's external id."""
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": principal or platform_principal() or PLACEHOLDER_PRINCIPAL},
        "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": external_id}}}]}


def permission_policy(bucket, prefix="", sse_kms_key_id=None):
    """What the role (or the key) may do: list the bucket, put under the prefix, use the customer's KMS key.
    The KMS grant needs the key's ARN; a key id or alias alone is left out (the customer adds it by ARN)."""
    kms = sse_kms_key_id if (sse_kms_key_id or "").startswith("arn:") else None
    return least_privilege_policy(bucket, folder_prefix(prefix), kms)


def cloudformation_template(external_id, bucket, prefix="", sse_kms_key_id=None, principal=None):
    """A template that makes the role with both policies; its output is the ARN to paste back."""
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"A role eventexport assumes to list s3://{bucket} and put objects under "
                       f"{folder_prefix(prefix) or 'its root'}, nothing else",
        "Resources": {"EventExportRole": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": trust_policy(external_id, principal),
            "MaxSessionDuration": 3600,
            "Policies": [{"PolicyName": "eventexport-list-and-put",
                          "PolicyDocument": permission_policy(bucket, prefix, sse_kms_key_id)}]}}},
        "Outputs": {"RoleArn": {"Description": "Paste this into the destination's Role ARN",
                                "Value": {"Fn::GetAtt": ["EventExportRole", "Arn"]}}},
    }


def role_setup(external_id, bucket, prefix="", sse_kms_key_id=None):
    """The texts the console shows (indented JSON): trust policy, permission policy, CloudFormation template."""
    return {"trust_policy": json.dumps(trust_policy(external_id), indent=2),
            "permission_policy": json.dumps(permission_policy(bucket, prefix, sse_kms_key_id), indent=2),
            "cloudformation": json.dumps(cloudformation_template(external_id, bucket, prefix, sse_kms_key_id),
                                         indent=2)}
