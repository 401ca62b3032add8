"""What `make destroy` keeps: read from each resource's DeletionPolicy, listed for README."""

from __future__ import annotations

from localcloud.deploy.assembly import StackArtifact
from tools import retention


def _stack(name: str, resources: dict[str, dict[str, object]]) -> StackArtifact:
    return StackArtifact(name, {"Resources": resources}, ())


def test_tables_and_buckets_are_listed_with_their_fate_and_the_rest_counted() -> None:
    # Given a stack with a retained table, a deleted one, a retained bucket, two queues and a log group
    stack = _stack(
        "Shop",
        {
            "Orders1": {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain"},
            "Tokens2": {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Delete"},
            "Invoices3": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain"},
            "Queue4": {"Type": "AWS::SQS::Queue"},
            "Dlq5": {"Type": "AWS::SQS::Queue", "DeletionPolicy": "Delete"},
            "Logs6": {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Delete"},
            "Role7": {"Type": "AWS::IAM::Role"},
        },
    )

    # When the README block is made
    text = retention.block([stack])

    # Then each table and bucket has its row, in logical id order, and the queues and logs are counted
    assert text.splitlines()[2:5] == [
        "| Shop | bucket `Invoices3` | **kept** (`DeletionPolicy: Retain`) |",
        "| Shop | table `Orders1` | **kept** (`DeletionPolicy: Retain`) |",
        "| Shop | table `Tokens2` | deleted, with its data |",
    ]
    assert "Deleted with their stacks: 2 SQS queues" in text
    assert "; 1 log groups" in text
    assert "Also kept" not in text


def test_a_resource_without_deletion_policy_is_deleted() -> None:
    # Given a table without DeletionPolicy (CloudFormation's default is Delete)
    stack = _stack("Shop", {"Table": {"Type": "AWS::DynamoDB::Table"}})

    # Then it is listed as deleted
    assert retention.rows([stack]) == [("Shop", "Table", "table", False)]
