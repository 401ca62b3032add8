"""Tests for the API Gateway proxy's routing, its own answers (gateway responses, MOCK) and the endpoint."""

from __future__ import annotations

import pytest

from localcloud.apigateway.proxy import ApiGatewayProxy
from tests.unit.localcloud import apigateway_helpers
from tests.unit.localcloud.apigateway_helpers import LocalApi, json_body

# The shared fixture, bound here so pytest finds it in this module.
local_api = apigateway_helpers.local_api


# -- routing ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/unknown"), ("GET", "/orders/o-1/lines"), ("DELETE", "/orders"), ("GET", "/files")],
    ids=["unknown-path", "too-deep", "wrong-method", "greedy-needs-a-segment"],
)
def test_unknown_route_or_method_is_403(local_api: LocalApi, method: str, path: str) -> None:
    # Given a path or method the API does not have
    # When it is called
    response = local_api.client.open(local_api.url(path), method=method)

    # Then REST API's answer for unknown routes comes back
    assert response.status_code == 403
    assert json_body(response) == {"message": "Missing Authentication Token"}
    assert local_api.fake.events == []


def test_unknown_stage_is_403_forbidden(local_api: LocalApi) -> None:
    # Given a stage that was never deployed
    # When it is called
    response = local_api.client.get(local_api.url("/orders/o-1", stage="dev"))

    # Then AWS's plain Forbidden comes back
    assert response.status_code == 403
    assert json_body(response) == {"message": "Forbidden"}


# -- API Gateway's own answers ---------------------------------------------------------------------
def test_configured_gateway_response_shapes_gateway_errors(local_api: LocalApi) -> None:
    # Given a DEFAULT_4XX gateway response adding a CORS header (CDK's addGatewayResponse)
    local_api.apigw.put_gateway_response(
        restApiId=local_api.api_id,
        responseType="DEFAULT_4XX",
        responseParameters={"gatewayresponse.header.Access-Control-Allow-Origin": "'*'"},
        responseTemplates={"application/json": '{"error": $context.error.messageString}'},
    )

    # When a route that does not exist is called
    response = local_api.client.get(local_api.url("/nowhere"))

    # Then the 403 carries the header and the template
    assert response.status_code == 403
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert json_body(response) == {"error": "Missing Authentication Token"}


def test_cors_preflight_mock_answers_its_integration_response(local_api: LocalApi) -> None:
    # Given CDK's CORS preflight MOCK on /orders
    # When a browser sends OPTIONS
    response = local_api.client.options(local_api.url("/orders"), headers={"Origin": "http://localhost"})

    # Then the integration response answers without calling any function
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Allow-Methods"] == "OPTIONS,POST"
    assert local_api.fake.events == []


# -- the endpoint and the trace --------------------------------------------------------------------
def test_management_paths_still_reach_moto(local_api: LocalApi) -> None:
    # Given management API paths that share the /restapis/ prefix
    api = local_api.api_id
    management = [
        f"/restapis/{api}",
        f"/restapis/{api}/stages/prod",
        f"/restapis/{api}/resources/abc123/methods/GET",
        f"/restapis/{api}/stages/_user_request_",
    ]

    # When they are called through the app
    answers = [local_api.client.get(path) for path in management]

    # Then moto serves every one, and only invoke paths are the proxy's
    assert [a.get_data(as_text=True) for a in answers] == ["moto"] * len(management)
    assert local_api.moto_paths == management
    assert not any(ApiGatewayProxy.handles(path) for path in management)
    assert ApiGatewayProxy.handles(local_api.url("/orders"))
    assert ApiGatewayProxy.handles(local_api.url(""))


def test_url_for_is_the_base_before_the_resource_path(local_api: LocalApi) -> None:
    # Given the proxy on the default endpoint
    # When the invoke URL is asked for
    url = local_api.proxy.url_for(local_api.api_id, "prod")

    # Then it is the endpoint plus the invoke prefix, and urls() lists the deployed stage
    assert url == f"http://127.0.0.1:4566/restapis/{local_api.api_id}/prod/_user_request_"
    assert local_api.proxy.urls() == {"orders-api/prod": url}


def test_each_request_leaves_a_trace_line(local_api: LocalApi) -> None:
    # Given one request that reaches the function
    # When it is served
    local_api.client.get(local_api.url("/orders/o-7"))

    # Then the trace has method, path, resource, function, status and duration
    record = local_api.trace.records(kind="apigateway")[-1]
    assert record["method"] == "GET"
    assert record["path"] == "/orders/o-7"
    assert record["resource"] == "/orders/{orderId}"
    assert record["function"] == "orders-handler"
    assert record["status"] == 200
    assert record["duration_ms"] >= 0
    assert record["authorization"] == "NONE"
