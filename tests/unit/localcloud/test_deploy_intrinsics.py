"""Intrinsic functions, conditions, parameters and cross-stack imports resolve as CloudFormation does."""

from __future__ import annotations

from pathlib import Path

import pytest

from localcloud.deploy.deployer import DeployResult, IntrinsicError, deploy
from tests.unit.localcloud.conftest import ACCOUNT, REGION, Client, queue, write_assembly

EXPORTER = {
    "Resources": {"Queue": queue(QueueName="intrinsics-exported")},
    "Outputs": {
        "QueueArn": {"Value": {"Fn::GetAtt": ["Queue", "Arn"]}, "Export": {"Name": "Exporter:QueueArn"}},
    },
}
IMPORTER = {
    "Parameters": {
        "Env": {"Type": "String", "Default": "prod"},
        "Names": {"Type": "CommaDelimitedList", "Default": "a,b,c"},
    },
    "Mappings": {"Sizes": {"prod": {"Memory": "512"}, "dev": {"Memory": "128"}}},
    "Conditions": {
        "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
        "IsDev": {"Fn::Not": [{"Condition": "IsProd"}]},
        "ProdInUsEast1": {
            "Fn::And": [{"Condition": "IsProd"}, {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}]
        },
        "DevOrProd": {"Fn::Or": [{"Condition": "IsDev"}, {"Condition": "IsProd"}]},
    },
    "Resources": {
        "Queue": queue(
            QueueName={"Fn::Sub": "${AWS::StackName}-${Env}-queue"},
            DelaySeconds={"Fn::If": ["IsDev", 5, {"Ref": "AWS::NoValue"}]},
        ),
        "DevOnly": {"Type": "AWS::SQS::Queue", "Condition": "IsDev", "Properties": {}},
    },
    "Outputs": {
        "SubString": {"Value": {"Fn::Sub": "${AWS::AccountId}/${AWS::Region}/${AWS::Partition}/${!Literal}"}},
        "SubAttribute": {"Value": {"Fn::Sub": "${Queue.QueueName} in ${AWS::URLSuffix}"}},
        "SubVariables": {
            "Value": {
                "Fn::Sub": ["${Greeting}, ${Env} (${Queue})", {"Greeting": {"Fn::Join": ["", ["hel", "lo"]]}}]
            }
        },
        "Join": {"Value": {"Fn::Join": ["-", ["a", {"Ref": "Env"}, {"Fn::GetAtt": "Queue.QueueName"}]]}},
        "Select": {"Value": {"Fn::Select": ["1", {"Ref": "Names"}]}},
        "Split": {
            "Value": {"Fn::Select": [2, {"Fn::Split": [":", {"Fn::ImportValue": "Exporter:QueueArn"}]}]}
        },
        "Imported": {"Value": {"Fn::ImportValue": {"Fn::Sub": "Exporter:QueueArn"}}},
        "If": {"Value": {"Fn::If": ["IsProd", "big", "small"]}},
        "IfNested": {"Value": {"Fn::If": ["ProdInUsEast1", {"Fn::If": ["DevOrProd", "yes", "no"]}, "no"]}},
        "FindInMap": {"Value": {"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Memory"]}},
        "StackId": {"Value": {"Ref": "AWS::StackId"}},
        "Base64": {"Value": {"Fn::Base64": "hi"}},
        "DevOnlyOutput": {"Condition": "IsDev", "Value": {"Ref": "DevOnly"}},
    },
}
EXPECTED = {
    "SubString": f"{ACCOUNT}/us-east-1/aws/${{Literal}}",
    "SubAttribute": "Importer-prod-queue in amazonaws.com",
    "Join": "a-prod-Importer-prod-queue",
    "Select": "b",
    "Split": "sqs",
    "Imported": f"arn:aws:sqs:us-east-1:{ACCOUNT}:intrinsics-exported",
    "If": "big",
    "IfNested": "yes",
    "FindInMap": "512",
    "Base64": "aGk=",
}


@pytest.fixture(scope="module")
def intrinsics(tmp_path_factory: pytest.TempPathFactory, client: Client) -> DeployResult:
    """Two stacks, the second importing from the first, whose outputs exercise each intrinsic."""
    cdk_out = write_assembly(
        tmp_path_factory.mktemp("intrinsics"),
        {"Importer": IMPORTER, "Exporter": EXPORTER},
        dependencies={"Importer": ["Exporter"]},
    )
    return deploy(cdk_out, client=client, account_id=ACCOUNT, region=REGION)


@pytest.mark.parametrize(("output", "expected"), sorted(EXPECTED.items()))
def test_each_intrinsic_resolves_as_cloudformation_does(
    intrinsics: DeployResult, output: str, expected: str
) -> None:
    # Given the Importer stack deployed after its Exporter (manifest dependencies)
    # Then each output is what CloudFormation would resolve it to
    assert intrinsics.outputs["Importer"][output] == expected


def test_sub_with_variables_refs_conditions_and_no_value(intrinsics: DeployResult, client: Client) -> None:
    # Given the Importer stack, deployed with Env=prod
    outputs, ids = intrinsics.outputs["Importer"], intrinsics.physical_ids["Importer"]
    # Then Fn::Sub's variable map and ${Resource} refs resolve (a queue's Ref is its URL)
    assert outputs["SubVariables"] == f"hello, prod ({ids['Queue']})"
    assert ids["Queue"].endswith("/Importer-prod-queue")
    # And a false condition leaves its resource and output out
    assert "DevOnly" not in ids and "DevOnlyOutput" not in outputs
    # And AWS::NoValue removed DelaySeconds, so the queue has the default
    attributes = client("sqs").get_queue_attributes(QueueUrl=ids["Queue"], AttributeNames=["DelaySeconds"])
    assert attributes["Attributes"]["DelaySeconds"] == "0"
    # And the stack id is a CloudFormation stack ARN
    assert outputs["StackId"].startswith(f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/Importer/")


def test_an_import_of_an_unexported_name_fails_naming_it(tmp_path: Path, client: Client) -> None:
    # Given a stack importing a name nobody exports
    template = {"Resources": {}, "Outputs": {"X": {"Value": {"Fn::ImportValue": "Nobody:Exports"}}}}
    cdk_out = write_assembly(tmp_path, {"Lonely-Importer": template})
    # When it is deployed, Then the error names the export and the output
    with pytest.raises(
        IntrinsicError, match=r"Lonely-Importer output X: Fn::ImportValue of 'Nobody:Exports'"
    ):
        deploy(cdk_out, client=client, account_id=ACCOUNT, region=REGION)
