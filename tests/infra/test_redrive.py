"""The redrive role as synthesized: the one principal besides the producers that may put the app's sources."""

from __future__ import annotations

from typing import Any

from tests.infra.helpers import referenced_id, resources, statements

Templates = dict[str, dict[str, Any]]
EVENTING = "EventDriven-Eventing"
PRODUCED = {"myapp.orders", "myapp.payments", "OnlineTrial"}


def redrive_role(templates: Templates) -> tuple[str, dict[str, Any]]:
    roles = [
        (i, p)
        for _, i, p in resources(templates, "AWS::IAM::Role")
        if p.get("Path") == "/EventDriven/redrive/"
    ]
    assert len(roles) == 1, roles
    return roles[0]


def test_the_redrive_role_is_found_by_its_path_and_assumed_only_from_this_account(
    templates: Templates,
) -> None:
    # Given the app's roles, When the one under /EventDriven/redrive/ is read
    _role_id, role = redrive_role(templates)
    # Then only principals of this account may assume it (with their own IAM permission to do so)
    [trust] = statements(role["AssumeRolePolicyDocument"])
    assert trust["Action"] == "sts:AssumeRole" and ":root" in str(trust["Principal"])
    assert "AWS::AccountId" in str(trust["Principal"])
    assert "RoleName" not in role


def test_the_redrive_role_may_only_put_events_on_the_custom_and_default_bus(templates: Templates) -> None:
    role_id, _ = redrive_role(templates)
    policies = [p for _, _, p in resources(templates, "AWS::IAM::Policy") if role_id in str(p["Roles"])]
    granted = [s for p in policies for s in statements(p["PolicyDocument"])]
    assert [s["Action"] for s in granted] == ["events:PutEvents"]
    [[custom, default]] = [s["Resource"] for s in granted]
    assert referenced_id(custom) and ":event-bus/default" in str(default)


def test_the_bus_lets_the_redrive_role_put_back_each_produced_source_and_nobody_else(
    templates: Templates,
) -> None:
    # Given the bus policy's Deny statements
    role_id, _ = redrive_role(templates)
    [(_, _, bus)] = [r for r in resources({EVENTING: templates[EVENTING]}, "AWS::Events::EventBus")]
    denies = [s for s in bus["Policy"]["Statement"] if s["Effect"] == "Deny"]
    # Then each produced source is denied to every principal except its producers' roles and the redrive role
    excepted = {
        d["Condition"]["ForAnyValue:StringEquals"]["events:source"][0]: d["Condition"]["ArnNotLike"][
            "aws:PrincipalArn"
        ]
        for d in denies
    }
    assert set(excepted) == PRODUCED
    for source, principals in excepted.items():
        assert {"Fn::GetAtt": [role_id, "Arn"]} in principals, source
        assert len(principals) == 2, (source, principals)  # the producing stack's roles, and the redrive role
