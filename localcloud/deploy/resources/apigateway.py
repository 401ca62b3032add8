"""API Gateway (REST) handlers; every method is also recorded as an ApiRoute for the HTTP proxy."""

from __future__ import annotations

import json
import re
from typing import Any

from botocore.exceptions import ClientError

from localcloud.deploy.resources.common import (
    ApiRoute,
    Created,
    DeployError,
    ResourceCall,
    as_bool,
    as_json,
    camel,
    pick,
    tag_dict,
)

LAMBDA_URI = re.compile(r":lambda:path/[0-9-]+/functions/(?P<arn>.+?)/invocations$")


def function_arn_of(uri: str) -> str | None:
    match = LAMBDA_URI.search(uri)
    return match.group("arn") if match else None


def resource_path(call: ResourceCall, api_id: str, resource_id: str) -> str:
    paths = call.deployment.api_paths
    if (api_id, resource_id) not in paths:  # a resource made by another stack or by an import
        resource = call.client("apigateway").get_resource(restApiId=api_id, resourceId=resource_id)
        paths[(api_id, resource_id)] = resource["path"]
    return paths[(api_id, resource_id)]


def apigateway_rest_api(call: ResourceCall) -> Created:
    p = call.props
    apigateway = call.client("apigateway")
    if p.get("BodyS3Location"):
        raise DeployError("BodyS3Location is not supported locally: inline the OpenAPI Body")
    if p.get("Body"):
        body = json.loads(p["Body"]) if isinstance(p["Body"], str) else dict(p["Body"])
        # moto's import_rest_api raises KeyError (HTTP 500) when the OpenAPI info has no description.
        body["info"] = {"description": p.get("Description", ""), **(body.get("info") or {})}
        api = apigateway.import_rest_api(body=json.dumps(body).encode())
    else:
        params: dict[str, Any] = {"name": p.get("Name") or call.logical_id}
        params.update(
            pick(
                p,
                "Description",
                "BinaryMediaTypes",
                "MinimumCompressionSize",
                "ApiKeySourceType",
                "DisableExecuteApiEndpoint",
                rename={
                    "Description": "description",
                    "BinaryMediaTypes": "binaryMediaTypes",
                    "MinimumCompressionSize": "minimumCompressionSize",
                    "ApiKeySourceType": "apiKeySource",
                    "DisableExecuteApiEndpoint": "disableExecuteApiEndpoint",
                },
            )
        )
        if p.get("EndpointConfiguration"):
            params["endpointConfiguration"] = {"types": p["EndpointConfiguration"].get("Types") or ["EDGE"]}
        if p.get("Policy"):
            params["policy"] = as_json(p["Policy"])
        if p.get("Tags"):
            params["tags"] = tag_dict(p)
        api = apigateway.create_rest_api(**params)
    api_id = api["id"]
    resources = apigateway.get_resources(restApiId=api_id, limit=500, embed=["methods"])["items"]
    for resource in resources:
        call.deployment.api_paths[(api_id, resource["id"])] = resource["path"]
    root = api.get("rootResourceId") or next(r["id"] for r in resources if r["path"] == "/")
    if p.get("Body"):
        record_imported_routes(call, api_id, resources)
    return Created(api_id, {"RestApiId": api_id, "RootResourceId": root})


def record_imported_routes(call: ResourceCall, api_id: str, resources: list[dict[str, Any]]) -> None:
    apigateway = call.client("apigateway")
    for resource in resources:
        for method in resource.get("resourceMethods") or {}:
            try:
                integration = apigateway.get_integration(
                    restApiId=api_id, resourceId=resource["id"], httpMethod=method
                )
            except ClientError:
                integration = {}
            uri = str(integration.get("uri", ""))
            call.deployment.api_routes.append(
                ApiRoute(
                    stack=call.stack,
                    logical_id=call.logical_id,
                    rest_api_id=api_id,
                    resource_id=resource["id"],
                    path=resource["path"],
                    http_method=method,
                    # moto keeps the OpenAPI spelling (aws_proxy); the API's enum is upper case.
                    integration_type=str(integration.get("type", "")).upper(),
                    integration_uri=uri,
                    function_arn=function_arn_of(uri),
                )
            )


def apigateway_resource(call: ResourceCall) -> Created:
    p = call.props
    api_id, parent = p["RestApiId"], p["ParentId"]
    resource = call.client("apigateway").create_resource(
        restApiId=api_id, parentId=parent, pathPart=p["PathPart"]
    )
    path = resource_path(call, api_id, parent).rstrip("/") + "/" + str(p["PathPart"])
    call.deployment.api_paths[(api_id, resource["id"])] = path
    return Created(resource["id"], {"ResourceId": resource["id"]})


