"""`python scripts/cost.py`: $ per million orders, as built and with every workflow Standard → docs/cost.md.

The state transitions come from the synthesized workflows themselves (the happy path: each
state's Next/Default from StartAt to the end, Map bodies once per order line); the other counts
per order are listed below with where they come from. Prices are AWS's published on-demand unit
prices for us-east-1 (arm64 Lambda, Step Functions, EventBridge custom events, SQS standard,
DynamoDB on-demand, S3 Standard, SNS, API Gateway REST, IoT Core messaging).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LINES_PER_ORDER = 2

# USD per unit, us-east-1, published on-demand prices.
PRICES = {
    "stepfunctions_standard_transition": 25.00 / 1e6,
    "stepfunctions_express_request": 1.00 / 1e6,
    "stepfunctions_express_gb_second": 0.00001667,
    "lambda_request": 0.20 / 1e6,
    "lambda_arm_gb_second": 0.0000133334,
    "eventbridge_custom_event": 1.00 / 1e6,
    "sqs_request": 0.40 / 1e6,
    "dynamodb_write_request_unit": 0.625 / 1e6,
    "dynamodb_read_request_unit": 0.125 / 1e6,
    "s3_put": 0.005 / 1000,
    "sns_publish": 0.50 / 1e6,
    "apigateway_rest_request": 3.50 / 1e6,
    "iot_message": 1.00 / 1e6,
}

# Everything but Step Functions, per completed order (the same in both designs).
# Lambda: intake, reserve, payment (a tenth: batches of 10), accounting, 3 status publications,
# 5 events to the metrics consumer; 256 MB for ~100 ms each.
LAMBDA_INVOCATIONS = 1 + 1 + 0.1 + 1 + 3 + 5
LAMBDA_GB_SECONDS = LAMBDA_INVOCATIONS * 0.25 * 0.1
OTHER_UNITS = {
    "apigateway_rest_request": 1,  # POST /orders
    "lambda_request": LAMBDA_INVOCATIONS,
    "lambda_arm_gb_second": LAMBDA_GB_SECONDS,
    # OrderPlaced, 3 OrderStatusChanged, OrderCompleted, the invoice event forwarded to the custom bus
    "eventbridge_custom_event": 6,
    "sqs_request": 1.2,  # the payment request, and its share of a batch receive and delete
    # order put, reservation transaction (2 items, twice), 3 status updates, charge, customer count, ledger
    "dynamodb_write_request_unit": 1 + 4 + 3 + 1 + 1 + 1,
    "dynamodb_read_request_unit": 0.5,  # the customer lookup
    "s3_put": 1,  # the invoice
    "sns_publish": 2,  # the outcome notice and the invoice notice
    "iot_message": 3,  # RESERVED, PAID, COMPLETED to orders/{id}/status
}
# Express bills a run's duration at 64 MB minimum, rounded up to 100 ms.
EXPRESS_GB = 0.0625
EXPRESS_SECONDS = 0.3


@dataclass
class Workflow:
    name: str
    type: str
    transitions: int  # on the happy path of one order


def definition(props: dict[str, Any]) -> dict[str, Any]:
    raw = props["DefinitionString"]
    if isinstance(raw, dict):
        raw = "".join(part if isinstance(part, str) else "TOKEN" for part in raw["Fn::Join"][1])
    return dict(json.loads(raw))


def happy_path_transitions(asl: dict[str, Any]) -> int:
    """States entered from StartAt to the end, taking each Choice's default branch."""
    count, name = 0, asl["StartAt"]
    while name:
        state = asl["States"][name]
        count += 1
        if state["Type"] == "Map":
            body = state.get("ItemProcessor") or state["Iterator"]
            count += LINES_PER_ORDER * happy_path_transitions(body)
        if state["Type"] == "Choice":
            name = state["Default"]
        elif state.get("End") or state["Type"] in ("Succeed", "Fail"):
            name = ""
        else:
            name = state["Next"]
    return count


def workflows(cdk_out: Path) -> list[Workflow]:
    found = []
    template = json.loads((cdk_out / "EventDriven-Orders.template.json").read_text())
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::StepFunctions::StateMachine":
            props = resource["Properties"]
            found.append(
                Workflow(
                    logical_id,
                    props.get("StateMachineType", "STANDARD"),
                    happy_path_transitions(definition(props)),
                )
            )
    return found


def cost_per_million(flows: list[Workflow], *, all_standard: bool) -> dict[str, float]:
    """USD per million completed orders, by line item."""
    lines = {key: units * PRICES[key] * 1e6 for key, units in OTHER_UNITS.items()}
    transitions, express_runs = 0, 0
    for flow in flows:
        if flow.name.startswith("OrdersWorkflowCompensation"):
            continue  # not on the happy path
        if flow.type == "STANDARD" or all_standard:
            transitions += flow.transitions
        else:
            express_runs += 1
    lines["stepfunctions_standard_transition"] = (
        transitions * PRICES["stepfunctions_standard_transition"] * 1e6
    )
    lines["stepfunctions_express"] = (
        express_runs
        * 1e6
        * (
            PRICES["stepfunctions_express_request"]
            + EXPRESS_GB * EXPRESS_SECONDS * PRICES["stepfunctions_express_gb_second"]
        )
    )
    return lines


def report(cdk_out: Path) -> tuple[str, float]:
    flows = workflows(cdk_out)
    built = cost_per_million(flows, all_standard=False)
    standard = cost_per_million(flows, all_standard=True)
    ratio = sum(built.values()) / sum(standard.values())
    rows = "\n".join(
        f"| {key} | {built[key]:,.2f} | {standard[key]:,.2f} |"
        for key in sorted(built)
        if built[key] or standard[key]
    )
    flows_table = "\n".join(
        f"| {f.name} | {f.type} | {f.transitions} |" for f in sorted(flows, key=lambda f: f.name)
    )
    text = f"""# Cost per million orders

Generated by `python scripts/cost.py` from the synthesized workflows in `cdk.out` and AWS's
published on-demand unit prices (us-east-1). A test keeps this file in step with the code.

The order workflow is a short Standard parent (it waits for the payment callback and keeps
exactly-once state) over Express children for the idempotent, quick steps. The alternative
prices the same design with every workflow Standard.

| workflow (happy path, {LINES_PER_ORDER} lines per order) | type | state transitions |
|---|---|---|
{flows_table}

| line item (USD per million completed orders) | as built | every workflow Standard |
|---|---|---|
{rows}
| **total** | **{sum(built.values()):,.2f}** | **{sum(standard.values()):,.2f}** |

As built: **{ratio:.0%}** of the all-Standard design (target: at most 50 %).

Assumptions: each Lambda runs ~100 ms at 256 MB (arm64); an Express child runs
~{EXPRESS_SECONDS * 1000:.0f} ms (billed at 64 MB); the payment service consumes batches of 10;
DynamoDB transactions cost two write units per item; events are under 64 KB; free tiers are
ignored; compensation runs only for failed orders and is left out.
"""
    return text, ratio


def main() -> int:
    text, ratio = report(ROOT / "cdk.out")
    (ROOT / "docs").mkdir(exist_ok=True)
    (ROOT / "docs" / "cost.md").write_text(text)
    print(text)
    return 0 if ratio <= 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
