"""Deploys that fail, naming what failed, before anything is created; what is skipped on purpose."""

from __future__ import annotations

from pathlib import Path

import pytest

from localcloud.deploy.deployer import IntrinsicError, UnsupportedResourceType, deploy
from tests.unit.localcloud.conftest import ACCOUNT, REGION, Client, queue, write_assembly


def test_an_unknown_type_fails_naming_it_before_anything_is_created(tmp_path: Path, client: Client) -> None:
    # Given a stack whose second resource is of a type localcloud does not know
    cdk_out = write_assembly(
        tmp_path,
        {
            "Unknown-Type": {
                "Resources": {
                    "First": queue(QueueName="unknown-type-first"),
                    "Odd": {"Type": "AWS::Foo::Bar"},
                }
            }
        },
    )
    # When it is deployed
    with pytest.raises(UnsupportedResourceType) as raised:
        deploy(cdk_out, client=client, account_id=ACCOUNT, region=REGION)
    # Then the error names the type, the stack and the logical id
    assert (raised.value.type, raised.value.stack, raised.value.logical_id) == (
        "AWS::Foo::Bar",
        "Unknown-Type",
        "Odd",
    )
    assert "AWS::Foo::Bar" in str(raised.value) and "Unknown-Type/Odd" in str(raised.value)
    # And nothing was created
    assert "QueueUrls" not in client("sqs").list_queues(QueueNamePrefix="unknown-type-first")


def test_an_unknown_intrinsic_fails_naming_it_before_anything_is_created(
    tmp_path: Path, client: Client
) -> None:
    # Given a resource property that uses an intrinsic function localcloud does not resolve
    template = {
        "Resources": {"Q": queue(QueueName="bad-intrinsic", DelaySeconds={"Fn::Cidr": ["10.0.0.0/16", 2, 8]})}
    }
    cdk_out = write_assembly(tmp_path, {"Bad-Intrinsic": template})
    # When it is deployed, Then it fails naming the function and where it is
    with pytest.raises(IntrinsicError, match=r"Fn::Cidr in Bad-Intrinsic/Q"):
        deploy(cdk_out, client=client, account_id=ACCOUNT, region=REGION)
    assert "QueueUrls" not in client("sqs").list_queues(QueueNamePrefix="bad-intrinsic")


def test_custom_and_not_emulated_resources_are_skipped_and_the_rest_deploys(
    tmp_path: Path, client: Client
) -> None:
    # Given a custom resource, a type listed in NOT_EMULATED and a queue
    template = {
        "Resources": {
            "Custom": {"Type": "Custom::Thing", "Properties": {"ServiceToken": "arn:aws:lambda:x"}},
            "Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"},
            "Q": queue(QueueName="skips-queue"),
        },
        "Outputs": {"CustomRef": {"Value": {"Ref": "Custom"}}},
    }
    cdk_out = write_assembly(tmp_path, {"Skips": template})
    # When it is deployed
    result = deploy(cdk_out, client=client, account_id=ACCOUNT, region=REGION)
    # Then the first two are recorded as skipped, and the queue exists
    assert result.skipped == [
        ("Skips", "Custom", "Custom::Thing"),
        ("Skips", "Handle", "AWS::CloudFormation::WaitConditionHandle"),
    ]
    assert (
        client("sqs").get_queue_url(QueueName="skips-queue")["QueueUrl"] == result.physical_ids["Skips"]["Q"]
    )
    # And a reference to the custom resource resolves to a placeholder, with a note
    assert result.outputs["Skips"]["CustomRef"] == "Custom-not-emulated"
    assert any("not-emulated Custom" in note for note in result.notes)
