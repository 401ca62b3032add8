"""Per-type handlers that create each CloudFormation resource through the AWS service APIs."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError


class DeployError(Exception):
    """A resource could not be deployed; the message names the stack, logical id and type."""


@dataclass
class DeployedFunction:
    """What the in-process Lambda runtime needs to run one deployed function."""

    function_name: str
    function_arn: str
    code_dir: Path
    logical_id: str
    stack: str
    handler: str = ""
    runtime: str = ""
    environment: dict[str, str] = field(default_factory=dict)
    timeout: int = 3
    memory_size: int = 128
    # moto drops LoggingConfig, so the log group the function writes to travels here.
    log_group: str = ""
    # Every layer ARN the template names, and the code dirs of those this deployment published.
    layers: list[str] = field(default_factory=list)
    layer_dirs: list[Path] = field(default_factory=list)


@dataclass
class ApiRoute:
    """One API Gateway REST method: what an HTTP proxy layer needs, since moto cannot invoke AWS_PROXY."""

    stack: str
    logical_id: str
    rest_api_id: str
    resource_id: str
    path: str
    http_method: str
    integration_type: str
    integration_uri: str
    # The Lambda the integration calls, parsed from the Uri; None for non-Lambda integrations.
    function_arn: str | None
    authorization_type: str = "NONE"
    authorizer_id: str | None = None
    api_key_required: bool = False


@dataclass
class Created:
    """A created resource: what Ref returns, and what Fn::GetAtt can read."""

    physical_id: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Deployment:
    """State shared by every resource of one deploy() call."""

    session: Any
    endpoint_url: str | None
    account_id: str
    region: str
    cdk_out: Path
    assets: dict[str, Path]
    on_function: Callable[[DeployedFunction], None] | None
    functions: list[DeployedFunction] = field(default_factory=list)
    api_routes: list[ApiRoute] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    layer_dirs: dict[str, Path] = field(default_factory=dict)
    api_paths: dict[tuple[str, str], str] = field(default_factory=dict)
    _clients: dict[str, Any] = field(default_factory=dict)

    @property
    def partition(self) -> str:
        return partition_of(self.region)

    def client(self, service: str) -> Any:
        # Client creation loads the service model (~50 ms): one per service for the whole deploy.
        if service not in self._clients:
            # No retries: moto's answers are deterministic, so a retried error only delays the report.
            self._clients[service] = self.session.client(
                service,
                endpoint_url=self.endpoint_url,
                region_name=self.region,
                config=Config(retries={"mode": "standard", "max_attempts": 1}),
            )
        return self._clients[service]


@dataclass
class ResourceCall:
    """One resource being created: its resolved properties and the deployment it belongs to."""

    deployment: Deployment
    stack: str
    logical_id: str
    type: str
    props: dict[str, Any]
    metadata: dict[str, Any]

    def client(self, service: str) -> Any:
        return self.deployment.client(service)

    def note(self, message: str) -> None:
        self.deployment.notes.append(f"{self.stack}/{self.logical_id} ({self.type}): {message}")

    def name(
        self,
        max_len: int,
        *,
        with_stack: bool = True,
        sep: str = "-",
        lowercase: bool = False,
        allowed: str = r"A-Za-z0-9\-_",
    ) -> str:
        """A name like the one CloudFormation generates (`stack-LogicalId-SUFFIX`), stable across runs."""
        return generated_name(
            self.stack,
            self.logical_id,
            max_len,
            with_stack=with_stack,
            sep=sep,
            lowercase=lowercase,
            allowed=allowed,
        )

    @property
    def account_id(self) -> str:
        return self.deployment.account_id

    @property
    def region(self) -> str:
        return self.deployment.region

    @property
    def partition(self) -> str:
        return self.deployment.partition

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account_id}:{resource}"


Handler = Callable[[ResourceCall], Created]


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def generated_name(
    stack: str,
    logical_id: str,
    max_len: int,
    *,
    with_stack: bool = True,
    sep: str = "-",
    lowercase: bool = False,
    allowed: str = r"A-Za-z0-9\-_",
) -> str:
    # A hash, not a random suffix: names stay the same on every local deploy of the same assembly.
    digest = hashlib.sha256(f"{stack}/{logical_id}".encode()).digest()
    suffix = base64.b32encode(digest).decode()[:12]
    prefix = f"{stack}{sep}{logical_id}" if with_stack else logical_id
    if lowercase:
        prefix, suffix = prefix.lower(), suffix.lower()
    prefix = re.sub(f"[^{allowed}]", sep or "", prefix)
    room = max_len - len(suffix) - len(sep)
    return f"{prefix[:room]}{sep}{suffix}"


# ---------------------------------------------------------------- value helpers


def as_json(value: Any) -> str:
    """Policy documents, patterns and schemas arrive as objects in templates and as strings in APIs."""
    return value if isinstance(value, str) else json.dumps(value)


def as_text(value: Any) -> str:
    """CloudFormation scalars as the string attribute values the APIs want."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def as_bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() == "true"


