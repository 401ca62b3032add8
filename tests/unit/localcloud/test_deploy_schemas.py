"""The schema registry deploys locally (recorded: moto has no schemas service) and a broken schema fails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from localcloud.deploy.deployer import DeployError, deploy
from tests.unit.localcloud.conftest import ACCOUNT, REGION, Client, write_assembly

DRAFT4 = "http://json-schema.org/draft-04/schema#"


def registry_stack(content: Any, type_: str = "JSONSchemaDraft4") -> dict[str, Any]:
    return {
        "Resources": {
            "Registry": {"Type": "AWS::EventSchemas::Registry", "Properties": {"Description": "events"}},
            "Placed": {
                "Type": "AWS::EventSchemas::Schema",
                "Properties": {
                    "RegistryName": {"Fn::GetAtt": ["Registry", "RegistryName"]},
                    "SchemaName": "myapp.orders@OrderPlaced",
                    "Type": type_,
                    "Content": content if isinstance(content, str) else json.dumps(content),
                },
            },
        },
        "Outputs": {
            "SchemaArn": {"Value": {"Fn::GetAtt": ["Placed", "SchemaArn"]}},
            "RegistryArn": {"Value": {"Ref": "Registry"}},
        },
    }


def test_a_registry_and_its_draft4_schema_deploy(tmp_path: Path, client: Client) -> None:
    # Given a stack with a registry and a draft-04 schema in it
    schema = {"$schema": DRAFT4, "type": "object", "properties": {"detail": {"type": "object"}}}
    cdk_out = write_assembly(tmp_path, {"Schemas-Ok": registry_stack(schema)})
    # When it is deployed
    result = deploy(cdk_out, client=client, account_id=ACCOUNT, region=REGION)
    # Then both exist, the schema named in its registry, with the ARNs CloudFormation would give
    outputs = result.outputs["Schemas-Ok"]
    registry = outputs["RegistryArn"]
    assert registry.startswith(f"arn:aws:schemas:{REGION}:{ACCOUNT}:registry/")
    assert outputs["SchemaArn"] == registry.replace(":registry/", ":schema/") + "/myapp.orders@OrderPlaced"


@pytest.mark.parametrize(
    ("content", "type_", "says"),
    [
        ({"type": "object", "required": "detail"}, "JSONSchemaDraft4", "not a draft-04 JSON Schema"),
        ("{not json", "JSONSchemaDraft4", "not JSON"),
        ({"type": "object"}, "OpenApi3", "not an OpenAPI 3 document"),
        ({"type": "object"}, "Avro", "is not one of"),
    ],
)
def test_a_broken_schema_fails_the_deploy_naming_it(
    tmp_path: Path, client: Client, content: Any, type_: str, says: str
) -> None:
    # Given a schema EventBridge would refuse
    cdk_out = write_assembly(tmp_path, {"Schemas-Bad": registry_stack(content, type_)})
    # When it is deployed
    with pytest.raises(DeployError) as raised:
        deploy(cdk_out, client=client, account_id=ACCOUNT, region=REGION)
    # Then the error names the stack, the schema and what is wrong
    assert "Schemas-Bad/Placed" in str(raised.value) and says in str(raised.value)
