"""localcloud against moto_server: PutEvents → SQS and → Lambda rates, and CPU per order of order bursts."""

# Three tables, measured in one run (`make bench` runs it after bench/cold_start.py):
#
# 1. PutEvents → rule → SQS: the same client code drives a fresh localcloud (an empty cloud assembly;
#    bus, rule, queue and target created through the API) and a bare moto_server set up alike.
#    Sender threads put batches of 10 entries while drainer threads receive and delete; the rate is
#    events received / (last message received - first PutEvents). The senders keep at most
#    BENCH_MAX_BACKLOG events sent and not received yet (0: no limit). After it, on the same server,
#    bus, rule and queue: one client puts BENCH_ONE_CLIENT_CALLS (500; moto_server, being slow,
#    BENCH_ONE_CLIENT_CALLS_MOTO: 50) calls of 10 entries one after the other while one thread drains,
#    for the PutEvents latency of the target (the latencies under the throughput run are mostly queueing).
# 2. PutEvents → rule → a no-op Lambda created through the Lambda API, on a fresh localcloud; completed
#    invocations are counted in localcloud's trace (`outcome: "ok"`). moto_server cannot deliver to
#    a Lambda target, so its figure is its PutEvents → SQS rate from table 1.
# 3. Bursts of orders through the app's signed REST API (the app's cdk.out), each on a fresh
#    localcloud: wall time to settled, final statuses, and CPU seconds per order of localcloud's
#    whole process tree (its zygote and Lambda workers included).
#
# Sizes: BENCH_EVENTS (10000), BENCH_EVENT_CLIENTS (4), BENCH_DRAINERS (4), BENCH_MAX_BACKLOG (100),
# BENCH_ONE_CLIENT_CALLS (500), BENCH_ONE_CLIENT_CALLS_MOTO (50), BENCH_ORDERS (200), BENCH_ORDERS_SMALL (20).
# The exit status is 1 when a benchmark could not run or lost work (events lost, orders not placed or not
# settled); missed targets are only reported.
#
# Modules: bench/servers.py (localcloud and moto_server, process-tree CPU), bench/events.py (tables 1
# and 2), bench/orders.py (table 3), bench/tables.py (printing them). Run as `python bench/localcloud.py`
# or `python -m bench.localcloud` from the repository root.

from __future__ import annotations

import signal
import sys
import tempfile
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.events import ONE_CLIENT_CALLS, ONE_CLIENT_CALLS_MOTO, run_lambda, run_sqs  # noqa: E402
from bench.orders import ORDERS, ORDERS_SMALL, run_orders  # noqa: E402
from bench.servers import BenchError, empty_assembly, localcloud, moto_server  # noqa: E402
from bench.tables import lambda_table, orders_table, sqs_table  # noqa: E402


def benchmark_events(work: Path) -> tuple[list[str], bool]:
    """Tables 1 and 2; whether no event was lost."""
    with localcloud(work, empty_assembly(work)) as server:
        local = run_sqs(server, ONE_CLIENT_CALLS)
    with moto_server(work) as server:
        moto = run_sqs(server, ONE_CLIENT_CALLS_MOTO)
    with localcloud(work, empty_assembly(work)) as server:
        lam = run_lambda(server)
    losses = (local.lost, moto.lost, local.one_client.lost, moto.one_client.lost, lam.lost)
    intact = all(lost == 0 for lost in losses) and bool(lam.settled.get("settled"))
    return [sqs_table(local, moto), lambda_table(lam, moto)], intact


def benchmark_orders(work: Path) -> tuple[list[str], bool]:
    """Table 3; whether both bursts settled with every order placed."""
    runs = []
    for orders in (ORDERS, ORDERS_SMALL):
        with localcloud(work, ROOT / "cdk.out") as server:
            assert server.outputs_file is not None
            runs.append(run_orders(server, server.outputs_file, orders))
    intact = all(run.settled.get("settled") and run.posts.get(202, 0) == run.orders for run in runs)
    return [orders_table(*runs)], intact


def main() -> int:
    if not (ROOT / "cdk.out" / "manifest.json").exists():
        raise SystemExit("no cdk.out: run `make synth` first")
    # A `kill` of the benchmark still runs the finally blocks that stop the servers it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench-localcloud-") as work:
        for benchmark in (benchmark_events, benchmark_orders):
            try:
                tables, intact = benchmark(Path(work))
            except Exception as error:  # the other benchmark still runs; this one's failure is shown whole
                detail = str(error) if isinstance(error, BenchError) else traceback.format_exc()
                print(f"\n{benchmark.__name__} could not run: {detail}", flush=True)
                ok = False
                continue
            for table in tables:
                print("\n" + table, flush=True)
            ok = ok and intact
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