def tag_list(props: Mapping[str, Any], key: str = "Tags") -> list[dict[str, str]]:
    return [{"Key": str(t["Key"]), "Value": str(t["Value"])} for t in props.get(key) or []]


def tag_dict(props: Mapping[str, Any], key: str = "Tags") -> dict[str, str]:
    tags = props.get(key) or []
    if isinstance(tags, dict):  # SSM and a few others take a map in CloudFormation
        return {str(k): str(v) for k, v in tags.items()}
    return {str(t["Key"]): str(t["Value"]) for t in tags}


def pick(props: Mapping[str, Any], *keys: str, rename: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The present keys, optionally renamed: most CloudFormation properties are API parameters verbatim."""
    rename = rename or {}
    return {rename.get(k, k): props[k] for k in keys if props.get(k) is not None}


def with_ints(params: dict[str, Any], *keys: str) -> dict[str, Any]:
    """Numbers a hand-written template may quote ("10"): botocore rejects a str where an int goes."""
    return {k: int(v) if k in keys and isinstance(v, str) else v for k, v in params.items()}


def camel(value: Any) -> Any:
    """CloudFormation PascalCase shapes as the camelCase ones of the REST-JSON APIs (IoT, API Gateway)."""
    if isinstance(value, dict):
        return {(k[:1].lower() + k[1:]): camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


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


# ---------------------------------------------------------------- EventBridge


def bus_name_of(value: str | None) -> str:
    """A bus name from a name or an ARN (`...:event-bus/name`)."""
    return (value or "default").split("event-bus/")[-1]


def events_event_bus(call: ResourceCall) -> Created:
    p = call.props
    name = p.get("Name") or call.name(256)
    params = {
        "Name": name,
        **pick(p, "EventSourceName", "Description", "KmsKeyIdentifier", "DeadLetterConfig"),
    }
    if p.get("Tags"):
        params["Tags"] = tag_list(p)
    arn = call.client("events").create_event_bus(**params)["EventBusArn"]
    if p.get("Policy"):
        call.client("events").put_permission(EventBusName=name, Policy=as_json(p["Policy"]))
    return Created(name, {"Arn": arn, "Name": name})


def events_event_bus_policy(call: ResourceCall) -> Created:
    p = call.props
    bus = bus_name_of(p.get("EventBusName"))
    statement_id = str(p["StatementId"])
    events = call.client("events")
    if p.get("Statement"):
        # Put as a one-statement policy: moto merges it into the bus's policy by Sid, as AWS does.
        statement = {"Sid": statement_id, **p["Statement"]}
        events.put_permission(
            EventBusName=bus, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]})
        )
    else:
        params = pick(p, "Action", "Principal", "Condition")
        events.put_permission(EventBusName=bus, StatementId=statement_id, **params)
    return Created(statement_id)


def events_archive(call: ResourceCall) -> Created:
    p = call.props
    name = p.get("ArchiveName") or call.name(48)
    params: dict[str, Any] = {"ArchiveName": name, "EventSourceArn": p["SourceArn"]}
    params.update(pick(p, "Description", "RetentionDays"))
    if p.get("EventPattern"):
        params["EventPattern"] = as_json(p["EventPattern"])
    if p.get("KmsKeyIdentifier"):  # CDK emits "" for "no key"; the API rejects an empty string
        params["KmsKeyIdentifier"] = p["KmsKeyIdentifier"]
    arn = call.client("events").create_archive(**params)["ArchiveArn"]
    return Created(name, {"Arn": arn, "ArchiveName": name})


RULE_TARGET_INTS = ("MaximumRetryAttempts", "MaximumEventAgeInSeconds")


def rule_target(target: Mapping[str, Any]) -> dict[str, Any]:
    """A Targets entry as PutTargets takes it: same keys; numbers in RetryPolicy must be ints."""
    out = dict(target)
    if "RetryPolicy" in out:
        out["RetryPolicy"] = {
            k: int(v) if k in RULE_TARGET_INTS else v for k, v in out["RetryPolicy"].items()
        }
    return out


def events_rule(call: ResourceCall) -> Created:
    p = call.props
    name = p.get("Name") or call.name(64)
    bus = bus_name_of(p.get("EventBusName"))
    params: dict[str, Any] = {"Name": name, "EventBusName": bus}
    params.update(pick(p, "Description", "ScheduleExpression", "State", "RoleArn"))
    if p.get("EventPattern"):
        params["EventPattern"] = as_json(p["EventPattern"])
    if p.get("Tags"):
        params["Tags"] = tag_list(p)
    events = call.client("events")
    arn = events.put_rule(**params)["RuleArn"]
    targets = [rule_target(t) for t in p.get("Targets") or []]
    if targets:
        response = events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        if response.get("FailedEntryCount"):
            raise DeployError(f"PutTargets failed: {response['FailedEntries']}")
    # CloudFormation's Ref of a rule on a custom bus is "bus|rule" (cloudformation-coverage-roadmap#1131).
    ref = name if bus == "default" else f"{bus}|{name}"
    return Created(ref, {"Arn": arn})


# ---------------------------------------------------------------- SQS / SNS


SQS_QUEUE_ATTRIBUTES = (
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoQueue",
    "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds",
    "KmsMasterKeyId",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "RedriveAllowPolicy",
    "RedrivePolicy",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
)


def sqs_queue(call: ResourceCall) -> Created:
    p = call.props
    fifo = as_bool(p.get("FifoQueue", False))
    name = p.get("QueueName") or (call.name(75) + ".fifo" if fifo else call.name(80))
    attributes = {k: as_text(p[k]) for k in SQS_QUEUE_ATTRIBUTES if p.get(k) is not None}
    params: dict[str, Any] = {"QueueName": name, "Attributes": attributes}
    if p.get("Tags"):
        params["tags"] = tag_dict(p)
    sqs = call.client("sqs")
    url = sqs.create_queue(**params)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return Created(url, {"Arn": arn, "QueueName": name, "QueueUrl": url})


def sqs_queue_policy(call: ResourceCall) -> Created:
    policy = as_json(call.props["PolicyDocument"])
    for url in call.props.get("Queues") or []:
        call.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    return Created(call.name(128))


SNS_TOPIC_ATTRIBUTES = (
    "ContentBasedDeduplication",
    "DisplayName",
    "FifoTopic",
    "KmsMasterKeyId",
    "SignatureVersion",
    "TracingConfig",
    "ArchivePolicy",
)


def sns_topic(call: ResourceCall) -> Created:
    p = call.props
    fifo = as_bool(p.get("FifoTopic", False))
    name = p.get("TopicName") or (call.name(251) + ".fifo" if fifo else call.name(256))
    attributes = {k: as_text(p[k]) for k in SNS_TOPIC_ATTRIBUTES if p.get(k) is not None}
    params: dict[str, Any] = {"Name": name, "Attributes": attributes}
    if p.get("Tags"):
        params["Tags"] = tag_list(p)
    sns = call.client("sns")
    arn = sns.create_topic(**params)["TopicArn"]
    for subscription in p.get("Subscription") or []:
        sns.subscribe(TopicArn=arn, Protocol=subscription["Protocol"], Endpoint=subscription["Endpoint"])
    if p.get("DeliveryStatusLogging") or p.get("DataProtectionPolicy"):
        call.note("DeliveryStatusLogging/DataProtectionPolicy are not applied locally")
    return Created(arn, {"TopicArn": arn, "TopicName": name})


def sns_topic_policy(call: ResourceCall) -> Created:
    policy = as_json(call.props["PolicyDocument"])
    for arn in call.props.get("Topics") or []:
        call.client("sns").set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=policy)
    return Created(call.name(128))


SNS_SUBSCRIPTION_ATTRIBUTES = (
    "DeliveryPolicy",
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "ReplayPolicy",
    "SubscriptionRoleArn",
)


def sns_subscription(call: ResourceCall) -> Created:
    p = call.props
    attributes = {k: as_text(p[k]) for k in SNS_SUBSCRIPTION_ATTRIBUTES if p.get(k) is not None}
    arn = call.client("sns").subscribe(
        TopicArn=p["TopicArn"],
        Protocol=p["Protocol"],
        Endpoint=p.get("Endpoint", ""),
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    return Created(arn, {"Arn": arn})


# ---------------------------------------------------------------- KMS / IAM


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


# ---------------------------------------------------------------- Lambda


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
        stack=call.stack,
        handler=handler,
        runtime=runtime,
        environment={k: str(v) for k, v in params.get("Environment", {}).get("Variables", {}).items()},
        timeout=int(p.get("Timeout", 3)),
        memory_size=int(p.get("MemorySize", 128)),
        log_group=str((p.get("LoggingConfig") or {}).get("LogGroup") or f"/aws/lambda/{name}"),
        layers=declared,
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


# ---------------------------------------------------------------- Logs


def log_group_arn(call: ResourceCall, name: str) -> str:
    return call.arn("logs", f"log-group:{name}:*")


def put_retention(call: ResourceCall, name: str, days: Any) -> None:
    if days is not None and str(days) != "Infinity":
        call.client("logs").put_retention_policy(logGroupName=name, retentionInDays=int(days))


def logs_log_group(call: ResourceCall) -> Created:
    p = call.props
    name = p.get("LogGroupName") or call.name(512)
    params: dict[str, Any] = {
        "logGroupName": name,
        **pick(p, "KmsKeyId", "LogGroupClass", rename=LOGS_RENAME),
    }
    if p.get("Tags"):
        params["tags"] = tag_dict(p)
    call.client("logs").create_log_group(**params)
    put_retention(call, name, p.get("RetentionInDays"))
    return Created(name, {"Arn": log_group_arn(call, name)})


LOGS_RENAME = {"KmsKeyId": "kmsKeyId", "LogGroupClass": "logGroupClass"}


def logs_metric_filter(call: ResourceCall) -> Created:
    p = call.props
    name = p.get("FilterName") or call.name(512)
    call.client("logs").put_metric_filter(
        logGroupName=p["LogGroupName"],
        filterName=name,
        filterPattern=p["FilterPattern"],
        metricTransformations=camel(p["MetricTransformations"]),
    )
    return Created(name)


def logs_resource_policy(call: ResourceCall) -> Created:
    p = call.props
    call.client("logs").put_resource_policy(
        policyName=p["PolicyName"], policyDocument=as_json(p["PolicyDocument"])
    )
    return Created(p["PolicyName"])


def custom_log_retention(call: ResourceCall) -> Created:
    """CDK's `logRetention` custom resource: create the group if missing and set its retention."""
    name = call.props["LogGroupName"]
    try:
        call.client("logs").create_log_group(logGroupName=name)
    except ClientError as exc:
        if error_code(exc) != "ResourceAlreadyExistsException":
            raise
    put_retention(call, name, call.props.get("RetentionInDays"))
    return Created(name)


# ---------------------------------------------------------------- DynamoDB


def throughput(value: Mapping[str, Any] | None) -> dict[str, int] | None:
    if not value:
        return None
    return {k: int(v) for k, v in value.items()}


def dynamodb_index(index: Mapping[str, Any], on_demand: bool) -> dict[str, Any]:
    # The API has no ContributorInsights/WarmThroughput per index, and no throughput when on demand.
    out = pick(index, "IndexName", "KeySchema", "Projection", "OnDemandThroughput")
    if not on_demand:
        out["ProvisionedThroughput"] = throughput(index.get("ProvisionedThroughput")) or {
            "ReadCapacityUnits": 5,
            "WriteCapacityUnits": 5,
        }
    return out


def create_table(call: ResourceCall, name: str, p: Mapping[str, Any], extra: Mapping[str, Any]) -> Created:
    """Shared by Table and GlobalTable: create_table, then TTL and PITR, which create_table cannot set."""
    on_demand = p.get("BillingMode") == "PAY_PER_REQUEST"
    params: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": p["AttributeDefinitions"],
        "KeySchema": p["KeySchema"],
        "BillingMode": p.get("BillingMode", "PROVISIONED"),
        **pick(p, "TableClass", "DeletionProtectionEnabled", "OnDemandThroughput"),
        **extra,
    }
    if not on_demand:
        params["ProvisionedThroughput"] = throughput(p.get("ProvisionedThroughput")) or {
            "ReadCapacityUnits": 5,
            "WriteCapacityUnits": 5,
        }
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if p.get(key):
            params[key] = [dynamodb_index(i, on_demand) for i in p[key]]
    stream = p.get("StreamSpecification")
    if stream and stream.get("StreamViewType"):
        params["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    sse = p.get("SSESpecification")
    if sse:
        params["SSESpecification"] = {
            "Enabled": as_bool(sse.get("SSEEnabled", False)),
            **pick(sse, "SSEType", "KMSMasterKeyId"),
        }
    dynamodb = call.client("dynamodb")
    dynamodb.create_table(**params)
    ttl = p.get("TimeToLiveSpecification")
    if ttl and ttl.get("AttributeName"):
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={
                "AttributeName": ttl["AttributeName"],
                "Enabled": as_bool(ttl["Enabled"]),
            },
        )
    pitr = p.get("PointInTimeRecoverySpecification")
    if pitr and as_bool(pitr.get("PointInTimeRecoveryEnabled", False)):
        dynamodb.update_continuous_backups(
            TableName=name,
            PointInTimeRecoverySpecification={
                "PointInTimeRecoveryEnabled": True,
                **pick(pitr, "RecoveryPeriodInDays"),
            },
        )
    for ignored in ("KinesisStreamSpecification", "ContributorInsightsSpecification", "ResourcePolicy"):
        if p.get(ignored):
            call.note(f"{ignored} is not applied locally")
    table = dynamodb.describe_table(TableName=name)["Table"]
    attributes = {"Arn": table["TableArn"], "TableId": table.get("TableId", "")}
    if table.get("LatestStreamArn"):
        attributes["StreamArn"] = table["LatestStreamArn"]
    return Created(name, attributes)


