"""The Mailer port, its Email value, and the SES v2 adapter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Email:
    """A plain-text and HTML email to one recipient."""

    sender: str
    recipient: str
    subject: str
    text: str
    html: str


class Mailer(Protocol):
    """Sends an email and returns the provider's message id."""

    def send(self, email: Email) -> str: ...


class SesMailer:
    """Sends through SES v2 `SendEmail` from a verified identity."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def send(self, email: Email) -> str:
        response = self._client.send_email(
            FromEmailAddress=email.sender,
            Destination={"ToAddresses": [email.recipient]},
            Content={
                "Simple": {
                    "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                    "Body": {
                        "Text": {"Data": email.text, "Charset": "UTF-8"},
                        "Html": {"Data": email.html, "Charset": "UTF-8"},
                    },
                }
            },
        )
        return str(response["MessageId"])
