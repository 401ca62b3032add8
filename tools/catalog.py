"""`make docs`: docs/events.md, the event catalog, from the contracts and the synthesized app (cdk.out).

For each event: its contract (docstring and JSON schema), its producer, its consumers and the command
that sends its sample. Producers that are state machines are read from their definitions (each
`events:putEvents` task's entries); producers that are functions are declared in the names module (a
grant says a function may put events, not which) and checked here against the synthesized app: the
function must exist and be granted events:PutEvents. Consumers are computed: every rule of every stack
is matched against the sample event with localcloud's pattern matcher.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localcloud.deploy.assembly import read_assembly
from localcloud.eventbridge.patterns import matches
from tools import contracts

CATALOG = "docs/events.md"
DEFAULT_BUS = "default"
SAMPLE_ACCOUNT = "123456789012"
SAMPLE_REGION = "us-east-1"

Templates = dict[str, dict[str, Any]]


def load_templates(cdk_out: Path) -> Templates:
    """Every stack's template in the assembly, by stack name (in name order: the page must not move)."""
    stacks, _ = read_assembly(cdk_out)
    return {stack.name: stack.template for stack in sorted(stacks, key=lambda stack: stack.name)}


def _text(value: Any) -> str:
    """A template value as text; an intrinsic becomes a readable placeholder (`<Ref X>`)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        [(function, argument)] = value.items()
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(_text(part) for part in parts)
        if function == "Fn::GetAtt":
            return f"<{'.'.join(argument)}>"
        return f"<{function} {argument if isinstance(argument, str) else json.dumps(argument)}>"
    return json.dumps(value)


def _resolved(node: Any) -> Any:
    """A pattern with each intrinsic made a placeholder string, so the matcher can compile it."""
    if isinstance(node, dict):
        if len(node) == 1 and (next(iter(node)).startswith("Fn::") or "Ref" in node):
            return _text(node)
        return {key: _resolved(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolved(item) for item in node]
    return node


# -- producers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PutEventsEntry:
    """One entry of an `events:putEvents` task of a state machine, as synthesized."""

    stack: str
    state_machine: str  # logical id
    state: str
    source: str
    detail_type: str
    detail: dict[str, Any]  # keys as written: a `.$` suffix is a JsonPath


def state_machine_definition(resource: dict[str, Any]) -> dict[str, Any]:
    """A state machine's definition, its intrinsics made placeholder strings (they sit in JSON strings)."""
    definition = resource["Properties"].get("DefinitionString") or resource["Properties"]["Definition"]
    if isinstance(definition, dict) and "Fn::Join" in definition:
        separator, parts = definition["Fn::Join"]
        definition = separator.join(part if isinstance(part, str) else "INTRINSIC" for part in parts)
    parsed: dict[str, Any] = json.loads(definition) if isinstance(definition, str) else definition
    return parsed


def _states(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in definition.get("States", {}).items():
        yield name, state
        for nested in ("Iterator", "ItemProcessor"):
            if nested in state:
                yield from _states(state[nested])
        for branch in state.get("Branches", []):
            yield from _states(branch)


def put_events_entries(templates: Templates) -> list[PutEventsEntry]:
    """Every entry every state machine of the app puts on a bus (`events:putEvents` tasks)."""
    found = []
    for stack, template in templates.items():
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] != "AWS::StepFunctions::StateMachine":
                continue
            for name, state in _states(state_machine_definition(resource)):
                if not str(state.get("Resource", "")).endswith(":events:putEvents"):
                    continue
                for entry in state["Parameters"]["Entries"]:
                    found.append(
                        PutEventsEntry(
                            stack, logical_id, name, entry["Source"], entry["DetailType"], entry["Detail"]
                        )
                    )
    return found


def _granted_put_events(template: dict[str, Any], role: str) -> bool:
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::IAM::Policy" or {"Ref": role} not in resource["Properties"]["Roles"]:
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if statement["Effect"] == "Allow" and "events:PutEvents" in actions:
                return True
    return False