def dynamodb_table(call: ResourceCall) -> Created:
    p = call.props
    if p.get("ImportSourceSpecification"):
        raise DeployError("ImportSourceSpecification (import from S3) is not supported locally")
    extra: dict[str, Any] = {}
    if p.get("Tags"):
        extra["Tags"] = tag_list(p)
    return create_table(call, p.get("TableName") or call.name(255), p, extra)


def dynamodb_global_table(call: ResourceCall) -> Created:
    """CDK's TableV2: one local table, with this region's replica settings (or the first replica's)."""
    p = dict(call.props)
    replicas = p.get("Replicas") or []
    replica = next((r for r in replicas if r.get("Region") == call.region), replicas[0] if replicas else {})
    for key in ("PointInTimeRecoverySpecification", "DeletionProtectionEnabled", "TableClass"):
        if replica.get(key) is not None:
            p[key] = replica[key]
    if p.get("BillingMode") != "PAY_PER_REQUEST":
        write = (p.get("WriteProvisionedThroughputSettings") or {}).get(
            "WriteCapacityAutoScalingSettings", {}
        )
        read = (replica.get("ReadProvisionedThroughputSettings") or {}).get("ReadCapacityUnits")
        p["ProvisionedThroughput"] = {
            "ReadCapacityUnits": int(read or 5),
            "WriteCapacityUnits": int(write.get("MinCapacity", 5)),
        }
    p["GlobalSecondaryIndexes"] = [
        {k: v for k, v in index.items() if not k.startswith("Write")}
        for index in p.get("GlobalSecondaryIndexes") or []
    ]
    extra: dict[str, Any] = {}
    if replica.get("Tags"):
        extra["Tags"] = tag_list(replica)
    if len(replicas) > 1:
        call.note("one local table stands for every replica")
    return create_table(call, p.get("TableName") or call.name(255), p, extra)


