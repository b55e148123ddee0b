"""Intake's HTTP API on a real socket (the broker replaced by a producer that accepts all)."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from services.intake import http_api
from services.intake.http_api import IntakeApi
from services.intake.settings import IntakeSettings
from services.kernel.ops_http import OpsServer
from tests.unit.intake.test_validate import event

KEY = "unit-key-0001"
NOW = datetime(2026, 3, 15, 10, 0, tzinfo=UTC)


class _Future:
    def get(self, timeout: float | None = None) -> None:
        return None


class AcceptingProducer:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send(self, topic: str, **kw: object) -> _Future:
        self.sent.append(kw["value"])  # type: ignore[arg-type]
        return _Future()

    def flush(self, timeout: float | None = None) -> None:
        return None


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[IntakeApi]:
    monkeypatch.setattr(http_api, "BODY_TIMEOUT_S", 1.0, raising=False)
    settings = IntakeSettings(intake_http_port=0, intake_api_keys=SecretStr(f"sh-cc={KEY}"))
    server = IntakeApi(settings, AcceptingProducer(), lambda: NOW).start()  # type: ignore[arg-type]
    yield server
    server.stop()


def request(api: IntakeApi, path: str, body: bytes) -> tuple[int, dict, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    conn.request("POST", path, body=body, headers={"X-API-Key": KEY})
    resp = conn.getresponse()
    return resp.status, json.loads(resp.read()), dict(resp.getheaders())


def test_a_query_string_does_not_hide_the_endpoint(api):
    status, body, _ = request(api, "/v1/events?source=sh-cc", json.dumps(event()).encode())
    assert status == 202, body


def test_the_server_header_names_no_python_version(api):
    _, _, headers = request(api, "/v1/events", json.dumps(event()).encode())
    assert "Python" not in headers.get("Server", "") and headers.get("Server")


def test_a_lying_content_length_gets_a_quick_400(api):
    # Given a request that promises 1,000 bytes and sends 10, then waits for the answer
    with socket.create_connection(("127.0.0.1", api.port), timeout=30) as sock:
        sock.sendall(
            b"POST /v1/events HTTP/1.1\r\nHost: x\r\nX-API-Key: " + KEY.encode() + b"\r\n"
            b"Content-Length: 1000\r\n\r\n" + b'{"type": "'
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    # Then it is answered 400 naming the missing body (it was a 500 once the server's read
    # timed out), within the client's 30 s
    assert answer.startswith(b"HTTP/1.0 400") or answer.startswith(b"HTTP/1.1 400"), answer
    assert b"incomplete_body" in answer


def test_the_listen_backlog_holds_thousands_of_concurrent_requests(api):
    assert api._server.request_queue_size >= 4096


def test_the_ops_endpoints_name_no_python_version_and_ignore_query_strings():
    ops = OpsServer(
        __import__("prometheus_client").CollectorRegistry(),
        host="127.0.0.1",
        port=0,
        healthy=lambda: True,
        ready=lambda: True,
    ).start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", ops.port, timeout=10)
        conn.request("GET", "/readyz?verbose=1")
        resp = conn.getresponse()
        assert resp.status == 200
        assert "Python" not in (resp.getheader("Server") or "")
    finally:
        ops.stop()
