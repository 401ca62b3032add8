"""API Gateway's own answers (gateway response types) and the exceptions that make the proxy give them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GatewayAnswer:
    """One of API Gateway's own responses (a gateway response type), with its defaults."""

    type: str
    status: int
    error_type: str


MISSING_AUTHENTICATION_TOKEN = GatewayAnswer(
    "MISSING_AUTHENTICATION_TOKEN", 403, "MissingAuthenticationTokenException"
)
INVALID_SIGNATURE = GatewayAnswer("INVALID_SIGNATURE", 403, "IncompleteSignatureException")
UNAUTHORIZED = GatewayAnswer("UNAUTHORIZED", 401, "UnauthorizedException")
INVALID_API_KEY = GatewayAnswer("INVALID_API_KEY", 403, "ForbiddenException")
BAD_REQUEST_PARAMETERS = GatewayAnswer("BAD_REQUEST_PARAMETERS", 400, "BadRequestException")
BAD_REQUEST_BODY = GatewayAnswer("BAD_REQUEST_BODY", 400, "BadRequestException")
API_CONFIGURATION_ERROR = GatewayAnswer("API_CONFIGURATION_ERROR", 500, "InternalServerErrorException")
INTEGRATION_TIMEOUT = GatewayAnswer("INTEGRATION_TIMEOUT", 504, "InternalServerErrorException")
# A failed or malformed Lambda proxy answer: AWS's 502, a DEFAULT_5XX response.
LAMBDA_FAILURE = GatewayAnswer("DEFAULT_5XX", 502, "InternalServerErrorException")
# Lambda's 429 (the function at its concurrency limit) never reaches the client: API Gateway answers
# 500, shaped by an INTEGRATION_FAILURE gateway response if the API has one (else DEFAULT_5XX).
LAMBDA_THROTTLED = GatewayAnswer("INTEGRATION_FAILURE", 500, "InternalServerErrorException")


class GatewayError(Exception):
    """API Gateway answers the client itself; `reason` is what its execution log would say."""

    def __init__(
        self, answer: GatewayAnswer, message: str, *, reason: str = "", validation_error: str = ""
    ) -> None:
        super().__init__(message)
        self.answer = answer
        self.message = message
        self.reason = reason or message
        self.validation_error = validation_error


class NotEmulated(Exception):
    """The API uses something localcloud does not run; answered with 501 and a clear message."""