# ---------------------------------------------------------------- SES / CloudWatch


def ses_email_identity(call: ResourceCall) -> Created:
    p = call.props
    identity = str(p["EmailIdentity"])
    params: dict[str, Any] = {"EmailIdentity": identity}
    if p.get("Tags"):
        params["Tags"] = tag_list(p)
    if (p.get("ConfigurationSetAttributes") or {}).get("ConfigurationSetName"):
        params["ConfigurationSetName"] = p["ConfigurationSetAttributes"]["ConfigurationSetName"]
    # moto counts an identity as verified once it exists: SendEmail from it succeeds, as after verification.
    call.client("sesv2").create_email_identity(**params)
    domain = identity.split("@")[-1]
    attributes: dict[str, Any] = {}
    for n in (1, 2, 3):
        token = hashlib.sha256(f"{identity}/{n}".encode()).hexdigest()[:32]
        attributes[f"DkimDNSTokenName{n}"] = f"{token}._domainkey.{domain}"
        attributes[f"DkimDNSTokenValue{n}"] = f"{token}.dkim.amazonses.com"
    return Created(identity, attributes)


CLOUDWATCH_ALARM_PARAMS = (
    "AlarmDescription",
    "ActionsEnabled",
    "AlarmActions",
    "OKActions",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Unit",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "Metrics",
    "ThresholdMetricId",
    "ComparisonOperator",
)