def function_producer(templates: Templates, folder: str) -> str:
    """The synthesized function whose code is `lambdas/<folder>`, checked to be granted PutEvents."""
    for stack, template in templates.items():
        for logical_id, resource in template["Resources"].items():
            props = resource.get("Properties", {})
            if resource["Type"] != "AWS::Lambda::Function" or not str(props.get("Handler")).startswith(
                f"{folder}.handler."
            ):
                continue
            role = props["Role"]["Fn::GetAtt"][0]
            if not _granted_put_events(template, role):
                raise ValueError(
                    f"{stack}/{logical_id} ({folder}) is declared a producer but may not put events"
                )
            return f"Lambda function `{logical_id}` of `{stack}` (`lambdas/{folder}`)"
    raise ValueError(f"no function of the app runs lambdas/{folder}, which names.FUNCTION_PRODUCERS declares")


def producers(templates: Templates, source: str, detail_type: str) -> list[str]:
    from shared.contracts import names

    found = [
        f"state `{entry.state}` of state machine `{entry.state_machine}` of `{entry.stack}`"
        for entry in put_events_entries(templates)
        if (entry.source, entry.detail_type) == (source, detail_type)
    ]
    folder = names.FUNCTION_PRODUCERS.get((source, detail_type))
    if folder is not None:
        found.append(function_producer(templates, folder))
    return found


# -- consumers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    stack: str
    logical_id: str
    on_default_bus: bool
    pattern: dict[str, Any]
    description: str
    targets: list[str]


def _target(template: dict[str, Any], arn: Any) -> str:
    """A rule target named by what it is: a function (with its code), a state machine, a topic, a bus."""
    logical_id = None
    if isinstance(arn, dict) and "Ref" in arn:
        logical_id = arn["Ref"]
    elif isinstance(arn, dict) and "Fn::GetAtt" in arn:
        logical_id = arn["Fn::GetAtt"][0]
    resource = template["Resources"].get(logical_id or "")
    if resource is None:
        text = _text(arn)
        return "the app's event bus" if "EventingBus" in text else f"`{text}`"
    kind = resource["Type"].split("::", 1)[1].replace("::", " ")
    handler = resource.get("Properties", {}).get("Handler")
    return f"{kind} `{logical_id}`" + (f" (`{handler.split('.')[0]}`)" if handler else "")


def rules(templates: Templates) -> list[Rule]:
    """Every rule of the app that has a pattern, on the default bus or the app's."""
    found = []
    for stack, template in templates.items():
        for logical_id, resource in template["Resources"].items():
            props = resource.get("Properties", {})
            if resource["Type"] != "AWS::Events::Rule" or "EventPattern" not in props:
                continue
            found.append(
                Rule(
                    stack=stack,
                    logical_id=logical_id,
                    on_default_bus=props.get("EventBusName", DEFAULT_BUS) == DEFAULT_BUS,
                    pattern=_resolved(props["EventPattern"]),
                    description=props.get("Description", ""),
                    targets=[_target(template, target["Arn"]) for target in props.get("Targets", [])],
                )
            )
    return found


def bus_name(templates: Templates) -> str:
    [name] = [
        _text(resource["Properties"]["Name"])
        for template in templates.values()
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Events::EventBus"
    ]
    return name


def sample_event(entry: dict[str, str]) -> dict[str, Any]:
    """The event EventBridge makes of a put-events entry (the envelope fields a pattern may test)."""
    return {
        "version": "0",
        "id": "00000000-0000-0000-0000-000000000000",
        "detail-type": entry["DetailType"],
        "source": entry["Source"],
        "account": SAMPLE_ACCOUNT,
        "time": "2026-11-22T10:00:00Z",
        "region": SAMPLE_REGION,
        "resources": [],
        "detail": json.loads(entry["Detail"]),
    }


# -- the page -------------------------------------------------------------------------------------

