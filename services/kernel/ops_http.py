"""The small HTTP server every worker runs: `/metrics`, `/healthz`, `/readyz`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


class HttpServer(ThreadingHTTPServer):
    """A threading HTTP server whose listen backlog holds bursts of thousands of connections
    (the kernel caps it at net.core.somaxconn)."""

    request_queue_size = 4096
    daemon_threads = True


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that names no software version and logs no request line."""

    server_version = "ComplaintFlow"

    def version_string(self) -> str:
        return self.server_version

    def route(self) -> str:
        """The request's path without its query string."""
        return urlsplit(self.path).path

    def log_message(self, format: str, *args: object) -> None:
        return


class OpsServer:
    """Serves metrics and health on a daemon thread; `port` is known once started."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        host: str,
        port: int,
        healthy: Callable[[], bool],
        ready: Callable[[], bool],
    ) -> None:
        outer = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
                path = self.route()
                if path == "/metrics":
                    self._send(200, generate_latest(outer.registry), CONTENT_TYPE_LATEST)
                elif path == "/healthz":
                    ok = outer.healthy()
                    self._send(200 if ok else 503, b"ok\n" if ok else b"stalled\n")
                elif path == "/readyz":
                    ok = outer.ready()
                    self._send(200 if ok else 503, b"ready\n" if ok else b"not ready\n")
                else:
                    self._send(404, b"not found\n")

            def _send(self, status: int, body: bytes, ctype: str = "text/plain") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.registry = registry
        self.healthy = healthy
        self.ready = ready
        self._server = HttpServer((host, port), Handler)
        self.host = host
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> OpsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"
