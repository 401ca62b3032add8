"""Service integrations' parameters and results in AWS's shape, driven by botocore's service models.

The root cause of "States.Runtime 'StateMachineArn'": moto's StateTaskService leaves
_normalise_parameters/_normalise_response as no-ops (LocalStack drives them from botocore's
service model; the port dropped that), so the ASL's PascalCase names reach boto3 unchanged. Step
Functions' API is camelCase (stateMachineArn, input), botocore's serializer (run with parameter
validation off) fails on the unknown key, and the `.sync` resolvers look for "ExecutionArn" in a
camelCase result. Restoring the shape-driven normalisation in the base class fixes every
integration at once.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from localcloud.core.patches import PatchSet

# aws-sdk integration service names whose boto3 name differs (besides sfn, which moto maps).
AWS_SDK_SERVICE_NAMES = {
    "eventbridge": "events",
    "cloudwatchlogs": "logs",
    "cognitoidentityprovider": "cognito-idp",
    "iotdataplane": "iot-data",
}
_TASK_SERVICE = "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service"
# How aws-sdk integration errors name services: `<Service>.<Exception>`, the service as the AWS SDK
# for Java names its client (DynamoDb, S3, Sqs...); moto knows only dynamodb and sfn.
AWS_SDK_ERROR_SERVICE_NAMES = {
    "acmpca": "AcmPca",
    "apigateway": "ApiGateway",
    "cloudwatch": "CloudWatch",
    "cloudwatchlogs": "CloudWatchLogs",
    "cognitoidentityprovider": "CognitoIdentityProvider",
    "ec2": "Ec2",
    "eventbridge": "EventBridge",
    "iam": "Iam",
    "iotdataplane": "IotDataPlane",
    "kinesis": "Kinesis",
    "kms": "Kms",
    "lambda": "Lambda",
    "s3": "S3",
    "secretsmanager": "SecretsManager",
    "ses": "Ses",
    "sesv2": "SesV2",
    "sns": "Sns",
    "sqs": "Sqs",
    "ssm": "Ssm",
    "sts": "Sts",
}


def integration_patches() -> PatchSet:
    patches = PatchSet("stepfunctions integrations")

    def _normalise_parameters(
        task: Any,
        parameters: dict[str, Any],
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        operation = _task_operation(task, boto_service_name, service_action_name)
        if operation is not None and operation.input_shape is not None:
            to_boto_request(parameters, operation.input_shape)

    def _normalise_response(
        task: Any,
        response: Any,
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        operation = _task_operation(task, boto_service_name, service_action_name)
        if operation is not None and operation.output_shape is not None:
            # Optimised integrations give dates as epoch milliseconds; aws-sdk ones keep moto's.
            epoch_millis = task.resource.service_name != "aws-sdk"
            from_boto_response(response, operation.output_shape, epoch_millis=epoch_millis)

    why = "integration parameters and results in the API's shape (see the module docstring)"
    patches.replace(f"{_TASK_SERVICE}:StateTaskService._normalise_parameters", _normalise_parameters, why=why)
    patches.replace(f"{_TASK_SERVICE}:StateTaskService._normalise_response", _normalise_response, why=why)
    patches.wrap(
        f"{_TASK_SERVICE}:StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES",
        lambda original: {**original, **AWS_SDK_SERVICE_NAMES},
        why="aws-sdk ARNs name services as the AWS SDK for Java does; moto maps only sfn and states",
    )
    patches.wrap(
        f"{_TASK_SERVICE}_aws_sdk:_SERVICE_ERROR_NAMES",
        lambda original: {**AWS_SDK_ERROR_SERVICE_NAMES, **original},
        why="aws-sdk errors are named <Service>.<Exception> with the SDK's service name (S3.S3Exception); "
        "moto names only DynamoDb and Sfn and leaves the others lower-case",
    )
    return patches


@functools.cache
def _botocore_session() -> Any:
    import botocore.session

    return botocore.session.get_session()


def _task_operation(task: Any, boto_service_name: str | None, service_action_name: str | None) -> Any:
    """botocore's operation model for the service and action a Task state calls (None if unknown)."""
    return _operation_model(
        task._get_boto_service_name(boto_service_name=boto_service_name),
        task._get_boto_service_action(service_action_name=service_action_name),
    )


