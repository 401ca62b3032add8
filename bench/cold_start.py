"""Cold-start benchmark: each handler module's INIT in a fresh interpreter against the boto3 floor.

For every function in the synthesized templates, a fresh interpreter imports its handler module
with the function's own environment (module-level init included) and only the app's code asset
plus the packages the Lambda runtime (boto3) and the Powertools layer (Powertools, pydantic)
provide. The floor, measured interleaved in the same run, is `import boto3` plus creating one
client. Prints the median of each and their ratio; the target is <= 1.2 x the floor.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = int(os.environ.get("BENCH_RUNS", "21"))
TARGET = 1.2

TIMED = """
import time
start = time.perf_counter()
{body}
print(time.perf_counter() - start)
"""
FLOOR = "import boto3\nboto3.client('dynamodb')"


def handler_functions(cdk_out: Path) -> dict[str, dict[str, str]]:
    """handler module -> the function's environment, from every synthesized template."""
    found: dict[str, dict[str, str]] = {}
    for template_file in sorted(cdk_out.glob("*.template.json")):
        template = json.loads(template_file.read_text())
        for resource in template["Resources"].values():
            if resource["Type"] != "AWS::Lambda::Function":
                continue
            props = resource["Properties"]
            module = props["Handler"].rsplit(".", 1)[0]
            variables = props.get("Environment", {}).get("Variables", {})
            # Deploy-time values (Refs to tables and the like) become placeholders of the same role.
            found[module] = {
                k: v if isinstance(v, str) else f"bench-{k.lower()}" for k, v in variables.items()
            }
    return found


def run_once(body: str, env: dict[str, str]) -> float:
    result = subprocess.run(
        [sys.executable, "-c", TIMED.format(body=body)],
        env=env,
        cwd=ROOT / "lambdas",
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"benchmark run failed:\n{result.stderr}")
    return float(result.stdout.strip().splitlines()[-1])


def lambda_like_env(variables: dict[str, str]) -> dict[str, str]:
    """What the runtime sets, plus the function's variables; no endpoint or network is touched."""
    return {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT / "lambdas"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        **variables,
    }


def main() -> None:
    functions = handler_functions(ROOT / "cdk.out")
    if not functions:
        raise SystemExit("no functions in cdk.out: run `make synth` first")
    rows = []
    for module, variables in functions.items():
        env = lambda_like_env(variables)
        handler_times, floor_times = [], []
        for _ in range(RUNS):  # interleaved, so load on the machine hits both alike
            handler_times.append(run_once(f"import {module}", env))
            floor_times.append(run_once(FLOOR, env))
        handler_ms = statistics.median(handler_times) * 1000
        floor_ms = statistics.median(floor_times) * 1000
        rows.append((module, handler_ms, floor_ms, handler_ms / floor_ms))

    print(f"Cold start (module INIT), median of {RUNS} fresh interpreters; floor = import boto3 + one client")
    print(
        f"| {'handler module':<28} | {'INIT ms':>8} | {'floor ms':>8} | {'ratio':>6} | target <= {TARGET} |"
    )
    print(f"|{'-' * 30}|{'-' * 10}|{'-' * 10}|{'-' * 8}|{'-' * 17}|")
    for module, handler_ms, floor_ms, ratio in rows:
        verdict = "met" if ratio <= TARGET else "over"
        print(f"| {module:<28} | {handler_ms:>8.1f} | {floor_ms:>8.1f} | {ratio:>6.2f} | {verdict:<15} |")


if __name__ == "__main__":
    main()
