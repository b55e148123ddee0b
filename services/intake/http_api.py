"""Intake's HTTP API: `POST /v1/events` and `POST /v1/events:batch`, and the satisfaction
survey customers reach by a signed link (`GET|POST /v1/survey/<token>`, see `survey.py`).

An event is on Kafka (acks=all) before the 202 goes out; a refused request names every
invalid field. Keys are per call center (`CF_INTAKE_API_KEYS=source=key,...`): a key only
submits events of its own source, `*=key` submits for any source.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg
from kafka import KafkaProducer
from kafka.errors import KafkaError

from schemas.envelope import complaint_id_for
from services.intake.identity import reference_for
from services.intake.settings import IntakeSettings
from services.intake.survey import SurveyRefused, answer, open_link, page
from services.intake.validate import MAX_EVENT_BYTES, parse
from services.kernel.errors import ConfigError, PoisonMessage
from services.kernel.ops_http import HttpServer, QuietHandler
from services.sdk.submit import send_raw

log = logging.getLogger(__name__)
MAX_BATCH_BYTES = 5 * 1024 * 1024
SURVEY_PATH = "/v1/survey/"
MAX_SURVEY_BYTES = 16 * 1024
BODY_TIMEOUT_S = 5.0
"""Longest pause while a body arrives: a Content-Length larger than what is sent gets a 400
then, not a thread held for the connection timeout."""


def parse_keys(spec: str) -> dict[str, str]:
    """`source=key,source2=key2` → {key: source}; raises ConfigError naming the bad pair."""
    keys: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in spec.split(","))):
        source, sep, key = pair.partition("=")
        if not sep or not source.strip() or len(key.strip()) < 8:
            raise ConfigError(
                f"CF_INTAKE_API_KEYS: {source.strip() or pair!r}: expected source=key "
                "with a key of at least 8 characters"
            )
        keys[key.strip()] = source.strip()
    return keys


class _Refusal(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("error"))
        self.status = status
        self.body = body


class IntakeApi:
    """The HTTP front door of intake, on its own port, sharing the worker's process."""

    def __init__(
        self, settings: IntakeSettings, producer: KafkaProducer, now: Callable[[], datetime]
    ) -> None:
        assert settings.intake_api_keys is not None and settings.intake_http_port is not None
        self.settings = settings
        self.producer = producer
        self.now = now
        self.keys = parse_keys(settings.intake_api_keys.get_secret_value())
        self.link_key = settings.link_secret()
        api = self

        class Handler(QuietHandler):
            timeout = 30  # a client that stalls mid-request does not hold a thread forever

            def do_GET(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
                self._survey("GET")

            def _survey(self, method: str) -> None:
                status, text = api.survey(method, self.route(), dict(self.headers.items()),
                                          self.rfile)  # fmt: skip
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("Referrer-Policy", "no-referrer")
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
                self.connection.settimeout(BODY_TIMEOUT_S)
                if self.route().startswith(SURVEY_PATH):
                    self._survey("POST")
                    return
                try:
                    status, body = api.post(self.route(), dict(self.headers.items()), self.rfile)
                except _Refusal as refusal:
                    status, body = refusal.status, refusal.body
                except KafkaError as exc:
                    log.warning("intake HTTP: broker unavailable: %s", type(exc).__name__)
                    status, body = 503, {"error": "unavailable", "detail": "retry later"}
                except Exception as exc:  # never echo the body: it may hold customer data
                    log.error("intake HTTP: %s while handling %s", type(exc).__name__, self.path)
                    status, body = 500, {"error": "internal", "detail": type(exc).__name__}
                data = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = HttpServer((settings.intake_http_host, settings.intake_http_port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> IntakeApi:
        self._thread.start()
        log.info(
            "intake HTTP API on http://%s:%d/v1/events", self.settings.intake_http_host, self.port
        )
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def survey(self, method: str, path: str, headers: dict[str, str], body: Any) -> tuple[int, str]:
        """Show the survey (GET) or record its answer (POST): (status, HTML page)."""
        if not path.startswith(SURVEY_PATH):
            return 404, page("en", message="invalid")
        survey = None
        try:
            survey = open_link(self.link_key, path[len(SURVEY_PATH) :], self.now())
            if self._answered(survey.source, survey.event_id):
                return 409, page(survey.language, message="already")
            if method == "GET":
                return 200, page(survey.language, form=True)
            lowered = {k.lower(): v for k, v in headers.items()}
            try:
                size = min(int(lowered.get("content-length", "0")), MAX_SURVEY_BYTES)
                raw = body.read(size) if size > 0 else b""
            except (ValueError, OSError):
                raw = b""
            event = answer(survey, raw, lowered.get("content-type", ""), self.now())
            parse(event, now=self.now())  # the same checks as any raw event
            fut, _ = send_raw(self.producer, self.settings, event)
            self.producer.flush(timeout=30)
            fut.get(timeout=30)  # type: ignore[attr-defined]
            return 200, page(survey.language, message="thanks")
        except SurveyRefused as refused:
            status = refused.status
            message = refused.reason if refused.reason in ("expired", "score") else "invalid"
            return status, page(refused.language, message=message, form=message == "score")
        except PoisonMessage:
            return 422, page("en", message="invalid")
        except Exception as exc:  # the broker did not take it: the customer may try again
            log.warning("survey: %s; the answer was not recorded", type(exc).__name__)
            return 503, page(survey.language if survey else "en", message="unavailable")

    def _answered(self, source: str, event_id: str) -> bool:
        """Whether intake has already recorded this survey's answer."""
        try:
            with psycopg.connect(self.settings.db_url(), connect_timeout=5) as conn:
                row = conn.execute(
                    "SELECT 1 FROM intake.seen_events WHERE source = %s AND event_id = %s",
                    (source, event_id),
                ).fetchone()
        except (psycopg.Error, RuntimeError):
            return False  # intake's de-duplication still keeps the first answer only
        return row is not None

    def post(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        """Answer one POST: (status, JSON body)."""
        if path not in ("/v1/events", "/v1/events:batch"):
            raise _Refusal(404, {"error": "not_found", "detail": f"no endpoint {path}"})
        allowed_source = self._authenticate(headers)
        batch = path.endswith(":batch")
        limit = MAX_BATCH_BYTES if batch else MAX_EVENT_BYTES
        lowered = {k.lower(): v for k, v in headers.items()}
        if "content-length" not in lowered:
            raise _Refusal(411, {"error": "length_required"})
        try:
            size = int(lowered["content-length"])
        except ValueError:
            size = -1
        if size < 0:
            raise _Refusal(400, {"error": "bad_length", "detail": "Content-Length is invalid"})
        if size > limit:
            raise _Refusal(
                413, {"error": "too_large", "detail": f"body is {size} bytes, the limit is {limit}"}
            )
        try:
            raw = body.read(size)
        except OSError:  # timed out, or the connection broke, while the body was arriving
            raw = b""
        if len(raw) < size:
            raise _Refusal(
                400,
                {
                    "error": "incomplete_body",
                    "detail": f"the body ended before the {size} bytes its Content-Length names",
                },
            )
        items = self._split(raw) if batch else [raw]
        accepted, refused = [], []
        for index, item in enumerate(items):
            try:
                event = parse(item, now=self.now())
            except PoisonMessage as exc:
                refused.append({"index": index, "reason": exc.reason, "errors": exc.errors})
                continue
            if allowed_source not in ("*", event.source):
                refused.append(
                    {
                        "index": index,
                        "reason": "forbidden_source",
                        "errors": [f"this key may not submit events of {event.source!r}"],
                    }
                )
                continue
            accepted.append((item, event))
        if refused:
            if not batch:
                first = refused[0]
                status = (
                    403
                    if first["reason"] == "forbidden_source"
                    else (
                        400 if first["reason"] in ("invalid_json", "invalid_utf8", "empty") else 422
                    )
                )
                raise _Refusal(status, {"error": first["reason"], "errors": first["errors"]})
            raise _Refusal(
                422,
                {
                    "error": "invalid_events",
                    "refused": refused,
                    "detail": "nothing was accepted; fix these and resend",
                },
            )
        futures = [
            (send_raw(self.producer, self.settings, item)[0], event) for item, event in accepted
        ]
        self.producer.flush(timeout=30)
        results = []
        for fut, event in futures:
            try:
                fut.get(timeout=30)  # type: ignore[attr-defined]
            except Exception as exc:  # the broker did not take it: the caller must retry
                raise _Refusal(
                    503, {"error": "unavailable", "detail": f"not stored on Kafka ({exc}); retry"}
                ) from exc
            cid = complaint_id_for(event.source, event.complaint_ref)
            results.append(
                {"event_id": event.event_id, "complaint_id": cid, "reference": reference_for(cid)}
            )
        return 202, ({"accepted": results} if batch else results[0])

    def _authenticate(self, headers: dict[str, str]) -> str:
        lowered = {k.lower(): v for k, v in headers.items()}
        key = lowered.get("x-api-key") or ""
        auth = lowered.get("authorization", "")
        if not key and auth.lower().startswith("bearer "):
            key = auth[7:].strip()
        for known, source in self.keys.items():
            if key and hmac.compare_digest(known.encode(), key.encode()):
                return source
        raise _Refusal(
            401,
            {
                "error": "unauthorized",
                "detail": "send a valid key as X-API-Key or Authorization: Bearer",
            },
        )

    def _split(self, raw: bytes) -> list[bytes]:
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise _Refusal(
                400, {"error": "invalid_json", "errors": [f"not JSON: {type(exc).__name__}"]}
            ) from exc
        items = doc.get("events") if isinstance(doc, dict) else doc
        if not isinstance(items, list) or not items:
            raise _Refusal(
                400,
                {
                    "error": "invalid_batch",
                    "errors": ['expected a non-empty JSON array of events (or {"events": [...]})'],
                },
            )
        if len(items) > self.settings.intake_max_batch:
            raise _Refusal(
                413,
                {
                    "error": "too_many_events",
                    "errors": [
                        f"{len(items)} events, the limit is {self.settings.intake_max_batch}"
                    ],
                },
            )
        out = []
        for index, item in enumerate(items):
            try:
                out.append(json.dumps(item, ensure_ascii=False).encode())
            except (UnicodeEncodeError, ValueError, RecursionError) as exc:
                raise _Refusal(
                    400,
                    {
                        "error": "invalid_json",
                        "refused": [
                            {
                                "index": index,
                                "reason": "invalid_json",
                                "errors": [f"cannot be encoded: {type(exc).__name__}"],
                            }
                        ],
                    },
                ) from exc
        return out