@functools.cache
def _operation_model(service: str, action: str) -> Any:
    """botocore's model of `service`'s operation `action` (snake or camel case), or None."""
    from botocore.exceptions import UnknownServiceError

    try:
        service_model = _botocore_session().get_service_model(service)
    except UnknownServiceError:
        return None
    wanted = action.replace("_", "").lower()
    for name in service_model.operation_names:
        if name.lower() == wanted:
            return service_model.operation_model(name)
    return None


def _compact_json(value: Any) -> str:
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    return to_json_str(value, separators=(",", ":"))


def to_boto_request(parameters: dict[str, Any], shape: Any) -> None:
    """Renames the ASL's parameter names to the API's members and types values as the API wants.

    Step Functions accepts `StateMachineArn` for the API's `stateMachineArn`, so a name matches a
    member exactly or case-insensitively. A JSON value given for a string or blob member is
    serialized (Input, MessageBody, Detail, Message), as Step Functions does. Unknown names stay:
    botocore rejects them, as AWS does.
    """
    from botocore.model import StructureShape

    if not isinstance(shape, StructureShape) or not isinstance(parameters, dict):
        return
    members = shape.members
    by_lower = {name.lower(): name for name in members}
    for key in list(parameters):
        member = key if key in members else by_lower.get(key.lower())
        if member is None:
            continue
        parameters[member] = _to_boto_value(parameters.pop(key), members[member])


def _to_boto_value(value: Any, shape: Any) -> Any:
    from botocore.model import ListShape, MapShape, StructureShape

    if value is None:
        return value
    if isinstance(shape, StructureShape):
        to_boto_request(value, shape)
        return value
    if isinstance(shape, ListShape):
        return [_to_boto_value(item, shape.member) for item in value] if isinstance(value, list) else value
    if isinstance(shape, MapShape):
        if isinstance(value, dict):
            return {key: _to_boto_value(item, shape.value) for key, item in value.items()}
        return value
    if shape.type_name == "string" and not isinstance(value, str):
        return _compact_json(value)
    if shape.type_name == "blob" and not isinstance(value, bytes | bytearray):
        return (value if isinstance(value, str) else _compact_json(value)).encode("utf-8")
    return value


def from_boto_response(response: Any, shape: Any, *, epoch_millis: bool) -> None:
    """Renames the API's members in a result to Step Functions' PascalCase, in place.

    `executionArn` becomes `ExecutionArn`; acronyms stay (`MD5OfMessageBody`, `ETag`). Streaming
    bodies become strings; with `epoch_millis`, dates become epoch milliseconds.
    """
    from botocore.model import StructureShape

    if not isinstance(shape, StructureShape) or not isinstance(response, dict):
        return
    members = shape.members
    for key in list(response):
        if key not in members:
            continue
        value = _from_boto_value(response.pop(key), members[key], epoch_millis)
        response[key[:1].upper() + key[1:]] = value


def _from_boto_value(value: Any, shape: Any, epoch_millis: bool) -> Any:
    from botocore.model import ListShape, MapShape, StructureShape
    from botocore.response import StreamingBody

    if isinstance(value, StreamingBody):
        return value.read().decode("utf-8", errors="replace")
    if isinstance(shape, StructureShape):
        from_boto_response(value, shape, epoch_millis=epoch_millis)
        return value
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [_from_boto_value(item, shape.member, epoch_millis) for item in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {key: _from_boto_value(item, shape.value, epoch_millis) for key, item in value.items()}
    if epoch_millis and isinstance(value, dt.datetime):
        return int(value.timestamp() * 1000)
    return value
