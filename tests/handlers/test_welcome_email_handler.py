"""The welcome-email handler against moto: SES v2, the idempotency table, bad input."""

from __future__ import annotations

from types import ModuleType

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from tests.handlers.conftest import (
    REGION,
    FakeContext,
    create_idempotency_table,
    eventbridge_event,
    load_handler,
)
from tests.handlers.logs import correlation_ids, log_lines

SENDER = "no-reply@example.com"
TABLE = "idempotency"


@pytest.fixture
def handler(aws: None, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # Given the stack's resources: a verified sender identity and the idempotency table
    boto3.client("sesv2").create_email_identity(EmailIdentity=SENDER)
    create_idempotency_table(TABLE)
    monkeypatch.setenv("SENDER_EMAIL", SENDER)
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", TABLE)
    monkeypatch.setenv("IDEMPOTENCY_EXPIRY_SECONDS", "86400")
    return load_handler("welcome_email.handler")


def sent_messages() -> list[object]:
    return list(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages)


def test_a_signup_sends_the_welcome_email_from_the_verified_identity(handler: ModuleType) -> None:
    # When a user_signup event arrives
    result = handler.lambda_handler(
        eventbridge_event({"email": "testuser@example.com", "name": "Test User"}), FakeContext()
    )
    # Then one email went from the sender identity to the user, with the welcome content
    [message] = sent_messages()
    assert message.source == SENDER  # type: ignore[attr-defined]
    assert message.destinations["ToAddresses"] == ["testuser@example.com"]  # type: ignore[attr-defined]
    assert message.subject == "Welcome, Test!"  # type: ignore[attr-defined]
    assert "Hi Test," in message.body  # type: ignore[attr-defined]
    assert result["messageId"] == message.id  # type: ignore[attr-defined]
    assert boto3.client("ses").get_send_quota()["SentLast24Hours"] == 1


def test_the_same_event_twice_sends_one_email_and_returns_the_stored_result(handler: ModuleType) -> None:
    # Given an event already handled
    event = eventbridge_event({"email": "testuser@example.com", "name": "Test User"}, event_id="evt-dup")
    first = handler.lambda_handler(event, FakeContext())
    # When EventBridge delivers it again
    second = handler.lambda_handler(event, FakeContext(aws_request_id="req-2"))
    # Then no second email is sent, and the first result is returned
    assert len(sent_messages()) == 1
    assert second == first


def test_two_events_with_the_same_content_are_two_signups(handler: ModuleType) -> None:
    detail = {"email": "testuser@example.com", "name": "Test User"}
    handler.lambda_handler(eventbridge_event(detail, event_id="a"), FakeContext())
    handler.lambda_handler(eventbridge_event(detail, event_id="b"), FakeContext())
    assert len(sent_messages()) == 2


@pytest.mark.parametrize(
    ("detail", "reason"),
    [
        ({"name": "Test User"}, "email"),
        ({"email": "not-an-email", "name": "Test User"}, "email"),
        ("just a string", "detail"),
    ],
)
def test_a_bad_event_sends_nothing_and_fails_with_a_readable_error(
    handler: ModuleType, detail: object, reason: str
) -> None:
    # When an event that breaks the contract arrives
    with pytest.raises(handler.InvalidSignupEvent) as error:
        handler.lambda_handler(eventbridge_event(detail, event_id="bad-1"), FakeContext())
    # Then no email is sent, and the error says which event and what is wrong
    assert sent_messages() == []
    assert "bad-1" in str(error.value)
    assert reason in str(error.value)
    # And it repeats none of the input
    assert "not-an-email" not in str(error.value) and "Test User" not in str(error.value)
    assert error.value.__cause__ is None and error.value.__suppress_context__


def test_a_failed_event_can_be_retried_once_fixed_upstream(handler: ModuleType) -> None:
    # Given an event whose first attempt failed (the idempotency record must not block its retry)
    event = eventbridge_event({"email": "testuser@example.com", "name": "Test User"}, event_id="retry-1")
    client = handler.mailer()
    original = client.send
    calls = {"n": 0}

    def flaky(email: object) -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("SES throttled")
        return original(email)  # type: ignore[arg-type]

    client.send = flaky  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        handler.lambda_handler(event, FakeContext())
    # When Lambda retries it
    handler.lambda_handler(event, FakeContext(aws_request_id="req-2"))
    # Then the email is sent exactly once
    assert len(sent_messages()) == 1


SENTINEL = "leak.sentinel+42@example.com"


@pytest.mark.parametrize(
    "detail",
    [
        {"email": f"{SENTINEL} ", "name": "x\x00"},  # breaks both patterns
        {"email": SENTINEL, "name": SENTINEL * 10},  # a name too long
        {"email": f"<{SENTINEL}>", "name": "Test User", SENTINEL: SENTINEL},
        {"email": [SENTINEL], "name": {SENTINEL: 1}},
        {"version": SENTINEL, "email": SENTINEL, "name": "Test User"},
    ],
)
def test_an_invalid_signup_is_parked_and_logged_without_its_personal_data(
    handler: ModuleType, capsys: pytest.CaptureFixture[str], detail: dict[str, object]
) -> None:
    # When an invalid signup carrying an e-mail address arrives
    with pytest.raises(handler.InvalidSignupEvent) as error:
        handler.lambda_handler(eventbridge_event(detail, event_id="bad-2"), FakeContext())
    # Then what Lambda parks in the OnFailure DLQ (the error's message, its type and traceback: no cause)
    # and everything the function printed (logs, metrics) are free of it
    assert SENTINEL not in str(error.value) and "bad-2" in str(error.value)
    assert error.value.__cause__ is None
    output = capsys.readouterr()
    assert "InvalidSignupEvent" in output.out  # the metric was written, so the output was captured
    assert SENTINEL not in output.out + output.err


@pytest.mark.parametrize("variable", ["SENDER_EMAIL", "IDEMPOTENCY_TABLE_NAME", "IDEMPOTENCY_EXPIRY_SECONDS"])
def test_a_misconfigured_function_fails_its_init_naming_the_variable(
    aws: None, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    # Given the function's environment without one of its variables
    monkeypatch.setenv("SENDER_EMAIL", SENDER)
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", TABLE)
    monkeypatch.setenv("IDEMPOTENCY_EXPIRY_SECONDS", "86400")
    monkeypatch.delenv(variable)
    # When Lambda loads the handler, then the INIT fails and says which variable to check
    with pytest.raises(RuntimeError, match=variable):
        load_handler("welcome_email.handler")


def test_every_log_line_carries_the_signup_events_id_as_correlation_id(handler: ModuleType) -> None:
    event = eventbridge_event({"email": "testuser@example.com", "name": "Test User"}, event_id="evt-signup")
    with log_lines(handler.logger) as lines:
        handler.lambda_handler(event, FakeContext())
    assert lines and set(correlation_ids(lines)) == {"evt-signup"}
