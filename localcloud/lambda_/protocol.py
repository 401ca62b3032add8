"""Messages between localcloud and its worker processes: one JSON object per frame on a Unix socket."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
from typing import Any

_HEADER = struct.Struct("!I")


class ChannelClosed(Exception):
    """The other end went away (a worker exited or was killed)."""


class Channel:
    """Length-prefixed JSON frames over a connected stream socket. Not thread-safe on either side."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = bytearray()

    def send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message, separators=(",", ":")).encode("utf-8")
        try:
            self.sock.sendall(_HEADER.pack(len(data)) + data)
        except OSError as error:
            raise ChannelClosed(str(error)) from error

    def receive(self, timeout: float | None = None) -> dict[str, Any]:
        """The next message; TimeoutError after `timeout` seconds without one, ChannelClosed at EOF."""
        self.sock.settimeout(timeout)
        try:
            # Nothing is consumed until a whole frame is here: a timeout loses nothing.
            self._fill(_HEADER.size)
            size = _HEADER.unpack_from(self._buffer)[0]
            self._fill(_HEADER.size + size)
            data = bytes(self._buffer[_HEADER.size : _HEADER.size + size])
            del self._buffer[: _HEADER.size + size]
            message: dict[str, Any] = json.loads(data)
            return message
        except TimeoutError:
            raise
        except (OSError, ValueError) as error:
            raise ChannelClosed(str(error)) from error

    def _fill(self, size: int) -> None:
        while len(self._buffer) < size:
            chunk = self.sock.recv(max(65536, size - len(self._buffer)))
            if not chunk:
                raise ChannelClosed("end of stream")
            self._buffer += chunk

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
