"""The archive's read-only HTTP JSON API: complaints for supervisors' tools and downstream
teams (API keys), and a customer's status lookup by reference and secret.

A small route table over the standard library's server. No answer holds customer PII: the
archive keeps only tokens and redacted text, and the timeline shows structured facts only.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg

from services.analytics import customer_view, queries
from services.analytics.business_time import calendars
from services.analytics.limiter import FailureLimiter
from services.analytics.settings import AnalyticsSettings
from services.kernel.errors import ConfigError
from services.kernel.ops_http import HttpServer, QuietHandler
from services.kernel.sealing import status_secret_matches

log = logging.getLogger(__name__)
MAX_LIMIT = 200
TIMELINE_FACTS = (
    "department",
    "priority",
    "status",
    "threshold_pct",
    "late_by_seconds",
    "level",
    "outcome",
    "score",
    "amount",
    "currency",
)
"""The payload fields a timeline entry shows: structured facts, never free text or people."""
DETAIL = tuple(
    shown
    for c in queries.COLUMNS
    if c != "csat_comment"
    for shown in ((c, "category_display") if c == "category" else (c,))
)
UNKNOWN = "no complaint with this reference and secret"


def parse_keys(spec: str) -> dict[str, str]:
    """`name=key,...` (or bare keys) → {key: name}; ConfigError naming the bad entry."""
    keys: dict[str, str] = {}
    for n, entry in enumerate(filter(None, (p.strip() for p in spec.split(","))), 1):
        name, sep, key = entry.rpartition("=") if "=" in entry else ("", "", entry)
        name = name.strip() or f"key-{n}"
        if len(key.strip()) < 16:
            raise ConfigError(
                f"CF_ANALYTICS_API_KEYS: entry {n} ({name}): expected name=key with a key "
                "of at least 16 characters"
            )
        keys[key.strip()] = name
    if not keys:
        raise ConfigError("CF_ANALYTICS_API_KEYS: no key; expected name=key,...")
    return keys


class Refusal(Exception):
    def __init__(
        self,
        status: int,
        error: str,
        detail: str,
        *,
        close: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.status = status
        self.body = {"error": error, "detail": detail}
        self.headers = headers or {}
        if close:  # the connection ends with the answer: an unread body is never parsed
            self.headers["Connection"] = "close"


@dataclass(frozen=True)
class Request:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    client: str
    match: re.Match[str]


Route = tuple[str, re.Pattern[str], bool, Callable[["ReadApi", Request], dict[str, Any]]]


class ReadApi:
    """The API on its own port, in the analytics worker's process; one short read-only
    database session per request."""

    def __init__(
        self,
        settings: AnalyticsSettings,
        *,
        pii_key: bytes,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        assert settings.analytics_api_keys is not None and settings.analytics_http_port is not None
        self.settings = settings
        self.db_url = settings.db_url()
        self.keys = parse_keys(settings.analytics_api_keys.get_secret_value())
        self.pii_key = pii_key
        self.business = calendars(settings.sla_policies_path, settings.sla_calendars_path)
        self.limiter = FailureLimiter(
            settings.analytics_status_failures_per_minute, 60.0, monotonic
        )
        api = self

        class Handler(QuietHandler):
            timeout = 30

            def do_GET(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
                headers: dict[str, str] = {}
                try:
                    status, body = 200, api.get(self.path, dict(self.headers.items()), self.client)
                except Refusal as refusal:
                    status, body, headers = refusal.status, refusal.body, refusal.headers
                except psycopg.OperationalError as exc:
                    log.warning("analytics HTTP: database unavailable: %s", type(exc).__name__)
                    status, body = 503, {"error": "unavailable", "detail": "retry later"}
                except Exception as exc:
                    log.error(
                        "analytics HTTP: %s while handling %s", type(exc).__name__, self.route()
                    )
                    status, body = 500, {"error": "internal", "detail": type(exc).__name__}
                self._send(status, body, headers)

            def _refuse_method(self) -> None:
                body = {"error": "method_not_allowed", "detail": "this API is read-only: GET"}
                self._send(405, body, {"Allow": "GET", "Connection": "close"})

            do_POST = do_PUT = do_PATCH = do_DELETE = _refuse_method

            @property
            def client(self) -> str:
                return str(self.client_address[0])

            def _send(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
                data = json.dumps(body, ensure_ascii=False, default=_json).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        address = (settings.analytics_http_host, settings.analytics_http_port)
        self._server = HttpServer(address, Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> ReadApi:
        self._thread.start()
        log.info(
            "analytics HTTP API on http://%s:%d/v1/complaints",
            self.settings.analytics_http_host,
            self.port,
        )
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def get(self, target: str, headers: dict[str, str], client: str) -> dict[str, Any]:
        """Answer one GET (the JSON body of a 200); raises Refusal for anything else."""
        lowered = {k.lower(): v for k, v in headers.items()}
        if lowered.get("content-length", "0").strip() not in ("", "0"):
            raise Refusal(400, "unexpected_body", "a GET carries no body", close=True)
        parts = urlsplit(target)
        try:
            query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
        except ValueError as exc:
            raise Refusal(400, "bad_query", "the query string is malformed") from exc
        for _, pattern, needs_key, answer in ROUTES:
            match = pattern.fullmatch(parts.path)
            if match is None:
                continue
            if needs_key:
                self._authenticate(lowered)
            return answer(self, Request(parts.path, query, lowered, client, match))
        raise Refusal(404, "not_found", f"no endpoint {parts.path}")

    def _authenticate(self, headers: dict[str, str]) -> str:
        given = headers.get("x-api-key", "").encode()
        found = ""
        for key, name in self.keys.items():  # every key compared: no early exit to time
            if hmac.compare_digest(key.encode(), given) and given:
                found = name
        if not found:
            detail = "send a valid key as X-API-Key" if given else "X-API-Key is missing"
            raise Refusal(401, "unauthorized", detail)
        return found

    def _db(self) -> psycopg.Connection:
        conn = psycopg.connect(self.db_url, connect_timeout=5)
        conn.read_only = True
        return conn

    def complaints(self, req: Request) -> dict[str, Any]:
        filters = filters_from(req.query)
        with self._db() as conn:
            rows, cursor = queries.find_page(conn, filters)
        return {"complaints": rows, "next_cursor": cursor}

    def complaint(self, req: Request) -> dict[str, Any]:
        key = req.match["key"]
        with self._db() as conn:
            found = queries.find_one(conn, key)
            if found is None:
                raise Refusal(404, "not_found", f"no complaint with id or reference {key}")
            cid = str(found["complaint_id"])
            targets = queries.sla_targets(conn, cid, self.business)
            events = queries.timeline(conn, cid)
        return {
            "complaint": {c: found[c] for c in DETAIL},
            "sla_targets": targets,
            "timeline": [timeline_entry(at, kind, payload) for at, _, kind, payload in events],
        }

    def status(self, req: Request) -> dict[str, Any]:
        reference = req.match["reference"].upper()
        secret = req.headers.get("x-status-secret", "")
        if not secret.strip():
            raise Refusal(400, "secret_required", "send the secret as X-Status-Secret")
        wait = self.limiter.retry_after(req.client)
        if wait:
            raise Refusal(
                429, "too_many_attempts", f"too many wrong secrets; retry in {wait} s",
                headers={"Retry-After": str(wait)},
            )  # fmt: skip
        # The secret is checked before the archive is asked, so an unknown reference and a
        # wrong secret cost the same and read the same.
        if not status_secret_matches(self.pii_key, reference, secret):
            self.limiter.failed(req.client)
            raise Refusal(404, "not_found", UNKNOWN)
        with self._db() as conn:
            row = conn.execute(
                "SELECT reference, status, department, language FROM analytics.complaints"
                " WHERE reference = %s",
                (reference,),
            ).fetchone()
            if row is None:
                raise Refusal(404, "not_found", UNKNOWN)
            targets = conn.execute(
                "SELECT target, state, deadline FROM analytics.sla_targets"
                " WHERE complaint_id = (SELECT complaint_id FROM analytics.complaints"
                " WHERE reference = %s LIMIT 1)",
                (reference,),
            ).fetchall()
        return customer_view.customer_status(
            reference=row[0], status=row[1], department=row[2], language=row[3],
            targets=[(t[0], t[1], t[2]) for t in targets],
        )  # fmt: skip


ROUTES: tuple[Route, ...] = (
    ("GET", re.compile(r"/v1/complaints"), True, ReadApi.complaints),
    ("GET", re.compile(r"/v1/complaints/(?P<key>[A-Za-z0-9_.:-]{1,100})"), True, ReadApi.complaint),
    ("GET", re.compile(r"/v1/status/(?P<reference>[A-Za-z0-9-]{1,40})"), False, ReadApi.status),
)
"""(method, path, needs an API key, answer)."""

TEXT = ("status", "department", "priority", "category", "channel", "place", "customer")
FLAGS = ("breached", "sensitive", "repeat")
ALLOWED = {*TEXT, *FLAGS, "since", "until", "limit", "cursor"}


def timeline_entry(at: object, kind: object, payload: object) -> dict[str, object]:
    """One event of a complaint's history: when, what, and its structured facts."""
    facts = payload if isinstance(payload, dict) else {}
    return {"at": at, "kind": kind, **{k: facts[k] for k in TIMELINE_FACTS if k in facts}}