def cloudwatch_alarm(call: ResourceCall) -> Created:
    p = call.props
    name = p.get("AlarmName") or call.name(255)
    params: dict[str, Any] = {"AlarmName": name, **pick(p, *CLOUDWATCH_ALARM_PARAMS)}
    for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
        if p.get(key) is not None:
            params[key] = int(p[key])
    if p.get("Threshold") is not None:
        params["Threshold"] = float(p["Threshold"])
    if p.get("Tags"):
        params["Tags"] = tag_list(p)
    call.client("cloudwatch").put_metric_alarm(**params)
    return Created(name, {"Arn": call.arn("cloudwatch", f"alarm:{name}")})


def cloudwatch_dashboard(call: ResourceCall) -> Created:
    name = call.props.get("DashboardName") or call.name(255)
    call.client("cloudwatch").put_dashboard(
        DashboardName=name, DashboardBody=as_json(call.props["DashboardBody"])
    )
    return Created(name)


# ---------------------------------------------------------------- S3


def s3_notifications(config: Mapping[str, Any]) -> dict[str, Any]:
    """A Bucket's NotificationConfiguration property in PutBucketNotificationConfiguration's shape."""
    out: dict[str, Any] = {}
    if as_bool((config.get("EventBridgeConfiguration") or {}).get("EventBridgeEnabled", False)):
        out["EventBridgeConfiguration"] = {}
    for cfn_key, api_key, cfn_target, api_target in (
        ("LambdaConfigurations", "LambdaFunctionConfigurations", "Function", "LambdaFunctionArn"),
        ("QueueConfigurations", "QueueConfigurations", "Queue", "QueueArn"),
        ("TopicConfigurations", "TopicConfigurations", "Topic", "TopicArn"),
    ):
        items = []
        for item in config.get(cfn_key) or []:
            entry: dict[str, Any] = {api_target: item[cfn_target], "Events": [item["Event"]]}
            rules = ((item.get("Filter") or {}).get("S3Key") or {}).get("Rules")
            if rules:
                entry["Filter"] = {"Key": {"FilterRules": rules}}
            items.append(entry)
        if items:
            out[api_key] = items
    return out


