"""The small HTTP server every worker runs: `/metrics`, `/healthz`, `/readyz`, `/statusz`.

A worker running with configuration problems stays ready (200: it processes its records, and
taking it out of service would stop the flow for a fallback it handles); `/readyz` then says
`ready, degraded` and lists the problems, and `/statusz` gives the same as JSON for
`complaintflow stack status`. Alerts fire on the `complaintflow_config_problems` gauge.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from services.kernel.problems import Problem


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
        problems: Callable[[], Sequence[Problem]] = lambda: (),
        worker: str = "",
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
                    self._send(200 if ok else 503, readyz_body(ok, outer.problems()).encode())
                elif self.path == "/statusz":
                    body = json.dumps(outer.status(), ensure_ascii=False, indent=2) + "\n"
                    self._send(200, body.encode(), "application/json")
                else:
                    self._send(404, b"not found\n")

            def _send(self, status: int, body: bytes, ctype: str = "text/plain") -> None:
                self.send_response(status)
                if ctype.startswith("text/plain") and "charset" not in ctype:
                    ctype += "; charset=utf-8"
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.registry = registry
        self.healthy = healthy
        self.ready = ready
        self.problems = problems
        self.worker = worker
        self._server = HttpServer((host, port), Handler)
        self.host = host
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def status(self) -> dict[str, Any]:
        """What `/statusz` answers: health, readiness and the configuration problems."""
        problems = list(self.problems())
        return {
            "worker": self.worker,
            "healthy": self.healthy(),
            "ready": self.ready(),
            "degraded": bool(problems),
            "problems": [p.as_json() for p in problems],
        }

    def start(self) -> OpsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def readyz_body(ready: bool, problems: Sequence[Problem]) -> str:
    """`ready` / `not ready`, then (when there are any) one line per configuration problem."""
    head = "ready" if ready else "not ready"
    if not problems:
        return head + "\n"
    n = len(problems)
    lines = [f"{head}, degraded: {n} configuration problem{'s' if n > 1 else ''}"]
    lines += [f"- {p.line()}" for p in problems]
    return "\n".join(lines) + "\n"
