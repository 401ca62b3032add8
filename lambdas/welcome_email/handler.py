"""Lambda entry point: a `user_signup` event becomes one welcome email, once per event id."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from shared import correlation
from shared.contracts.envelope import EventBridgeEvent
from shared.contracts.user_signup import UserSignup
from shared.mail import SesMailer
from shared.validation import describe
from welcome_email.adapters import idempotency_store, ses_mailer
from welcome_email.config import load
from welcome_email.service import send_welcome_email

EVENT_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
config = load()  # fails the INIT, naming the variable, rather than the first event
logger = Logger()
metrics = Metrics()
idempotency_config = IdempotencyConfig(
    event_key_jmespath="id",  # the EventBridge event id: a redelivery of the same event is a repeat
    expires_after_seconds=config.idempotency_expiry_seconds,
)
# One session for every client: the second client reuses the loaded endpoint and model data.
session = boto3.session.Session()
# The typed event (envelope + contract detail). Powertools' EventBridgeEnvelope would import every
# envelope and model of its parser (~40 ms of INIT measured, 23% of the boto3 floor) for this one.
SignupEvent = EventBridgeEvent[UserSignup]
persistence = idempotency_store(config.idempotency_table_name, session)


class InvalidSignupEvent(ValueError):
    """The event's detail breaks the `user_signup` contract; the message says how."""


def event_id(event: Any) -> str:
    """The event's id when it looks like one (EventBridge sets it); anything else is not repeated."""
    value = event.get("id") if isinstance(event, dict) else None
    return value if isinstance(value, str) and EVENT_ID.match(value) else "?"


@lru_cache(maxsize=1)
def mailer() -> SesMailer:
    return ses_mailer(session)


@logger.inject_lambda_context(correlation_id_path=correlation.EVENTBRIDGE)
@metrics.log_metrics
@idempotent(config=idempotency_config, persistence_store=persistence)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    try:
        signup = SignupEvent.model_validate(event).detail
    except ValidationError as error:
        metrics.add_metric(name="InvalidSignupEvent", unit=MetricUnit.Count, value=1)
        # Raised, not swallowed: after Lambda's retries the event lands in the OnFailure DLQ with this
        # text, which names the fields and rules only (the detail holds an e-mail address). `from None`:
        # a traceback printed with its cause would repeat the input through pydantic's own message.
        raise InvalidSignupEvent(
            f"user_signup event {event_id(event)} is invalid: {describe(error)}"
        ) from None
    message_id = send_welcome_email(signup, sender=config.sender_email, mailer=mailer())
    metrics.add_metric(name="WelcomeEmailSent", unit=MetricUnit.Count, value=1)
    logger.info("Welcome email sent", extra={"message_id": message_id})
    return {"messageId": message_id}
