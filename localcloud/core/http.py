"""The endpoint: moto's service APIs and localcloud's own routes, over HTTP or called in-process."""

from __future__ import annotations

import io
import json
import socket
import sys
import threading
import time
import types
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from localcloud.core.backends import BACKENDS
from localcloud.core.faults import Faults
from localcloud.core.patches import PatchSet

Route = Callable[[Request], Response]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def json_response(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, default=str), status=status, mimetype="application/json")


class LocalCloudApp:
    """Routes /_localcloud/* and registered paths to localcloud, everything else to moto.

    moto's backends are not thread-safe: each request to moto holds the backend lock (see
    `BackendLock`), and whatever it waits for inside lets go of it.
    """

    def __init__(self, moto_app: WSGIApp, *, faults: Faults | None = None) -> None:
        self._moto_app = moto_app
        self._faults = faults
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
            if self._faults is not None and self._faults.active:
                delay = self._faults.latency(*_service_operation(environ))
                if delay:
                    time.sleep(delay)  # before the lock: a slow call holds up no other
            with BACKENDS:
                # Read the whole answer under the lock: moto builds some bodies lazily.
                return list(self._moto_app(environ, start_response))
        try:
            response = handler(Request(environ))
        except Exception as error:  # a bug in a route answers 500 with the reason, never kills the server
            response = json_response({"error": f"{type(error).__name__}: {error}"}, 500)
        return response(environ, start_response)


def _service_operation(environ: dict[str, Any]) -> tuple[str, str]:
    """The service (from the signature's scope) and operation (where the protocol names it) of a call."""
    service = ""
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" in authorization:
        scope = authorization.split("Credential=", 1)[1].split(",", 1)[0].split("/")
        service = scope[3] if len(scope) > 3 else ""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return service, target.rsplit(".", 1)[-1]
    for pair in environ.get("QUERY_STRING", "").split("&"):
        if pair.startswith("Action="):
            return service, pair[len("Action=") :]
    return service, "*"


def moto_app() -> WSGIApp:
    """moto's dispatcher, resolving each host's backend once instead of on every request."""
    import moto.backend_index as backend_index
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    class CachedDispatcher(DomainDispatcherApplication):
        def __init__(self) -> None:
            super().__init__(create_backend_app)
            self._backends: dict[tuple[int, str | None], Any] = {}

        @property
        def backend_url_patterns(self) -> Any:
            # Read live: localcloud adds host patterns (StartSyncExecution's) when it starts.
            return backend_index.backend_url_patterns

        @backend_url_patterns.setter
        def backend_url_patterns(self, _value: Any) -> None:
            pass

        def get_backend_for_host(self, host: str | None) -> Any:
            # moto lists and stats every service folder each time; the answer only changes with
            # the host patterns.
            key = (id(backend_index.backend_url_patterns), host)
            if key not in self._backends:
                self._backends[key] = super().get_backend_for_host(host)
            return self._backends[key]

    return CachedDispatcher()


class _ActionNames:
    """`name in names` for a response class's actions, without listing every member each time."""

    def __init__(self, cls: type) -> None:
        self._cls = cls

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and isinstance(getattr(self._cls, name, None), types.FunctionType)


def request_path_patches() -> PatchSet:
    """moto's per-request costs that do not need to be paid per request."""
    patches = PatchSet("moto request path")
    patches.replace(
        "moto.core.responses:method_names_from_class",
        _ActionNames,
        why="call_action lists every member of the response class (inspect.getmembers) to look up one "
        "action name; a membership test answers the same question",
    )

    def waiting_without_lock(original: Any) -> Any:
        def wait_for_messages(queue: Any, timeout: Any) -> Any:
            with BACKENDS.released():
                return original(queue, timeout)

        return wait_for_messages

    patches.wrap(
        "moto.sqs.models:Queue.wait_for_messages",
        waiting_without_lock,
        why="a long-polling ReceiveMessage waits for messages other requests send: it must let go of "
        "the backend lock while it waits",
    )
    return patches


