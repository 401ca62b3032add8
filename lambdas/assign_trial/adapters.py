"""The Workflow adapter: Step Functions StartExecution, where an existing execution name means done."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from assign_trial.service import Started
from shared.aws_errors import EXECUTION_ALREADY_EXISTS, error_code


class StepFunctionsWorkflow:
    """Starts executions of one state machine."""

    def __init__(self, client: Any, state_machine_arn: str) -> None:
        self._client = client
        self._arn = state_machine_arn

    def start(self, *, name: str, payload: str) -> Started:
        try:
            response = self._client.start_execution(stateMachineArn=self._arn, name=name, input=payload)
        except ClientError as error:
            if error_code(error) != EXECUTION_ALREADY_EXISTS:
                raise
            return Started(execution_arn=self.execution_arn(name), new=False)
        # A running execution started with the same name and input is returned as a success, not an error.
        return Started(execution_arn=str(response["executionArn"]), new=True)

    def execution_arn(self, name: str) -> str:
        """arn:aws:states:<region>:<account>:stateMachine:<machine> -> ...:execution:<machine>:<name>."""
        prefix, machine = self._arn.split(":stateMachine:", 1)
        return f"{prefix}:execution:{machine}:{name}"