def s3_lifecycle_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A Bucket LifecycleConfiguration rule in PutBucketLifecycleConfiguration's shape."""
    out: dict[str, Any] = {"Status": rule.get("Status", "Enabled")}
    if rule.get("Id"):
        out["ID"] = rule["Id"]
    conditions: dict[str, Any] = pick(rule, "Prefix", "ObjectSizeGreaterThan", "ObjectSizeLessThan")
    tags = [{"Key": t["Key"], "Value": t["Value"]} for t in rule.get("TagFilters") or []]
    if tags:
        conditions["Tags"] = tags
    if len(conditions) > 1 or tags:
        out["Filter"] = {"And": conditions}
    else:
        out["Filter"] = conditions or {"Prefix": ""}
    expiration = pick(rule, "ExpirationInDays", "ExpirationDate", "ExpiredObjectDeleteMarker")
    if expiration:
        out["Expiration"] = {
            {"ExpirationInDays": "Days", "ExpirationDate": "Date"}.get(k, k): v for k, v in expiration.items()
        }
    transitions = list(rule.get("Transitions") or []) + (
        [rule["Transition"]] if rule.get("Transition") else []
    )
    if transitions:
        out["Transitions"] = [
            {
                "StorageClass": t["StorageClass"],
                **pick(t, "TransitionInDays", "TransitionDate", rename=TRANSITION),
            }
            for t in transitions
        ]
    noncurrent = list(rule.get("NoncurrentVersionTransitions") or [])
    if rule.get("NoncurrentVersionTransition"):
        noncurrent.append(rule["NoncurrentVersionTransition"])
    if noncurrent:
        out["NoncurrentVersionTransitions"] = [
            {
                "StorageClass": t["StorageClass"],
                "NoncurrentDays": t["TransitionInDays"],
                **pick(t, "NewerNoncurrentVersions"),
            }
            for t in noncurrent
        ]
    if rule.get("NoncurrentVersionExpiration"):
        out["NoncurrentVersionExpiration"] = dict(rule["NoncurrentVersionExpiration"])
    elif rule.get("NoncurrentVersionExpirationInDays"):
        out["NoncurrentVersionExpiration"] = {"NoncurrentDays": rule["NoncurrentVersionExpirationInDays"]}
    if rule.get("AbortIncompleteMultipartUpload"):
        out["AbortIncompleteMultipartUpload"] = dict(rule["AbortIncompleteMultipartUpload"])
    return out


SSE_RENAME = {"ServerSideEncryptionByDefault": "ApplyServerSideEncryptionByDefault"}
TRANSITION = {"TransitionInDays": "Days", "TransitionDate": "Date"}
S3_APPLIED = {
    "BucketName",
    "Tags",
    "VersioningConfiguration",
    "BucketEncryption",
    "PublicAccessBlockConfiguration",
    "OwnershipControls",
    "NotificationConfiguration",
    "LifecycleConfiguration",
    "CorsConfiguration",
}


