"""Tests that the app's synthesized REST APIs use only what the API Gateway proxy serves."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from localcloud.apigateway.proxy import function_in_uri
from localcloud.core.settings import ACCOUNT_ID, REGION

ROOT = Path(__file__).resolve().parents[3]


def _render(value: Any, region: str = REGION) -> Any:
    """Just enough of Ref/GetAtt/Join to read an integration Uri out of a synthesized template."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            pseudo = {"AWS::Partition": "aws", "AWS::Region": region, "AWS::AccountId": ACCOUNT_ID}
            return pseudo.get(arg, arg)
        if key == "Fn::GetAtt":
            return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{arg[0]}"
        if key == "Fn::Join":
            return str(arg[0]).join(str(_render(part, region)) for part in arg[1])
    return value


def test_cdk_out_rest_apis_use_what_the_proxy_serves() -> None:
    # Given the app's synthesized templates (skipped until a stack has a RestApi)
    cdk_out = Path(os.environ.get("CDK_OUT") or ROOT / "cdk.out")
    templates = [json.loads(p.read_text()) for p in sorted(cdk_out.glob("*.template.json"))]
    methods = [
        resource["Properties"]
        for template in templates
        if any(r.get("Type") == "AWS::ApiGateway::RestApi" for r in template.get("Resources", {}).values())
        for resource in template["Resources"].values()
        if resource.get("Type") == "AWS::ApiGateway::Method"
    ]
    if not methods:
        pytest.skip(f"no AWS::ApiGateway::RestApi in {cdk_out}")

    # When each method's integration is read as the deployer would resolve it
    integrations = [method.get("Integration", {}) for method in methods]

    # Then every one is a Lambda proxy the proxy can invoke, or a MOCK
    for integration in integrations:
        assert integration.get("Type") in ("AWS_PROXY", "MOCK"), integration
        if integration["Type"] == "AWS_PROXY":
            assert integration.get("IntegrationHttpMethod") == "POST"
            assert function_in_uri(_render(integration["Uri"])), integration["Uri"]
