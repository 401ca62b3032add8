"""The trace: every event, match, delivery and invocation, kept for `GET /_localcloud/trace` and printed."""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from typing import Any, TextIO

# A whole test session (~20,000 records) and a few hundred flows of `make local` fit: a flow's tree
# (`?correlation=`) needs its records still kept.
KEEP = 50_000
# Printed lines are flushed this often, not one by one.
FLUSH_SECONDS = 0.25


class Trace:
    """Recording costs an append: records are turned into JSON only when someone asks for them.

    The newest `keep` records are kept; older ones fall off, so the cost of a record does not grow
    with how many came before it.
    """

    def __init__(self, *, stream: TextIO | None = None, keep: int = KEEP) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._records: deque[tuple[int, float, str, str, dict[str, Any]]] = deque(maxlen=keep)
        self._seq = itertools.count(1)
        self._last = 0
        if stream is not None:
            threading.Thread(target=self._flush_forever, name="localcloud-trace", daemon=True).start()

    def emit(self, kind: str, message: str, **fields: Any) -> None:
        now = time.time()
        with self._lock:
            seq = self._last = next(self._seq)
            self._records.append((seq, now, kind, message, fields))
            if self._stream is not None:
                stamp = time.strftime("%H:%M:%S", time.localtime(now))
                self._stream.write(f"{stamp} {kind:<10} {message}\n")

    @property
    def last(self) -> int:
        """The sequence number of the newest record (0 before the first)."""
        return self._last

    def records(
        self, *, since: int = 0, kind: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Records after `since`, oldest first; with `limit`, only the newest `limit` of them."""
        return self.page(since=since, kind=kind, limit=limit)[0]

    def page(
        self, *, since: int = 0, kind: str | None = None, limit: int | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """`records(...)` and the newest record's number read with them: reading on from it misses nothing."""
        with self._lock:
            last = self._last
            newest_first = []
            for record in reversed(self._records):  # newest first: a tail costs only the tail
                if record[0] <= since:
                    break
                if kind is None or record[2] == kind:
                    newest_first.append(record)
                    if limit is not None and len(newest_first) >= limit:
                        break
        records = [
            {"seq": seq, "time": moment, "kind": kind_, "message": message, **fields}
            for seq, moment, kind_, message, fields in reversed(newest_first)
        ]
        return records, last

    def _flush_forever(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            try:
                with self._lock:
                    self._stream.flush()  # type: ignore[union-attr]
            except (OSError, ValueError):  # the stream was closed: nothing more to print
                return