def s3_bucket(call: ResourceCall) -> Created:
    p = call.props
    name = p.get("BucketName") or call.name(63, lowercase=True, allowed="a-z0-9-")
    s3 = call.client("s3")
    params: dict[str, Any] = {"Bucket": name}
    if call.region != "us-east-1":
        params["CreateBucketConfiguration"] = {"LocationConstraint": call.region}
    s3.create_bucket(**params)
    if p.get("VersioningConfiguration"):
        s3.put_bucket_versioning(
            Bucket=name, VersioningConfiguration={"Status": p["VersioningConfiguration"]["Status"]}
        )
    if p.get("BucketEncryption"):
        rules = [
            pick(rule, "ServerSideEncryptionByDefault", "BucketKeyEnabled", rename=SSE_RENAME)
            for rule in p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if p.get("PublicAccessBlockConfiguration"):
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=p["PublicAccessBlockConfiguration"]
        )
    if p.get("OwnershipControls"):
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=p["OwnershipControls"])
    if p.get("Tags"):
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tag_list(p)})
    if p.get("LifecycleConfiguration"):
        rules = [s3_lifecycle_rule(r) for r in p["LifecycleConfiguration"].get("Rules") or []]
        s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
    if p.get("CorsConfiguration"):
        cors = [
            pick(
                rule,
                "AllowedHeaders",
                "AllowedMethods",
                "AllowedOrigins",
                "ExposedHeaders",
                "Id",
                "MaxAge",
                rename={"ExposedHeaders": "ExposeHeaders", "Id": "ID", "MaxAge": "MaxAgeSeconds"},
            )
            for rule in p["CorsConfiguration"].get("CorsRules") or []
        ]
        s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": cors})
    if p.get("NotificationConfiguration"):
        s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration=s3_notifications(p["NotificationConfiguration"])
        )
    ignored = sorted(set(p) - S3_APPLIED)
    if ignored:
        call.note(f"not applied locally: {', '.join(ignored)}")
    return Created(
        name,
        {
            "Arn": f"arn:{call.partition}:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{call.region}.amazonaws.com",
            "DualStackDomainName": f"{name}.s3.dualstack.{call.region}.amazonaws.com",
            "WebsiteURL": f"http://{name}.s3-website-{call.region}.amazonaws.com",
        },
    )


