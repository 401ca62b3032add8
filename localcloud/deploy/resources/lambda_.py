"""Lambda handlers: functions (mapped to their cdk.out code), layers, versions, aliases, mappings."""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from localcloud.deploy.resources.common import (
    Created,
    DeployedFunction,
    DeployError,
    ResourceCall,
    pick,
    tag_dict,
    with_ints,
)


@lru_cache(maxsize=1)
def placeholder_zip() -> bytes:
    """moto needs a zip to create a function; the real code stays in cdk.out and runs in-process."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("localcloud.txt", "localcloud runs this function from its cdk.out asset directory\n")
    return buffer.getvalue()


def asset_dir(call: ResourceCall, code: Mapping[str, Any]) -> Path:
    """The cdk.out directory behind a Code/Content S3Key, through the asset manifests."""
    key = str(code.get("S3Key", ""))
    found = call.deployment.assets.get(key) or call.deployment.assets.get(key.removesuffix(".zip"))
    if found is None and call.metadata.get("aws:asset:path"):
        found = call.deployment.cdk_out / str(call.metadata["aws:asset:path"])
    if found is None or not found.exists():
        raise DeployError(f"no asset in {call.deployment.cdk_out} for S3Key {key!r}")
    return found


LAMBDA_FUNCTION_PARAMS = (
    "Architectures",
    "DeadLetterConfig",
    "Description",
    "EphemeralStorage",
    "Handler",
    "ImageConfig",
    "KMSKeyArn",
    "LoggingConfig",
    "MemorySize",
    "PackageType",
    "Runtime",
    "Timeout",
    "TracingConfig",
    "VpcConfig",
    "FileSystemConfigs",
)


def inline_code_dir(call: ResourceCall, source: str, handler: str, runtime: str) -> Path:
    """Inline (ZipFile) code, written where the runtime can import it: `index.handler` → index.py."""
    module = handler.rsplit(".", 1)[0] or "index"
    extension = ".js" if runtime.startswith("nodejs") else ".py"
    directory = Path(tempfile.mkdtemp(prefix=f"localcloud-{call.logical_id}-"))
    (directory / f"{module.replace('.', '/')}{extension}").parent.mkdir(parents=True, exist_ok=True)
    (directory / f"{module.replace('.', '/')}{extension}").write_text(source)
    return directory


def layer_known(call: ResourceCall, arn: str) -> bool:
    if arn in call.deployment.layer_dirs:
        return True
    layer, _, version = arn.rpartition(":")
    try:
        call.client("lambda").get_layer_version(LayerName=layer, VersionNumber=int(version))
    except (ClientError, ValueError):
        return False
    return True


def lambda_function(call: ResourceCall) -> Created:
    p = call.props
    name = p.get("FunctionName") or call.name(64)
    code = p.get("Code") or {}
    handler, runtime = str(p.get("Handler", "")), str(p.get("Runtime", ""))
    if "ZipFile" in code:
        code_dir = inline_code_dir(call, str(code["ZipFile"]), handler, runtime)
    else:
        code_dir = asset_dir(call, code)
    declared = [str(arn) for arn in p.get("Layers") or []]
    layers = [arn for arn in declared if layer_known(call, arn)]
    for dropped in sorted(set(declared) - set(layers)):
        # e.g. the public Powertools layer lives in another account: moto rejects unknown layer ARNs.
        call.note(f"layer {dropped} does not exist locally: dropped (install its packages on the host)")
    params: dict[str, Any] = {
        "FunctionName": name,
        "Role": p["Role"],
        "Code": {"ZipFile": placeholder_zip()},
        **with_ints(pick(p, *LAMBDA_FUNCTION_PARAMS), "Timeout", "MemorySize"),
    }
    if p.get("Environment"):
        params["Environment"] = {"Variables": dict(p["Environment"].get("Variables") or {})}
    if layers:
        params["Layers"] = layers
    if p.get("Tags"):
        params["Tags"] = tag_dict(p)
    lam = call.client("lambda")
    arn = lam.create_function(**params)["FunctionArn"]
    if p.get("ReservedConcurrentExecutions") is not None:
        lam.put_function_concurrency(
            FunctionName=name, ReservedConcurrentExecutions=int(p["ReservedConcurrentExecutions"])
        )
    function = DeployedFunction(
        function_name=name,
        function_arn=arn,
        code_dir=code_dir,
        logical_id=call.logical_id,
        log_group=str((p.get("LoggingConfig") or {}).get("LogGroup") or f"/aws/lambda/{name}"),
        layer_dirs=[call.deployment.layer_dirs[arn] for arn in layers if arn in call.deployment.layer_dirs],
    )
    call.deployment.functions.append(function)
    if call.deployment.on_function is not None:
        call.deployment.on_function(function)
    return Created(name, {"Arn": arn})


def lambda_layer_version(call: ResourceCall) -> Created:
    p = call.props
    content = p.get("Content") or {}
    params: dict[str, Any] = {
        "LayerName": p.get("LayerName") or call.name(140),
        "Content": {"ZipFile": placeholder_zip()},
        **pick(p, "Description", "CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo"),
    }
    arn = call.client("lambda").publish_layer_version(**params)["LayerVersionArn"]
    call.deployment.layer_dirs[arn] = asset_dir(call, content)
    return Created(arn, {"LayerVersionArn": arn})


def lambda_version(call: ResourceCall) -> Created:
    p = call.props
    response = call.client("lambda").publish_version(FunctionName=p["FunctionName"], **pick(p, "Description"))
    return Created(
        response["FunctionArn"], {"Version": response["Version"], "FunctionArn": response["FunctionArn"]}
    )


def lambda_alias(call: ResourceCall) -> Created:
    p = call.props
    params = pick(p, "FunctionName", "Name", "FunctionVersion", "Description", "RoutingConfig")
    arn = call.client("lambda").create_alias(**params)["AliasArn"]
    return Created(arn, {"AliasArn": arn})


def lambda_event_invoke_config(call: ResourceCall) -> Created:
    p = call.props
    params = pick(
        p,
        "FunctionName",
        "Qualifier",
        "MaximumRetryAttempts",
        "MaximumEventAgeInSeconds",
        "DestinationConfig",
    )
    params = with_ints(params, "MaximumRetryAttempts", "MaximumEventAgeInSeconds")
    call.client("lambda").put_function_event_invoke_config(**params)
    return Created(f"{p['FunctionName']}|{p.get('Qualifier', '$LATEST')}")


def lambda_permission(call: ResourceCall) -> Created:
    p = call.props
    statement_id = call.name(100)
    params = pick(
        p,
        "FunctionName",
        "Action",
        "Principal",
        "SourceArn",
        "SourceAccount",
        "EventSourceToken",
        "PrincipalOrgID",
        "FunctionUrlAuthType",
    )
    call.client("lambda").add_permission(StatementId=statement_id, **params)
    return Created(statement_id)


LAMBDA_EVENT_SOURCE_MAPPING_PARAMS = (
    "FunctionName",
    "EventSourceArn",
    "BatchSize",
    "Enabled",
    "StartingPosition",
    "StartingPositionTimestamp",
    "MaximumBatchingWindowInSeconds",
    "FilterCriteria",
    "FunctionResponseTypes",
    "DestinationConfig",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError",
    "ParallelizationFactor",
    "TumblingWindowInSeconds",
    "ScalingConfig",
    "Queues",
    "Topics",
)


def lambda_event_source_mapping(call: ResourceCall) -> Created:
    params = with_ints(
        pick(call.props, *LAMBDA_EVENT_SOURCE_MAPPING_PARAMS),
        "BatchSize",
        "MaximumBatchingWindowInSeconds",
        "MaximumRetryAttempts",
        "MaximumRecordAgeInSeconds",
        "ParallelizationFactor",
        "TumblingWindowInSeconds",
    )
    if call.props.get("Tags"):
        params["Tags"] = tag_dict(call.props)
    response = call.client("lambda").create_event_source_mapping(**params)
    uuid = response["UUID"]
    return Created(uuid, {"Id": uuid, "EventSourceMappingArn": response.get("EventSourceMappingArn", "")})
