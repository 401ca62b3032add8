"""Composes and sends the welcome email; no AWS here, only the Mailer port."""

from __future__ import annotations

from shared.contracts.user_signup import UserSignup
from shared.mail import Email, Mailer


def compose_welcome_email(signup: UserSignup, *, sender: str) -> Email:
    """The welcome email for one signup."""
    first_name = signup.name.split()[0]
    text = (
        f"Hi {first_name},\n\n"
        "Welcome aboard! Your account is ready.\n\n"
        "If you did not sign up, ignore this email.\n"
    )
    html = (
        f"<p>Hi {_escape(first_name)},</p>"
        "<p>Welcome aboard! Your account is ready.</p>"
        "<p>If you did not sign up, ignore this email.</p>"
    )
    return Email(
        sender=sender, recipient=signup.email, subject=f"Welcome, {first_name}!", text=text, html=html
    )


def send_welcome_email(signup: UserSignup, *, sender: str, mailer: Mailer) -> str:
    """Sends the welcome email; returns the message id."""
    return mailer.send(compose_welcome_email(signup, sender=sender))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