HEADER = """# Event catalog

<!-- Generated by tools/catalog.py from lambdas/shared/contracts and the synthesized app: do not edit;
`make docs` rewrites it, and tests/infra/test_generated.py fails when it is out of step. -->

Every event the app puts on its bus (`{bus}`), from the one source of the contracts
(`lambdas/shared/contracts/`: `names.py` for the sources and DetailTypes, one pydantic model per
DetailType, `examples.py` for the samples). For each event:

- **Producer**: read from the synthesized app. A state machine's `events:putEvents` tasks name their
  entries; a function's grant says only that it may put events, so the function is declared in
  `names.FUNCTION_PRODUCERS` and checked here to exist and to be granted `events:PutEvents`.
- **Consumers**: every rule of every stack, matched against the sample event with localcloud's pattern
  matcher; each with its targets (by logical id).
- **Send it**: the sample file (`events/`) goes to the **default** bus, which forwards only the
  tutorial's source, `myapp.userservice`, to `{bus}`. The app's own sources (`myapp.orders`,
  `myapp.payments`, `OnlineTrial`) are reserved to their producers by the bus policy
  (`stacks/constructs/event_bus.py`): on AWS only the producing stacks' roles may put them on `{bus}`.
  localcloud does not enforce the policy, so there the second command (the sample re-addressed to
  `{bus}`) reaches the consumers listed.
- **Schema**: the detail's JSON schema (draft-04), as in the schema registry (`schemas/events/`,
  `EventSchemaRegistry` in the eventing stack, one `<source>@<DetailType>` schema per event).

| Event | Source | Producer | Consumers |
|---|---|---|---|
"""


def _section(templates: Templates, all_rules: list[Rule], source: str, detail_type: str) -> tuple[str, str]:
    from shared.contracts import names
    from shared.contracts.registry import contract_for

    model = contract_for(source, detail_type)
    stem = names.file_stem(detail_type)
    [entry] = contracts.sample_entries(source, detail_type)
    event = sample_event(entry)
    made_by = producers(templates, source, detail_type)
    forwarded = [r for r in all_rules if r.on_default_bus and matches(r.pattern, event)]
    consumers = [r for r in all_rules if not r.on_default_bus and matches(r.pattern, event)]
    bus = bus_name(templates)
    anchor = detail_type.lower()
    row = (
        f"| [{detail_type}](#{anchor}) | `{source}` | "
        f"{'<br>'.join(made_by) or 'outside the app (`aws events put-events`)'} | "
        f"{'<br>'.join(f'`{r.logical_id}`' for r in consumers) or 'none'} |\n"
    )
    lines = [f"## {detail_type}", "", f"`{source}` · model `{model.__module__}.{model.__name__}`", ""]
    lines += [" ".join((model.__doc__ or "").split()), "", "**Producer**", ""]
    lines += [f"- {p}" for p in made_by] or [
        "- outside the app: anyone in the account, with `aws events put-events` (the tutorial's command)"
    ]
    lines += ["", "**Consumers** (rules on the app's bus whose pattern matches the sample)", ""]
    for rule in consumers:
        lines.append(
            f"- `{rule.logical_id}` of `{rule.stack}`: {rule.description} → {', '.join(rule.targets)}"
        )
    if not consumers:
        lines.append("- none")
    lines += ["", "**From the default bus**", ""]
    lines += [f"- forwarded to `{bus}` by `{r.logical_id}` of `{r.stack}`" for r in forwarded] or [
        f"- not forwarded: only its producers put it, on `{bus}`"
    ]
    lines += ["", "**Send it**", "", "```bash", f"aws events put-events --entries file://events/{stem}.json"]
    if not forwarded:
        lines += [
            "# on the app's bus (localcloud; on AWS only the producers' roles may):",
            f'sed \'s/"{DEFAULT_BUS}"/"{bus}"/\' events/{stem}.json > /tmp/{stem}.json',
            f"aws events put-events --entries file:///tmp/{stem}.json",
        ]
    lines += ["```", "", "**Sample detail**", "", "```json", json.dumps(event["detail"], indent=2), "```", ""]
    detail_schema = contracts.event_schema(source, detail_type)["properties"]["detail"]
    lines += ["<details><summary>JSON schema of the detail</summary>", "", "```json"]
    lines += [json.dumps(detail_schema, indent=2), "```", "", "</details>", ""]
    return row, "\n".join(lines)


def generate(cdk_out: Path) -> dict[str, str]:
    """ASSEMBLY generator: {`docs/events.md`: the catalog of the app synthesized in `cdk_out`}."""
    contracts.load()
    from shared.contracts import names

    templates = load_templates(cdk_out)
    all_rules = rules(templates)
    rows, sections = [], []
    for source, detail_type in names.APP_EVENTS:
        row, section = _section(templates, all_rules, source, detail_type)
        rows.append(row)
        sections.append(section)
    page = HEADER.format(bus=bus_name(templates)) + "".join(rows) + "\n" + "\n".join(sections)
    return {CATALOG: page.rstrip("\n") + "\n"}
