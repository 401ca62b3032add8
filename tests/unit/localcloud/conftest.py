"""Shared by the deploy tests: a moto server per module, clients to it, and minimal cloud assemblies."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

if TYPE_CHECKING:  # the other tests of this directory need not import the deployer
    from localcloud.deploy.deployer import DeployResult

Templates = dict[str, dict[str, Any]]
Client = Callable[[str], Any]
EVENTING = "EventDriven-Eventing"
SIGNUP = "EventDriven-Signup"
ACCOUNT = "123456789012"
REGION = "us-east-1"
# No retries: moto's answers are deterministic, so a retried error only delays the report.
NO_RETRIES = Config(retries={"mode": "standard", "max_attempts": 1})


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """One moto server for the module (its backends are process-wide): every test uses its own names."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def client(endpoint: str) -> Client:
    """A boto3 client per service, pointed at the moto server: what deploy() takes, and what tests read."""
    clients: dict[str, Any] = {}

    def make(service: str) -> Any:
        if service not in clients:
            clients[service] = boto3.client(
                service,
                endpoint_url=endpoint,
                region_name=REGION,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=NO_RETRIES,
            )
        return clients[service]

    return make


def physical_id(
    result: DeployResult, stack: str, type_: str, templates: Templates, name_part: str = ""
) -> str:
    [logical_id] = [
        lid
        for lid, resource in templates[stack]["Resources"].items()
        if resource["Type"] == type_ and name_part in lid
    ]
    return result.physical_ids[stack][logical_id]


def queue(**properties: Any) -> dict[str, Any]:
    return {"Type": "AWS::SQS::Queue", "Properties": properties}


def write_assembly(
    root: Path,
    templates: Templates,
    *,
    dependencies: dict[str, list[str]] | None = None,
    assets: dict[str, dict[str, str]] | None = None,
) -> Path:
    """A minimal cdk.out: manifest.json, the templates, one asset manifest and its asset directories."""
    root.mkdir(parents=True, exist_ok=True)
    artifacts: dict[str, Any] = {
        "Synthetic.assets": {"type": "cdk:asset-manifest", "properties": {"file": "Synthetic.assets.json"}}
    }
    for name, template in templates.items():
        (root / f"{name}.template.json").write_text(json.dumps(template))
        artifacts[name] = {
            "type": "aws:cloudformation:stack",
            "properties": {"templateFile": f"{name}.template.json"},
            "dependencies": [*(dependencies or {}).get(name, []), "Synthetic.assets"],
        }
    files: dict[str, Any] = {}
    for asset_hash, contents in (assets or {}).items():
        for relative, text in contents.items():
            (root / f"asset.{asset_hash}" / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / f"asset.{asset_hash}" / relative).write_text(text)
        files[asset_hash] = {
            "source": {"path": f"asset.{asset_hash}", "packaging": "zip"},
            "destinations": {"current": {"bucketName": "assets", "objectKey": f"{asset_hash}.zip"}},
        }
    (root / "Synthetic.assets.json").write_text(json.dumps({"version": "55.0.0", "files": files}))
    (root / "manifest.json").write_text(json.dumps({"version": "55.0.0", "artifacts": artifacts}))
    return root