def filters_from(query: dict[str, list[str]]) -> queries.Filters:
    """The list's filters from a query string; Refusal(400) naming the first bad parameter."""
    unknown = sorted(set(query) - ALLOWED)
    if unknown:
        raise Refusal(
            400, "bad_parameter", f"unknown parameter {unknown[0]!r}; known: {sorted(ALLOWED)}"
        )
    one: dict[str, str] = {}
    for name, values in query.items():
        if len(values) > 1:
            raise Refusal(400, "bad_parameter", f"{name} is given {len(values)} times")
        one[name] = values[0]
    args: dict[str, Any] = {
        ("customer_token" if n == "customer" else n): one[n] for n in TEXT if n in one
    }
    for name in FLAGS:
        if name in one:
            if one[name] not in ("true", "false"):
                raise Refusal(400, "bad_parameter", f"{name}: expected true or false")
            args[name] = one[name] == "true"
    for name in ("since", "until"):
        if name in one:
            args[name] = _instant(name, one[name])
    if "limit" in one:
        if not one["limit"].isdigit() or not 1 <= int(one["limit"]) <= MAX_LIMIT:
            raise Refusal(400, "bad_parameter", f"limit: expected 1 to {MAX_LIMIT}")
        args["limit"] = int(one["limit"])
    if "cursor" in one:
        try:
            args["after"] = queries.decode_cursor(one["cursor"])
        except ValueError as exc:
            raise Refusal(400, "bad_parameter", f"cursor: {exc}") from exc
    return queries.Filters(**args)


def _instant(name: str, text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.replace(" ", "+"))
    except ValueError as exc:
        raise Refusal(
            400, "bad_parameter", f"{name}: expected an ISO 8601 date or time with offset"
        ) from exc
    if when.tzinfo is None:
        if len(text) > 10:
            raise Refusal(400, "bad_parameter", f"{name}: a time needs an offset (Z or +08:00)")
        when = when.replace(tzinfo=UTC)  # a date alone is a UTC day
    return when


def _json(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date | Decimal):
        return str(value)
    raise TypeError(type(value).__name__)
