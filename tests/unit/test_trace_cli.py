"""`make trace`'s CLI: the tree printed with offsets and durations; a clear error without localcloud."""

from __future__ import annotations

import io
import socket

import pytest

from tools.trace import main, render

TREE = {
    "kind": "flow",
    "name": "o-1",
    "start": 100.0,
    "durationMs": 250.0,
    "outcome": "ok",
    "children": [
        {
            "kind": "event",
            "name": "OrderPlaced (myapp.orders)",
            "start": 100.012,
            "durationMs": 40.0,
            "outcome": "1 rule(s)",
            "children": [
                {
                    "kind": "state",
                    "name": "ReserveInventory",
                    "task": "lambda:invoke inventory",
                    "start": 100.02,
                    "durationMs": 35.4,
                    "outcome": "failed",
                    "error": "OutOfStock",
                    "attempts": 2,
                    "children": [],
                }
            ],
        }
    ],
}


def test_each_node_is_a_line_indented_by_depth_with_its_offset_outcome_and_duration() -> None:
    assert render(TREE) == [
        "      +0 ms  flow o-1 ok 250 ms",
        "     +12 ms    event OrderPlaced (myapp.orders) 1 rule(s) 40 ms",
        "     +20 ms      state ReserveInventory [lambda:invoke inventory] failed after 2 attempts"
        " (OutOfStock) 35 ms",
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_without_localcloud_it_says_where_it_looked_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    assert main(["o-1"], out=io.StringIO(), endpoint=endpoint) == 1
    assert f"no localcloud at {endpoint}" in capsys.readouterr().err


def test_an_empty_id_is_refused_before_any_call(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["  "], out=io.StringIO(), endpoint="http://127.0.0.1:1") == 2
    assert "give the id of an order" in capsys.readouterr().err