def _keep_alive_handler() -> type:
    """moto's request handler, answering over kept-alive HTTP/1.1 connections.

    Werkzeug's development server closes every connection after its answer and then waits 10 ms
    for stray input: each boto3 call paid a new connection, a new thread and that wait. A Lambda
    sandbox keeps its connections to AWS; so do the workers' clients here.
    """
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class KeepAliveHandler(MotoRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body leave as two writes: without this, Nagle's algorithm holds the body
            # until the client acknowledges the headers, which it delays by 40 ms.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def run_wsgi(self) -> None:
            if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
                self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            environ = self.make_environ()
            # The whole body first: the next request on this connection starts right after it.
            environ["wsgi.input"] = io.BytesIO(_read_body(self.rfile, environ))
            environ.pop("wsgi.input_terminated", None)
            try:
                status, headers, body = call_wsgi(self.server.app, environ)
            except Exception as error:  # a bug anywhere answers 500 and keeps the server up
                status, headers = "500 Internal Server Error", [("Content-Type", "text/plain")]
                body = f"localcloud: {type(error).__name__}: {error}".encode()
            code, _, reason = status.partition(" ")
            self.send_response(int(code), reason)
            for key, value in headers:
                if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            self.wfile.flush()

        def log_request(self, *_: Any, **__: Any) -> None:
            pass  # the trace says what happened

    return KeepAliveHandler


def call_wsgi(app: WSGIApp, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """Runs a WSGI app to its end: the status line, the headers and the whole body."""
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> Callable[[bytes], None]:
        answer["status"], answer["headers"] = status, headers
        return lambda _data: None

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return answer["status"], answer["headers"], body


def _read_body(stream: Any, environ: dict[str, Any]) -> bytes:
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        parts: list[bytes] = []
        while True:
            size = int(stream.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while stream.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            parts.append(stream.read(size))
            stream.readline()
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return stream.read(length) if length > 0 else b""


class Server:
    """A threaded WSGI server on host:port, in a background thread; HTTP/1.1, so clients keep connections."""

    def __init__(self, app: WSGIApp, host: str, port: int) -> None:
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=_keep_alive_handler()
        )
        # Stopping waits for the serving loop's next look at its flag: look often.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="localcloud-http",
            daemon=True,
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


# -- calling the endpoint in-process ---------------------------------------------------------------
class _Body(io.BytesIO):
    """A response body as botocore reads it from urllib3: whole, or in parts."""

    def stream(self, *_: Any, **__: Any) -> Iterable[bytes]:
        data = self.read()
        if data:
            yield data


class InProcessSession:
    """Stands in for botocore's HTTP session: requests go straight to the WSGI app, with no socket.

    What localcloud itself calls (the Step Functions interpreter's service integrations, the
    deployer) takes this path; handlers in worker processes call over HTTP, as on AWS.
    """

    def __init__(self, app: WSGIApp) -> None:
        self._app = app

    def send(self, request: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        url = urlsplit(request.url)
        body = request.body
        if body is None:
            body = b""
        elif hasattr(body, "read"):
            body = body.read()
        if isinstance(body, str):
            body = body.encode("utf-8")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(url.path or "/").decode("latin-1"),
            "QUERY_STRING": url.query,
            "REQUEST_URI": url.path + (f"?{url.query}" if url.query else ""),
            "RAW_URI": url.path + (f"?{url.query}" if url.query else ""),
            "SERVER_NAME": url.hostname or "localhost",
            "SERVER_PORT": str(url.port or 80),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": url.scheme or "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_HOST": url.netloc,
        }
        for name, value in request.headers.items():
            text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = text
            elif key != "CONTENT_LENGTH":
                environ[f"HTTP_{key}"] = text
        status, headers, data = call_wsgi(self._app, environ)
        return AWSResponse(request.url, int(status.split(" ", 1)[0]), dict(headers), _Body(data))

    def close(self) -> None:
        pass


def in_process(client: Any, app: WSGIApp) -> Any:
    """The same botocore client, calling `app` directly instead of over a socket."""
    client._endpoint.http_session = InProcessSession(app)
    return client
