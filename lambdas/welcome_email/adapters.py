"""The welcome-email function's AWS side: SES v2 sends the mail, DynamoDB keeps idempotency records."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from shared.mail import SesMailer


def ses_mailer(session: Any) -> SesMailer:
    return SesMailer(session.client("sesv2"))


def idempotency_store(table_name: str, session: Any) -> DynamoDBPersistenceLayer:
    """Records keyed `id` with TTL `expiration` (the table's schema); Get/Put/Update/DeleteItem only."""
    return DynamoDBPersistenceLayer(table_name=table_name, boto3_session=session)
