"""The Stacks adapter: CloudFormation stacks of trial environments, created from the bundled template."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from environment_manager.service import StackState


class CloudFormationStacks:
    """One stack per environment; with `role_arn`, CloudFormation acts with that role, not the caller's."""

    def __init__(self, client: Any, *, template_body: str, role_arn: str | None = None) -> None:
        self._client = client
        self._template_body = template_body
        self._role_arn = role_arn

    def create(self, *, stack_name: str, environment_id: str) -> bool:
        request: dict[str, Any] = {
            "StackName": stack_name,
            "TemplateBody": self._template_body,
            "Parameters": [{"ParameterKey": "TrialEnvironmentId", "ParameterValue": environment_id}],
            "Tags": [{"Key": "TrialEnvironmentId", "Value": environment_id}],
        }
        if self._role_arn:
            request["RoleARN"] = self._role_arn
        try:
            self._client.create_stack(**request)
        except ClientError as error:
            if _code(error) == "AlreadyExistsException":
                return False
            raise
        return True

    def delete(self, stack_name: str) -> None:
        request: dict[str, Any] = {"StackName": stack_name}
        if self._role_arn:
            request["RoleARN"] = self._role_arn
        self._client.delete_stack(**request)  # a missing stack is a success for CloudFormation too

    def state(self, stack_name: str) -> StackState | None:
        try:
            [stack] = self._client.describe_stacks(StackName=stack_name)["Stacks"]
        except ClientError as error:
            # A deleted stack is not found by name: CloudFormation answers ValidationError "does not exist".
            if _code(error) == "ValidationError" and "does not exist" in str(error):
                return None
            raise
        return StackState(status=stack["StackStatus"], reason=stack.get("StackStatusReason", ""))


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
