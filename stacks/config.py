"""The app's configuration: one frozen value built in app.py and passed down as typed props."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lambdas.shared.contracts import names

# Every source this app's events carry: the metrics consumer listens to all of them.
APP_SOURCES: tuple[str, ...] = names.APP_SOURCES
# The tutorial's source: people publish it with `aws events put-events`, to the default bus too, so the
# default bus forwards it (and only it) to the custom bus, and any principal of the account may put it.
FORWARDED_SOURCES: tuple[str, ...] = (names.USERS,)
# The sources the app's services produce, and the stacks (by the last part of their names) whose roles
# produce them: the bus policy lets only those roles put these sources.
SOURCE_PRODUCERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (names.ORDERS, ("Orders",)),
    (names.PAYMENTS, ("Orders",)),
    (names.TRIALS, ("Trials",)),
)
# CloudFormation names a role it generates `<stack name>-<logical id>-<suffix>` within IAM's 64
# characters, shortening the logical id; short stack names keep that `<stack name>-` prefix whole.
MAX_APP_NAME_LENGTH = 20

# CloudWatch Logs accepts only these retention periods (up to a year here).
LOG_RETENTION_DAYS: tuple[int, ...] = (1, 3, 5, 7, 14, 30, 60, 90, 180, 365)


@dataclass(frozen=True, kw_only=True)
class AppConfig:
    """What differs between deployments; everything else is decided in the constructs."""

    app_name: str = "EventDriven"
    # The verified SES identity the welcome email is sent from.
    sender_email: str = "no-reply@example.com"
    # The public Powertools layer; `{region}` is replaced by the stack's region at deploy time.
    powertools_layer_arn: str = (
        "arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27"
    )
    # People who want order outcomes by email; None: only the service subscriber (SQS).
    order_notification_email: str | None = None
    # Warm trial environments kept ready, and how long a trial lives before its TTL expires it.
    trial_pool_size: int = 3
    trial_duration_seconds: int = 7 * 24 * 3600
    archive_retention_days: int = 7
    log_retention_days: int = 30
    app_sources: tuple[str, ...] = APP_SOURCES
    forwarded_sources: tuple[str, ...] = FORWARDED_SOURCES
    source_producers: tuple[tuple[str, tuple[str, ...]], ...] = SOURCE_PRODUCERS

    def __post_init__(self) -> None:
        if "@" not in self.sender_email:
            raise ValueError(f"senderEmail must be an email address, got {self.sender_email!r}")
        if "{region}" not in self.powertools_layer_arn:
            raise ValueError("powertoolsLayerArn must contain '{region}'")
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ValueError(f"logRetentionDays must be one of {LOG_RETENTION_DAYS}")
        if self.archive_retention_days < 1:
            raise ValueError("archiveRetentionDays must be at least 1")
        if not set(self.forwarded_sources) <= set(self.app_sources):
            raise ValueError("forwarded sources must be app sources")
        produced = {source for source, _ in self.source_producers}
        if not produced <= set(self.app_sources) or produced & set(self.forwarded_sources):
            raise ValueError("produced sources must be app sources that the default bus does not forward")
        if not re.fullmatch(rf"[A-Za-z][A-Za-z0-9-]{{0,{MAX_APP_NAME_LENGTH - 1}}}", self.app_name):
            raise ValueError(
                f"appName must be a letter then letters, digits or '-', {MAX_APP_NAME_LENGTH} at most"
            )

    def stack_name(self, part: str) -> str:
        """The name of one of the app's stacks, e.g. `EventDriven-Orders`."""
        return f"{self.app_name}-{part}"

    def producer_stacks(self) -> dict[str, list[str]]:
        """Each produced source and the names of the stacks whose roles may put it on the bus."""
        return {source: [self.stack_name(part) for part in parts] for source, parts in self.source_producers}
