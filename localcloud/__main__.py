"""`python -m localcloud`: serve the app's cdk.out on 127.0.0.1:4566 until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from localcloud.app import LocalCloud, print_banner
from localcloud.core import Settings


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
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = Settings(host=args.host, port=args.port, fast=os.environ.get("LOCALCLOUD_FAST") == "1")
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


if __name__ == "__main__":
    sys.exit(main())
