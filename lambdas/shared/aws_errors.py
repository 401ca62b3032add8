"""AWS error codes the app acts on, in one place, and how to read them from an SDK error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

# DynamoDB
CONDITIONAL_CHECK_FAILED = "ConditionalCheckFailedException"
TRANSACTION_CANCELED = "TransactionCanceledException"
# A TransactionCanceledException's CancellationReasons[].Code, one per item of the transaction.
REASON_CONDITIONAL_CHECK_FAILED = "ConditionalCheckFailed"
REASON_TRANSACTION_CONFLICT = "TransactionConflict"
REASON_NONE = "None"

# Any service
RESOURCE_NOT_FOUND = "ResourceNotFoundException"
ACCESS_DENIED = "AccessDeniedException"
# CloudFormation (and other query-protocol services) answer a bad request, e.g. a missing stack, this way.
VALIDATION_ERROR = "ValidationError"
VALIDATION_EXCEPTION = "ValidationException"

# Step Functions: StartExecution with a name already used (the execution exists).
EXECUTION_ALREADY_EXISTS = "ExecutionAlreadyExists"
# CloudFormation: CreateStack of a stack name already taken.
ALREADY_EXISTS = "AlreadyExistsException"
# S3: the bucket is gone.
NO_SUCH_BUCKET = "NoSuchBucket"

# Throttled: retry later, with back-off.
THROTTLING: frozenset[str] = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)
# The service failed, not the request: retry.
SERVER_SIDE: frozenset[str] = frozenset(
    {
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "InternalServerErrorException",
        "InternalException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)
TRANSIENT: frozenset[str] = THROTTLING | SERVER_SIDE

# PutEvents answers these per entry; only the transient ones can succeed when sent again.
EVENTS_ENTRY_INTERNAL_FAILURE = "InternalFailure"
EVENTS_ENTRY_THROTTLED = "ThrottlingException"
EVENTS_ENTRY_MALFORMED_DETAIL = "MalformedDetail"


def error_code(error: ClientError) -> str:
    """The service's error code of an SDK error ("" when it has none)."""
    return str(error.response.get("Error", {}).get("Code", ""))


def is_condition_failure(error: ClientError) -> bool:
    return error_code(error) == CONDITIONAL_CHECK_FAILED


def is_transient(error: ClientError) -> bool:
    """Throttled or a server-side failure: the same request may succeed later."""
    return error_code(error) in TRANSIENT


def cancellation_reasons(error: ClientError) -> list[str]:
    """A canceled transaction's reason code per item, in the order of the request ([] otherwise)."""
    if error_code(error) != TRANSACTION_CANCELED:
        return []
    return [str(reason.get("Code", REASON_NONE)) for reason in error.response.get("CancellationReasons", [])]


def applied(write: Callable[..., Any], **request: Any) -> bool:
    """Runs one conditional write (`client.put_item`, `client.update_item`, ...): True when it was
    applied, False when its condition did not hold; any other error is raised."""
    try:
        write(**request)
    except ClientError as error:
        if is_condition_failure(error):
            return False
        raise
    return True
