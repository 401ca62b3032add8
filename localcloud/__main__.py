"""`python -m localcloud`: serve the app's cdk.out on 127.0.0.1:4566 until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from localcloud.app import LocalCloud
from localcloud.core.settings import AWS_ACCOUNT_CONCURRENCY, Settings


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m localcloud", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("LOCALCLOUD_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("LOCALCLOUD_PORT", "4566")))
    parser.add_argument(
        "--cdk-out", type=Path, default=Path("cdk.out"), help="the synthesized cloud assembly"
    )
    parser.add_argument(
        "--outputs-file",
        type=Path,
        default=Path("local-outputs.json"),
        help="stack outputs, in the format of `cdk deploy --outputs-file`",
    )
    parser.add_argument(
        "--events-dir", type=Path, default=Path("events"), help="sample put-events entry files"
    )
    parser.add_argument("--quiet", action="store_true", help="do not print the trace")
    parser.add_argument(
        "--account-concurrency",
        type=int,
        default=int(os.environ.get("LOCALCLOUD_ACCOUNT_CONCURRENCY", str(AWS_ACCOUNT_CONCURRENCY))),
        help="Lambda's account-wide concurrency: past it invocations are throttled",
    )
    parser.add_argument(
        "--sandboxes-per-function",
        type=int,
        default=int(os.environ.get("LOCALCLOUD_SANDBOXES_PER_FUNCTION", "4")),
        help="worker processes of one function that run at once here; more invocations wait in line",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = Settings(
        host=args.host,
        port=args.port,
        fast=os.environ.get("LOCALCLOUD_FAST") == "1",
        account_concurrency=args.account_concurrency,
        sandboxes_per_function=args.sandboxes_per_function,
    )
    cloud = LocalCloud(
        settings=settings, cdk_out=args.cdk_out, outputs_file=args.outputs_file, quiet=args.quiet
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        result = cloud.start()
        print_banner(cloud, result, events_dir=args.events_dir)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        print("\nlocalcloud: stopping", flush=True)
        cloud.stop()
    return 0


def print_banner(cloud: LocalCloud, result: Any, *, events_dir: Path) -> None:
    """What a user needs to start: the endpoint, the environment to export, and commands per flow."""
    endpoint = cloud.settings.endpoint_url
    lines = [
        "",
        f"localcloud is ready on {endpoint} ({'fast mode' if cloud.settings.fast else 'AWS timings'})",
        f"  stacks: {', '.join(result.outputs)}  ({result.seconds:.1f} s)",
        f"  outputs: {cloud.outputs_file}" if cloud.outputs_file else "",
        "",
        "In another terminal:",
        f"  export AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
        f"AWS_DEFAULT_REGION={cloud.settings.region}",
    ]
    for sample in sorted(events_dir.glob("*.json")) if events_dir.is_dir() else []:
        lines.append(f"  aws events put-events --entries file://{sample.as_posix()}")
    apis = sorted(
        {
            value
            for values in result.outputs.values()
            for value in values.values()
            if "/_user_request_" in value
        }
    )
    sign = '--aws-sigv4 "aws:amz:us-east-1:execute-api" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"'
    for api in apis:
        lines.append(f"  curl {sign} {api}<path>      # REST API (IAM-signed)")
    lines += ["", "Trace (Ctrl-C to stop):", ""]
    print("\n".join(line for line in lines if line is not None), flush=True)


if __name__ == "__main__":
    sys.exit(main())
