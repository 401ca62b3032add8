"""localcloud's evaluation of a bus policy's Deny statements on PutEvents (no AWS: the policy as data)."""

from __future__ import annotations

from typing import Any

import pytest

from localcloud.eventbridge.bus_policy import Unsupported, denies

ACCOUNT = "123456789012"
BUS = f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/app-bus"
REDRIVE = f"arn:aws:iam::{ACCOUNT}:role/app/redrive/App-Eventing-RedriveRole-X"


def reserve(source: str, *principals: str) -> dict[str, Any]:
    """The app's shape: deny putting `source` to everyone whose principal ARN is not one of these."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "events:PutEvents",
            },
            {
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "events:PutEvents",
                "Resource": BUS,
                "Condition": {
                    "ForAnyValue:StringEquals": {"events:source": [source]},
                    "ArnNotLike": {"aws:PrincipalArn": list(principals)},
                },
            },
        ],
    }


POLICY = reserve("myapp.orders", f"arn:aws:iam::{ACCOUNT}:role/App-Orders-*", REDRIVE)


@pytest.mark.parametrize(
    ("principal", "sources", "denied"),
    [
        (f"arn:aws:iam::{ACCOUNT}:role/App-Orders-PaymentRole-1", ["myapp.orders"], False),  # the producer
        (REDRIVE, ["myapp.orders"], False),  # the redrive role
        (f"arn:aws:iam::{ACCOUNT}:user/someone", ["myapp.orders"], True),  # an ordinary principal
        (
            f"arn:aws:iam::{ACCOUNT}:role/App-Signup-WelcomeRole-1",
            ["myapp.orders"],
            True,
        ),  # another stack's role
        (f"arn:aws:iam::{ACCOUNT}:user/someone", ["myapp.userservice"], False),  # a source nobody reserved
        (f"arn:aws:iam::{ACCOUNT}:user/someone", ["myapp.userservice", "myapp.orders"], True),  # any entry
    ],
)
def test_the_deny_holds_for_everyone_but_the_producers_and_the_redrive_role(
    principal: str, sources: list[str], denied: bool
) -> None:
    assert denies(POLICY, bus_arn=BUS, principal=principal, account=ACCOUNT, sources=sources) is denied


def test_a_deny_on_another_bus_or_action_does_not_apply() -> None:
    other_bus = reserve("myapp.orders")
    other_bus["Statement"][1]["Resource"] = BUS.replace("app-bus", "other")
    other_action = reserve("myapp.orders")
    other_action["Statement"][1]["Action"] = "events:PutRule"
    for policy in (other_bus, other_action):
        assert not denies(policy, bus_arn=BUS, principal="arn:x", account=ACCOUNT, sources=["myapp.orders"])


def test_what_the_evaluator_does_not_know_is_reported_not_guessed() -> None:
    policy = reserve("myapp.orders")
    policy["Statement"][1]["Condition"] = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    with pytest.raises(Unsupported):
        denies(policy, bus_arn=BUS, principal="arn:x", account=ACCOUNT, sources=["myapp.orders"])
