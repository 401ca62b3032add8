"""The welcome-email service, with a fake Mailer: no AWS."""

from __future__ import annotations

from shared.contracts.user_signup import UserSignup
from shared.mail import Email
from welcome_email.service import compose_welcome_email, send_welcome_email


class FakeMailer:
    def __init__(self) -> None:
        self.sent: list[Email] = []

    def send(self, email: Email) -> str:
        self.sent.append(email)
        return f"msg-{len(self.sent)}"


def test_the_welcome_email_greets_the_user_by_first_name() -> None:
    # Given a signup
    signup = UserSignup(email="testuser@example.com", name="Test User")
    # When the email is composed
    email = compose_welcome_email(signup, sender="no-reply@example.com")
    # Then it goes from the sender to the user, greeting them by first name
    assert (email.sender, email.recipient) == ("no-reply@example.com", "testuser@example.com")
    assert email.subject == "Welcome, Test!"
    assert email.text.startswith("Hi Test,")


def test_html_in_a_name_is_escaped_in_the_html_body() -> None:
    signup = UserSignup(email="testuser@example.com", name="<b>Mallory</b> X")
    email = compose_welcome_email(signup, sender="no-reply@example.com")
    assert "<b>Mallory" not in email.html
    assert "&lt;b&gt;Mallory&lt;/b&gt;" in email.html


def test_sending_hands_the_composed_email_to_the_mailer() -> None:
    mailer = FakeMailer()
    message_id = send_welcome_email(
        UserSignup(email="testuser@example.com", name="Test User"),
        sender="no-reply@example.com",
        mailer=mailer,
    )
    assert message_id == "msg-1"
    assert [e.recipient for e in mailer.sent] == ["testuser@example.com"]
