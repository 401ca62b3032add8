"""The events' schema registry: one EventBridge schema per DetailType, generated from the contracts."""

from __future__ import annotations

import json
import re
from pathlib import Path

from aws_cdk import aws_eventschemas as eventschemas
from constructs import Construct

from lambdas.shared.contracts import names

# Written by `make docs` (tools/contracts.py) from the pydantic models: the whole event, draft-04.
SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas" / "events"
SCHEMA_TYPE = "JSONSchemaDraft4"


def schema_name(source: str, detail_type: str) -> str:
    """`<source>@<DetailType>`, as EventBridge's schema discovery names the schemas it finds."""
    return f"{source}@{detail_type}"


class EventSchemaRegistry(Construct):
    """A registry with every event of the app, so consumers can browse the contracts and generate
    code bindings from them; the pydantic models stay the source (the files are generated)."""

    def __init__(self, scope: Construct, construct_id: str, *, app_name: str) -> None:
        super().__init__(scope, construct_id)
        # No RegistryName: CloudFormation names it, as the app lets it name everything.
        self.registry = eventschemas.CfnRegistry(
            self, "Registry", description=f"{app_name}: the events' contracts (lambdas/shared/contracts)"
        )
        self.schemas: dict[tuple[str, str], eventschemas.CfnSchema] = {}
        for source, detail_type in names.APP_EVENTS:
            path = SCHEMAS_DIR / f"{names.file_stem(detail_type)}.json"
            content = json.loads(path.read_text())
            schema = eventschemas.CfnSchema(
                self,
                re.sub(r"[^A-Za-z0-9]", "", detail_type.title() if "_" in detail_type else detail_type),
                registry_name=self.registry.attr_registry_name,
                schema_name=schema_name(source, detail_type),
                type=SCHEMA_TYPE,
                content=json.dumps(content, separators=(",", ":")),
                description=f"{detail_type} from {source}; generated from the contracts, see docs/events.md",
            )
            self.schemas[(source, detail_type)] = schema