METHOD_RENAME = {
    "AuthorizerId": "authorizerId",
    "ApiKeyRequired": "apiKeyRequired",
    "OperationName": "operationName",
    "RequestParameters": "requestParameters",
    "RequestModels": "requestModels",
    "RequestValidatorId": "requestValidatorId",
    "AuthorizationScopes": "authorizationScopes",
}
INTEGRATION_RENAME = {
    "IntegrationHttpMethod": "integrationHttpMethod",
    "Uri": "uri",
    "Credentials": "credentials",
    "RequestParameters": "requestParameters",
    "RequestTemplates": "requestTemplates",
    "PassthroughBehavior": "passthroughBehavior",
    "ContentHandling": "contentHandling",
    "TimeoutInMillis": "timeoutInMillis",
    "CacheKeyParameters": "cacheKeyParameters",
    "CacheNamespace": "cacheNamespace",
    "ConnectionType": "connectionType",
    "ConnectionId": "connectionId",
}


def apigateway_method(call: ResourceCall) -> Created:
    p = call.props
    apigateway = call.client("apigateway")
    key = {"restApiId": p["RestApiId"], "resourceId": p["ResourceId"], "httpMethod": p["HttpMethod"]}
    authorization = str(p.get("AuthorizationType", "NONE"))
    apigateway.put_method(
        **key, authorizationType=authorization, **pick(p, *METHOD_RENAME, rename=METHOD_RENAME)
    )
    integration = p.get("Integration") or {}
    if integration:
        apigateway.put_integration(
            **key,
            type=integration["Type"],
            **pick(integration, *INTEGRATION_RENAME, rename=INTEGRATION_RENAME),
        )
        for response in integration.get("IntegrationResponses") or []:
            apigateway.put_integration_response(
                **key,
                **pick(
                    response,
                    "StatusCode",
                    "SelectionPattern",
                    "ResponseParameters",
                    "ResponseTemplates",
                    "ContentHandling",
                    rename=CAMEL_RESPONSE,
                ),
            )
    for response in p.get("MethodResponses") or []:
        params = pick(response, "StatusCode", "ResponseModels", rename=CAMEL_RESPONSE)
        if response.get("ResponseParameters"):
            params["responseParameters"] = {k: as_bool(v) for k, v in response["ResponseParameters"].items()}
        apigateway.put_method_response(**key, **params)
    uri = str(integration.get("Uri", ""))
    call.deployment.api_routes.append(
        ApiRoute(
            stack=call.stack,
            logical_id=call.logical_id,
            rest_api_id=p["RestApiId"],
            resource_id=p["ResourceId"],
            path=resource_path(call, p["RestApiId"], p["ResourceId"]),
            http_method=str(p["HttpMethod"]),
            integration_type=str(integration.get("Type", "")),
            integration_uri=uri,
            function_arn=function_arn_of(uri),
            authorization_type=authorization,
            authorizer_id=p.get("AuthorizerId"),
            api_key_required=as_bool(p.get("ApiKeyRequired", False)),
        )
    )
    return Created(f"{p['RestApiId']}|{p['ResourceId']}|{p['HttpMethod']}")


CAMEL_RESPONSE = {
    "StatusCode": "statusCode",
    "SelectionPattern": "selectionPattern",
    "ResponseParameters": "responseParameters",
    "ResponseTemplates": "responseTemplates",
    "ContentHandling": "contentHandling",
    "ResponseModels": "responseModels",
}


def apigateway_deployment(call: ResourceCall) -> Created:
    p = call.props
    params: dict[str, Any] = {
        "restApiId": p["RestApiId"],
        **pick(p, "Description", rename={"Description": "description"}),
    }
    if p.get("StageName"):
        params["stageName"] = p["StageName"]
        if (p.get("StageDescription") or {}).get("Description"):
            params["stageDescription"] = p["StageDescription"]["Description"]
    deployment_id = call.client("apigateway").create_deployment(**params)["id"]
    return Created(deployment_id, {"DeploymentId": deployment_id})


def apigateway_stage(call: ResourceCall) -> Created:
    p = call.props
    params: dict[str, Any] = {
        "restApiId": p["RestApiId"],
        "stageName": p.get("StageName") or call.name(128),
        "deploymentId": p["DeploymentId"],
        **pick(
            p,
            "Description",
            "CacheClusterEnabled",
            "CacheClusterSize",
            "Variables",
            "TracingEnabled",
            rename={
                "Description": "description",
                "CacheClusterEnabled": "cacheClusterEnabled",
                "CacheClusterSize": "cacheClusterSize",
                "Variables": "variables",
                "TracingEnabled": "tracingEnabled",
            },
        ),
    }
    if p.get("Tags"):
        params["tags"] = tag_dict(p)
    call.client("apigateway").create_stage(**params)
    if p.get("MethodSettings") or p.get("AccessLogSetting"):
        call.note("MethodSettings/AccessLogSetting (throttling, logging) are not applied locally")
    return Created(params["stageName"])