def s3_bucket_policy(call: ResourceCall) -> Created:
    bucket = call.props["Bucket"]
    document = call.props["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else dict(document)
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    # moto checks bucket policies on object reads and writes but has no request context for
    # conditions: a statement with a Condition always evaluates to DENIED (IAMPolicyStatement.
    # is_action_permitted), so CDK's enforceSSL statement would lock every object. Drop those.
    kept = [s for s in statements if not s.get("Condition")]
    for dropped in statements:
        if dropped.get("Condition"):
            call.note(f"statement {dropped.get('Sid', '')!r} with a Condition not put: moto would deny all")
    if kept:
        policy = json.dumps({**document, "Statement": kept})
        call.client("s3").put_bucket_policy(Bucket=bucket, Policy=policy)
    return Created(bucket)


def custom_s3_bucket_notifications(call: ResourceCall) -> Created:
    """CDK's bucket-notifications custom resource (how `eventBridgeEnabled` and `addEventNotification`
    reach S3): its NotificationConfiguration is already in the API's shape."""
    p = call.props
    bucket = p["BucketName"]
    config = dict(p.get("NotificationConfiguration") or {})
    s3 = call.client("s3")
    if not as_bool(p.get("Managed", True)):
        # An imported bucket keeps the notifications it already had, as CDK's handler does.
        existing = s3.get_bucket_notification_configuration(Bucket=bucket)
        for key in ("TopicConfigurations", "QueueConfigurations", "LambdaFunctionConfigurations"):
            config[key] = list(existing.get(key) or []) + list(config.get(key) or [])
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
    return Created(call.logical_id)


# ---------------------------------------------------------------- SSM / Step Functions / IoT


def ssm_parameter(call: ResourceCall) -> Created:
    p = call.props
    name = p.get("Name") or "CFN-" + call.name(2044, with_stack=False)
    params: dict[str, Any] = {
        "Name": name,
        "Value": as_text(p["Value"]),
        "Type": p.get("Type", "String"),
        **pick(p, "Description", "AllowedPattern", "Tier", "DataType", "Policies"),
    }
    if p.get("Tags"):
        params["Tags"] = [{"Key": k, "Value": v} for k, v in tag_dict(p).items()]
    call.client("ssm").put_parameter(**params)
    return Created(name, {"Type": params["Type"], "Value": params["Value"]})


def stepfunctions_state_machine(call: ResourceCall) -> Created:
    p = call.props
    if p.get("DefinitionS3Location"):
        raise DeployError("DefinitionS3Location is not supported locally: use DefinitionString/Definition")
    definition = as_json(p.get("DefinitionString") or p.get("Definition"))
    for key, value in (p.get("DefinitionSubstitutions") or {}).items():
        definition = definition.replace("${" + key + "}", as_text(value))
    name = p.get("StateMachineName") or call.name(80, with_stack=False)
    params: dict[str, Any] = {"name": name, "definition": definition, "roleArn": p["RoleArn"]}
    if p.get("StateMachineType"):
        params["type"] = p["StateMachineType"]
    if p.get("LoggingConfiguration"):
        params["loggingConfiguration"] = camel(p["LoggingConfiguration"])
    if p.get("TracingConfiguration"):
        params["tracingConfiguration"] = camel(p["TracingConfiguration"])
    if p.get("Tags"):
        params["tags"] = [{"key": t["Key"], "value": t["Value"]} for t in tag_list(p)]
    arn = call.client("stepfunctions").create_state_machine(**params)["stateMachineArn"]
    return Created(arn, {"Arn": arn, "Name": name, "StateMachineRevisionId": "INITIAL"})


def iot_topic_rule(call: ResourceCall) -> Created:
    p = call.props
    name = p.get("RuleName") or call.name(128, sep="_", allowed="A-Za-z0-9_")
    params: dict[str, Any] = {"ruleName": name, "topicRulePayload": camel(p["TopicRulePayload"])}
    if p.get("Tags"):
        params["tags"] = "&".join(f"{k}={v}" for k, v in tag_dict(p).items())
    call.client("iot").create_topic_rule(**params)
    return Created(name, {"Arn": call.arn("iot", f"rule/{name}")})


# ---------------------------------------------------------------- API Gateway (REST)


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


# ---------------------------------------------------------------- the registry


HANDLERS: dict[str, Handler] = {
    "AWS::Events::EventBus": events_event_bus,
    "AWS::Events::EventBusPolicy": events_event_bus_policy,
    "AWS::Events::Archive": events_archive,
    "AWS::Events::Rule": events_rule,
    "AWS::SQS::Queue": sqs_queue,
    "AWS::SQS::QueuePolicy": sqs_queue_policy,
    "AWS::SNS::Topic": sns_topic,
    "AWS::SNS::TopicPolicy": sns_topic_policy,
    "AWS::SNS::Subscription": sns_subscription,
    "AWS::KMS::Key": kms_key,
    "AWS::KMS::Alias": kms_alias,
    "AWS::IAM::Role": iam_role,
    "AWS::IAM::Policy": iam_policy,
    "AWS::IAM::ManagedPolicy": iam_managed_policy,
    "AWS::Lambda::Function": lambda_function,
    "AWS::Lambda::LayerVersion": lambda_layer_version,
    "AWS::Lambda::Version": lambda_version,
    "AWS::Lambda::Alias": lambda_alias,
    "AWS::Lambda::EventInvokeConfig": lambda_event_invoke_config,
    "AWS::Lambda::Permission": lambda_permission,
    "AWS::Lambda::EventSourceMapping": lambda_event_source_mapping,
    "AWS::Logs::LogGroup": logs_log_group,
    "AWS::Logs::MetricFilter": logs_metric_filter,
    "AWS::Logs::ResourcePolicy": logs_resource_policy,
    "AWS::DynamoDB::Table": dynamodb_table,
    "AWS::DynamoDB::GlobalTable": dynamodb_global_table,
    "AWS::SES::EmailIdentity": ses_email_identity,
    "AWS::CloudWatch::Alarm": cloudwatch_alarm,
    "AWS::CloudWatch::Dashboard": cloudwatch_dashboard,
    "AWS::S3::Bucket": s3_bucket,
    "AWS::S3::BucketPolicy": s3_bucket_policy,
    "AWS::SSM::Parameter": ssm_parameter,
    "AWS::StepFunctions::StateMachine": stepfunctions_state_machine,
    "AWS::IoT::TopicRule": iot_topic_rule,
    "AWS::ApiGateway::RestApi": apigateway_rest_api,
    "AWS::ApiGateway::Resource": apigateway_resource,
    "AWS::ApiGateway::Method": apigateway_method,
    "AWS::ApiGateway::Deployment": apigateway_deployment,
    "AWS::ApiGateway::Stage": apigateway_stage,
    "AWS::ApiGateway::Account": apigateway_account,
    "AWS::ApiGateway::Model": apigateway_model,
    "AWS::ApiGateway::RequestValidator": apigateway_request_validator,
    "AWS::ApiGateway::Authorizer": apigateway_authorizer,
    "AWS::ApiGateway::UsagePlan": apigateway_usage_plan,
    "AWS::ApiGateway::ApiKey": apigateway_api_key,
    "AWS::ApiGateway::UsagePlanKey": apigateway_usage_plan_key,
    "AWS::ApiGateway::GatewayResponse": apigateway_gateway_response,
    # Two CDK custom resources whose effect is one API call: emulated rather than skipped.
    "Custom::LogRetention": custom_log_retention,
    "Custom::S3BucketNotifications": custom_s3_bucket_notifications,
}
