"""The welcome-email service: consumes `user_signup` and sends the email through SES."""
