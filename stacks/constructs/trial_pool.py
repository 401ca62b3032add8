"""TrialPool: the table of trial environments and the function that claims one for a trial."""

from __future__ import annotations

from aws_cdk import CfnResource, Stack
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from stacks.constructs.lambda_function import AppFunction, FunctionDefaults
from stacks.constructs.nag import acknowledge_wildcards
from stacks.constructs.tables import app_table

# Logical ids from before the trial flow was split into constructs: a new id would replace the table
# (and lose every environment in it) and clash with the log group's fixed name on deploy.
POOL_TABLE_ID = "TrialsPoolTableDD671CEC"
CLAIM_LOGS_ID = "TrialsTrialPoolLogsDD90D4D8"


class TrialPool(Construct):
    """The pool table (every environment and its status) and the claim step of the assignment workflow.

    A claim takes the oldest WARM environment and records it on the trial row in one transaction, so the
    function reads and writes both tables, with exactly the DynamoDB actions it uses.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, trials: dynamodb.ITable, defaults: FunctionDefaults
    ) -> None:
        super().__init__(scope, construct_id)
        self.table = app_table(self, "Table", key="environmentId")
        keep_logical_id(self.table, POOL_TABLE_ID)
        # Candidates only (the claim's condition decides): WARM oldest first, PROVISIONING for sizing.
        self.table.add_global_secondary_index(
            index_name="byStatus",
            partition_key=dynamodb.Attribute(name="status", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="createdAt", type=dynamodb.AttributeType.STRING),
        )
        # The environments of an expired trial, whose row (with its environmentId) TTL removed.
        self.table.add_global_secondary_index(
            index_name="byTrial",
            partition_key=dynamodb.Attribute(name="trialId", type=dynamodb.AttributeType.STRING),
        )

        self.claim = AppFunction(
            self,
            "Claim",
            handler="trial_pool.handler.lambda_handler",
            description="Claims a warm trial environment and records it on the trial, in one transaction",
            service_name="trial-pool",
            environment={"POOL_TABLE_NAME": self.table.table_name, "TRIALS_TABLE_NAME": trials.table_name},
            defaults=defaults,
        )
        keep_logical_id(self.claim.log_group, CLAIM_LOGS_ID)
        # TransactWriteItems needs UpdateItem on each item it updates; no Put, Delete or Scan anywhere.
        self.table.grant(self.claim.function, "dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem")
        trials.grant(self.claim.function, "dynamodb:GetItem", "dynamodb:UpdateItem")
        acknowledge_wildcards(
            self.claim.role,
            reason="The claim queries the pool's byStatus index (`index/*` of this table); the trials "
            "table's grant covers its indexes the same way, unused here.",
            resources=[
                f"<{resolved_logical_id(self.table)}.Arn>/index/*",
                f"<{resolved_logical_id(trials)}.Arn>/index/*",  # type: ignore[arg-type]
            ],
        )


def resolved_logical_id(construct: Construct) -> str:
    """The logical id of the construct's resource as it lands in the template (overrides included)."""
    resource = construct.node.default_child
    assert isinstance(resource, CfnResource)
    return str(Stack.of(construct).resolve(resource.logical_id))


def keep_logical_id(construct: Construct, logical_id_: str) -> None:
    """Pins the CloudFormation logical id of the construct's resource."""
    resource = construct.node.default_child
    assert isinstance(resource, CfnResource)
    resource.override_logical_id(logical_id_)
