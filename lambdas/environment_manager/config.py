"""The environment manager's settings: tables, pool size, stack naming and role, sweep deadlines."""

from __future__ import annotations

from dataclasses import dataclass

from shared.settings import from_environment


@dataclass(frozen=True, kw_only=True)
class Settings:
    pool_table_name: str
    trials_table_name: str
    pool_size: int
    stack_prefix: str
    stack_role_arn: str
    # A PROVISIONING environment older than this is settled from its stack's status by the reconcile.
    provisioning_deadline_seconds: int
    # A trial still REQUESTED this long after its request is moved to NEEDS_ATTENTION.
    stuck_trial_seconds: int
    powertools_service_name: str
    powertools_metrics_namespace: str

    def __post_init__(self) -> None:
        if self.pool_size < 1:
            raise ValueError("POOL_SIZE must be at least 1")


def load() -> Settings:
    return from_environment(Settings)
