"""IAM and KMS handlers: roles, policies, keys and aliases."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from localcloud.deploy.resources.common import (
    Created,
    ResourceCall,
    as_bool,
    as_json,
    error_code,
    pick,
    tag_list,
)


def kms_key(call: ResourceCall) -> Created:
    p = call.props
    params: dict[str, Any] = pick(p, "Description", "KeyUsage", "KeySpec", "MultiRegion", "Origin")
    if p.get("KeyPolicy"):
        params["Policy"] = as_json(p["KeyPolicy"])
    if p.get("Tags"):
        params["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in tag_list(p)]
    kms = call.client("kms")
    metadata = kms.create_key(**params)["KeyMetadata"]
    key_id = metadata["KeyId"]
    if as_bool(p.get("EnableKeyRotation", False)):
        kms.enable_key_rotation(KeyId=key_id)
    if p.get("Enabled") is not None and not as_bool(p["Enabled"]):
        kms.disable_key(KeyId=key_id)
    return Created(key_id, {"Arn": metadata["Arn"], "KeyId": key_id})


def kms_alias(call: ResourceCall) -> Created:
    name = call.props["AliasName"]
    call.client("kms").create_alias(AliasName=name, TargetKeyId=call.props["TargetKeyId"])
    return Created(name)


def attach_managed_policies(call: ResourceCall, role: str, arns: Iterable[str]) -> None:
    for arn in arns:
        try:
            call.client("iam").attach_role_policy(RoleName=role, PolicyArn=arn)
        except ClientError as exc:
            # moto knows no AWS managed policies unless told to load them; IAM is not enforced locally.
            if error_code(exc) != "NoSuchEntity" or ":iam::aws:policy/" not in arn:
                raise
            call.note(f"AWS managed policy {arn} is unknown to moto: not attached")


def iam_role(call: ResourceCall) -> Created:
    p = call.props
    name = p.get("RoleName") or call.name(64)
    params: dict[str, Any] = {
        "RoleName": name,
        "AssumeRolePolicyDocument": as_json(p["AssumeRolePolicyDocument"]),
        **pick(p, "Path", "Description", "MaxSessionDuration", "PermissionsBoundary"),
    }
    if p.get("Tags"):
        params["Tags"] = tag_list(p)
    iam = call.client("iam")
    role = iam.create_role(**params)["Role"]
    for policy in p.get("Policies") or []:
        iam.put_role_policy(
            RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=as_json(policy["PolicyDocument"])
        )
    attach_managed_policies(call, name, p.get("ManagedPolicyArns") or [])
    return Created(name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})


def iam_policy(call: ResourceCall) -> Created:
    p = call.props
    name, document = p["PolicyName"], as_json(p["PolicyDocument"])
    iam = call.client("iam")
    for role in p.get("Roles") or []:
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=document)
    for user in p.get("Users") or []:
        iam.put_user_policy(UserName=user, PolicyName=name, PolicyDocument=document)
    for group in p.get("Groups") or []:
        iam.put_group_policy(GroupName=group, PolicyName=name, PolicyDocument=document)
    return Created(call.name(128), {"Id": call.name(128)})


def iam_managed_policy(call: ResourceCall) -> Created:
    p = call.props
    params: dict[str, Any] = {
        "PolicyName": p.get("ManagedPolicyName") or call.name(128),
        "PolicyDocument": as_json(p["PolicyDocument"]),
        **pick(p, "Path", "Description"),
    }
    iam = call.client("iam")
    arn = iam.create_policy(**params)["Policy"]["Arn"]
    for role in p.get("Roles") or []:
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    for user in p.get("Users") or []:
        iam.attach_user_policy(UserName=user, PolicyArn=arn)
    for group in p.get("Groups") or []:
        iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    return Created(arn, {"PolicyArn": arn})