def apigateway_account(call: ResourceCall) -> Created:
    if call.props.get("CloudWatchRoleArn"):
        call.client("apigateway").update_account(
            patchOperations=[
                {"op": "replace", "path": "/cloudwatchRoleArn", "value": call.props["CloudWatchRoleArn"]}
            ]
        )
    return Created(call.name(128))


def apigateway_model(call: ResourceCall) -> Created:
    p = call.props
    name = p.get("Name") or call.name(128, sep="", allowed="A-Za-z0-9")
    params: dict[str, Any] = {
        "restApiId": p["RestApiId"],
        "name": name,
        "contentType": p.get("ContentType", "application/json"),
    }
    if p.get("Schema") is not None:
        params["schema"] = as_json(p["Schema"])
    if p.get("Description"):
        params["description"] = p["Description"]
    call.client("apigateway").create_model(**params)
    return Created(name)


def apigateway_request_validator(call: ResourceCall) -> Created:
    p = call.props
    response = call.client("apigateway").create_request_validator(
        restApiId=p["RestApiId"],
        name=p.get("Name") or call.name(128),
        validateRequestBody=as_bool(p.get("ValidateRequestBody", False)),
        validateRequestParameters=as_bool(p.get("ValidateRequestParameters", False)),
    )
    return Created(response["id"], {"RequestValidatorId": response["id"]})


def apigateway_authorizer(call: ResourceCall) -> Created:
    p = call.props
    params = {
        "restApiId": p["RestApiId"],
        **camel(pick(p, *AUTHORIZER_PARAMS, rename={"ProviderARNs": "providerARNs"})),
    }
    response = call.client("apigateway").create_authorizer(**params)
    return Created(response["id"], {"AuthorizerId": response["id"]})


AUTHORIZER_PARAMS = (
    "Name",
    "Type",
    "ProviderARNs",
    "AuthType",
    "AuthorizerUri",
    "AuthorizerCredentials",
    "IdentitySource",
    "IdentityValidationExpression",
    "AuthorizerResultTtlInSeconds",
)


def apigateway_usage_plan(call: ResourceCall) -> Created:
    p = call.props
    params: dict[str, Any] = {"name": p.get("UsagePlanName") or call.name(128)}
    if p.get("Description"):
        params["description"] = p["Description"]
    stages = []
    for stage in p.get("ApiStages") or []:
        entry: dict[str, Any] = {"apiId": stage["ApiId"], "stage": stage["Stage"]}
        if stage.get("Throttle"):
            entry["throttle"] = camel(stage["Throttle"])
        stages.append(entry)
    if stages:
        params["apiStages"] = stages
    if p.get("Quota"):
        params["quota"] = camel(p["Quota"])
    if p.get("Throttle"):
        params["throttle"] = camel(p["Throttle"])
    if p.get("Tags"):
        params["tags"] = tag_dict(p)
    usage_plan_id = call.client("apigateway").create_usage_plan(**params)["id"]
    return Created(usage_plan_id, {"Id": usage_plan_id})


def apigateway_api_key(call: ResourceCall) -> Created:
    p = call.props
    params: dict[str, Any] = {
        "name": p.get("Name") or call.name(128),
        "enabled": as_bool(p.get("Enabled", False)),
        **camel(pick(p, "Description", "Value", "GenerateDistinctId", "CustomerId")),
    }
    if p.get("StageKeys"):
        params["stageKeys"] = camel(p["StageKeys"])
    if p.get("Tags"):
        params["tags"] = tag_dict(p)
    key_id = call.client("apigateway").create_api_key(**params)["id"]
    return Created(key_id, {"APIKeyId": key_id})


def apigateway_usage_plan_key(call: ResourceCall) -> Created:
    p = call.props
    response = call.client("apigateway").create_usage_plan_key(
        usagePlanId=p["UsagePlanId"], keyId=p["KeyId"], keyType=p["KeyType"]
    )
    return Created(response["id"], {"Id": response["id"]})


def apigateway_gateway_response(call: ResourceCall) -> Created:
    p = call.props
    params = {
        "restApiId": p["RestApiId"],
        **camel(pick(p, "ResponseType", "StatusCode", "ResponseParameters", "ResponseTemplates")),
    }
    call.client("apigateway").put_gateway_response(**params)
    return Created(call.name(128))
