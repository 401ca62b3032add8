"""The HTTP endpoint: moto's service APIs plus localcloud's own routes under /_localcloud/."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

Route = Callable[[Request], Response]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def json_response(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, default=str), status=status, mimetype="application/json")


class LocalCloudApp:
    """Routes /_localcloud/* and registered prefixes to localcloud, everything else to moto."""

    def __init__(self, moto_app: WSGIApp) -> None:
        self._moto_app = moto_app
        self._routes: dict[tuple[str, str], Route] = {}
        self._prefixes: list[tuple[str, Route]] = []
        self._matchers: list[tuple[Callable[[str], bool], Route]] = []

    def route(self, method: str, path: str, handler: Route) -> None:
        self._routes[(method, path)] = handler

    def prefix(self, prefix: str, handler: Route) -> None:
        """Every request whose path starts with prefix (e.g. the API Gateway proxy) goes to handler."""
        self._prefixes.append((prefix, handler))

    def match(self, predicate: Callable[[str], bool], handler: Route) -> None:
        """Requests whose path satisfies predicate go to handler (checked before prefixes)."""
        self._matchers.append((predicate, handler))

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        handler = self._routes.get((method, path))
        if handler is None:
            handler = next((h for m, h in self._matchers if m(path)), None)
        if handler is None:
            handler = next((h for p, h in self._prefixes if path.startswith(p)), None)
        if handler is None and path.startswith("/_localcloud/"):
            return json_response({"error": f"no localcloud route {method} {path}"}, 404)(
                environ, start_response
            )
        if handler is None:
            return self._moto_app(environ, start_response)
        try:
            response = handler(Request(environ))
        except Exception as error:  # a bug in a route answers 500 with the reason, never kills the server
            response = json_response({"error": f"{type(error).__name__}: {error}"}, 500)
        return response(environ, start_response)


class Server:
    """A threaded WSGI server on host:port, in a background thread."""

    def __init__(self, app: WSGIApp, host: str, port: int) -> None:
        from moto.moto_server.werkzeug_app import MotoRequestHandler

        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="localcloud-http", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
