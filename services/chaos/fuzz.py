"""Property-based fuzzing (hypothesis) of every way in, run by the code the workers and
commands run: Kafka bytes into intake's validation, HTTP bodies and headers into intake's API,
CSV rows through the CFPB format and through YAML column mappings, and YAML configuration
(routing rules, roster, special periods, SLA policies and calendars, the notification
directory). Each input must be accepted or refused with a specific, human-readable reason;
anything else (a crash, a reason-less refusal, an HTTP 5xx) is a finding. Every input is
counted as it is tried, so the figures are the inputs fuzzed, not the ones asked for."""

from __future__ import annotations

import io
import json
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from schemas.raw import RAW_EVENT_TYPES
from services.intake.http_api import IntakeApi, _Refusal
from services.intake.importers import cfpb, mapping
from services.intake.settings import IntakeSettings
from services.intake.validate import parse
from services.kernel.errors import ConfigError, PoisonMessage

NOW = datetime(2026, 3, 15, 10, 0, tzinfo=UTC)
SHARES = {"Kafka bytes": 0.45, "HTTP bodies and headers": 0.2, "CSV rows and mappings": 0.2}
"""Of the inputs asked for; YAML configuration gets the rest."""
FIELDS = (
    "type",
    "source",
    "event_id",
    "complaint_ref",
    "occurred_at",
    "channel",
    "language",
    "customer",
    "description",
    "status",
    "due_at",
    "note",
    "score",
    "amount",
    "place",
)
HOSTILE = st.sampled_from(
    (
        "'; DROP TABLE intake.complaints; --",
        "{{ config.__class__ }}",
        "<script>alert(1)</script>",
        "\u202egnp.exe\u202c مرحبا",
        "😀" * 50,
        "\\u0000",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59Z",
        "{0}{complaint_ref.x}{",
    )
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text() | HOSTILE,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
CFPB_COLUMNS = (
    "Date received",
    "Product",
    "Sub-product",
    "Issue",
    "Sub-issue",
    "Consumer complaint narrative",
    "Company response to consumer",
    "State",
    "Tags",
    "Submitted via",
    "Date sent to company",
    "Complaint ID",
)
REFUSALS = {400, 401, 403, 404, 411, 413, 422}
API_KEY = "fuzz-api-key-0123456789"
CONFIGS = Path(__file__).resolve().parents[1]


@dataclass
class Fuzzed:
    counts: Counter[str] = field(default_factory=Counter)
    findings: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        parts = ", ".join(f"{way}: {n:,}" for way, n in self.counts.items())
        lines = [f"Inputs fuzzed: {self.total:,} ({parts})"]
        lines += [f"  FINDING {f}" for f in self.findings] or [
            "  every one accepted or refused with a reason"
        ]
        return "\n".join(lines)


def _base(kind: str) -> dict[str, Any]:
    return {
        "type": kind,
        "source": "fuzz-cc",
        "event_id": "e1",
        "complaint_ref": "R1",
        "occurred_at": "2026-03-15T17:59:00+08:00",
        "channel": "phone",
        "language": "en",
        "customer": {"name": "Jane Doe", "phone": "13812345678"},
        "description": "the line is down",
        "note": "called again",
        "status": "resolved",
        "due_at": "2026-03-16T10:00:00+08:00",
        "score": 3,
        "agent": "a1",
        "category": "billing",
        "amount": "10.00",
        "currency": "CNY",
        "authorised_by_role": "lead",
    }


@st.composite
def events(draw: st.DrawFn) -> bytes:
    """Plausible raw events with some fields replaced by anything JSON can carry."""
    doc = _base(draw(st.sampled_from(RAW_EVENT_TYPES)))
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=4)):
        if draw(st.booleans()):
            doc[name] = draw(json_values)
        else:
            doc.pop(name, None)
    return json.dumps(doc, ensure_ascii=draw(st.booleans())).encode()


kafka_values = st.one_of(
    st.binary(max_size=400), events(), events().map(lambda b: b[: len(b) // 2])
)


def _refused_with_reason(exc: PoisonMessage) -> str | None:
    if exc.reason and exc.errors and all(isinstance(e, str) and e for e in exc.errors):
        return None
    return f"refusal without a reason: {exc.reason!r} {exc.errors!r}"


def _kafka(value: bytes) -> str | None:
    """None when intake's validation accepts `value` or refuses it with a reason."""
    try:
        parse(value, now=NOW)
    except PoisonMessage as exc:
        return _refused_with_reason(exc)
    return None


class _Accepting:
    """Stands for the broker behind the API: what the fuzz is about is the answer."""

    class _Done:
        def get(self, timeout: float | None = None) -> None:
            return None

    def send(self, topic: str, **kw: object) -> _Accepting._Done:
        return self._Done()

    def flush(self, timeout: float | None = None) -> None:
        return None


def _api() -> IntakeApi:
    s = IntakeSettings(intake_http_port=0, intake_api_keys=SecretStr(f"*={API_KEY}"))
    return IntakeApi(s, _Accepting(), lambda: NOW)  # type: ignore[arg-type]


header_values = st.text(max_size=40) | st.sampled_from(("-1", "99999999999", "0", "abc", API_KEY))


@st.composite
def http_requests(draw: st.DrawFn) -> tuple[str, dict[str, str], bytes]:
    batch = draw(st.booleans())
    path = draw(st.sampled_from(("/v1/events", "/v1/events:batch", "/v2/x", "/v1/events/")))
    if batch:
        body = json.dumps(
            draw(
                st.lists(
                    st.builds(lambda b: json.loads(b) if b[:1] == b"{" else None, events()),
                    max_size=3,
                )
            )
        ).encode()
    else:
        body = draw(st.one_of(events(), st.binary(max_size=200)))
    headers: dict[str, str] = {}
    if draw(st.integers(0, 9)):
        headers["X-API-Key"] = draw(st.sampled_from((API_KEY, API_KEY, "wrong-key-000000000")))
    length = draw(st.sampled_from(("true", "true", "true", "lie", "missing", "odd")))
    if length == "true":
        headers["Content-Length"] = str(len(body))
    elif length == "lie":
        headers["Content-Length"] = str(len(body) + draw(st.integers(1, 50)))
    elif length == "odd":
        headers["Content-Length"] = draw(header_values)
    for name in draw(
        st.lists(st.sampled_from(("Content-Type", "X-Request-Id", "Host")), max_size=2)
    ):
        headers[name] = draw(header_values)
    return path, headers, body


def _http(api: IntakeApi, request: tuple[str, dict[str, str], bytes]) -> str | None:
    path, headers, body = request
    try:
        status, answer = api.post(path, headers, io.BytesIO(body))
    except _Refusal as refusal:
        status, answer = refusal.status, refusal.body
    if status >= 500 or (status not in REFUSALS and status not in (200, 202, 207)):
        return f"HTTP {status} for {path} {headers}: {answer}"
    if status in REFUSALS and not answer.get("error"):
        return f"HTTP {status} without a reason for {path}: {answer}"
    return None


csv_text = st.text(max_size=60) | HOSTILE | st.sampled_from(("", "N/A", "2024-03-15", "13/45/2024"))


@st.composite
def csv_rows(draw: st.DrawFn) -> tuple[str, Any, dict[str, str]]:
    """A CFPB row, or a mapping (maybe broken) and a row of a call center's own export."""
    if draw(st.booleans()):
        row = {c: draw(csv_text) for c in CFPB_COLUMNS}
        row["Complaint ID"] = draw(st.sampled_from(("1", "", "x" * 200, "12 34")))
        row["Consumer complaint narrative"] = draw(csv_text)
        return "cfpb", None, row
    cols = ["Ticket", "Opened", "Text", "Customer", "Phone"]
    spec: dict[str, Any] = {
        "source": draw(st.sampled_from(("acme-cc", "ACME", ""))),
        "columns": {
            "complaint_ref": "Ticket",
            "occurred_at": "Opened",
            "description": draw(st.sampled_from(("Text", ["Text", "Customer"]))),
            draw(
                st.sampled_from(("customer.name", "customer", "customer.phone.x", "place"))
            ): "Customer",
            "customer.phone": "Phone",
        },
        "defaults": draw(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=2)),
        "time_format": draw(st.sampled_from((None, "%d/%m/%Y %H:%M", "%Q", "%"))),
        "time_zone": draw(st.sampled_from(("UTC", "Asia/Shanghai", "Mars/Olympus", ""))),
        "event_id": draw(
            st.sampled_from(("{complaint_ref}-new", "{0}", "{complaint_ref.x}", "{", "{nope}"))
        ),
    }
    if draw(st.integers(0, 4)) == 0:
        spec[draw(st.sampled_from(tuple(spec)))] = draw(json_values)
    row = {c: draw(csv_text) for c in cols}
    return "mapping", spec, row


def _csv(folder: Path, case: tuple[str, Any, dict[str, str]]) -> str | None:
    kind, spec, row = case
    if kind == "cfpb":
        docs = cfpb.events(row)
    else:
        path = folder / "mapping.yaml"
        path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
        try:
            rules = mapping.load(path)
        except ConfigError as exc:
            return None if str(exc) else "a mapping refused without a reason"
        docs = mapping.events(rules, row)
    for doc in docs:
        found = _kafka(json.dumps(doc, ensure_ascii=False).encode())
        if found:
            return found
    return None


def _shipped() -> dict[str, tuple[Path, Callable[[Path], object]]]:
    from services.notification.directory import load_directory
    from services.routing.roster import load_roster
    from services.routing.rulebook import load_rules
    from services.routing.severity import load_periods
    from services.sla_timer import policy_book

    routing, sla = CONFIGS / "routing" / "config", CONFIGS / "sla_timer" / "config"
    return {
        "rules": (routing / "rules.yaml", load_rules),
        "roster": (routing / "roster.yaml", load_roster),
        "special periods": (routing / "special_periods.yaml", load_periods),
        "directory": (routing / "roster.yaml", load_directory),
        "policies": (sla / "policies.yaml", lambda p: policy_book.load(p, sla / "calendars.yaml")),
        "calendars": (sla / "calendars.yaml", lambda p: policy_book.load(sla / "policies.yaml", p)),
    }


def _seed(path: Path) -> Any:
    """A shipped file with each list cut to its first three items: the fuzz changes small
    documents quickly rather than large ones slowly."""

    def cut(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: cut(v) for k, v in node.items()}
        if isinstance(node, list):
            return [cut(v) for v in node[:3]]
        return node

    return cut(yaml.safe_load(path.read_text(encoding="utf-8")))


def _paths(node: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [at]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*at, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*at, i))
    return out


@st.composite
def yaml_docs(draw: st.DrawFn, shipped: dict[str, Any]) -> tuple[str, str]:
    """A shipped file with a few of its values replaced or removed, or with text spliced in."""
    name = draw(st.sampled_from(sorted(shipped)))
    doc = json.loads(json.dumps(shipped[name], default=str))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values)
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    if draw(st.integers(0, 5)) == 0:
        at = draw(st.integers(0, len(text)))
        text = (
            text[:at]
            + draw(st.text(max_size=20) | st.sampled_from((": :", "- [", "&a *a", "\t")))
            + text[at:]
        )
    return name, text


def _yaml(
    folder: Path, loaders: dict[str, Callable[[Path], object]], case: tuple[str, str]
) -> str | None:
    name, text = case
    path = folder / f"{name.replace(' ', '_')}.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        loaders[name](path)
    except ConfigError as exc:
        return None if str(path) in str(exc) else f"{name}: a refusal that names no file: {exc}"
    return None


def run(total: int, *, seed: int, say: Callable[[str], None] = print) -> Fuzzed:
    """About `total` generated inputs across the ways in (counted as they are tried)."""
    result = Fuzzed()
    api = _api()
    files = _shipped()
    loaders = {name: loader for name, (_, loader) in files.items()}
    shipped = {name: _seed(path) for name, (path, _) in files.items()}
    with tempfile.TemporaryDirectory(prefix="complaintflow-fuzz-") as tmp:
        folder = Path(tmp)
        ways: list[tuple[str, Any, Callable[[Any], str | None]]] = [
            ("Kafka bytes", kafka_values, _kafka),
            ("HTTP bodies and headers", http_requests(), lambda r: _http(api, r)),
            ("CSV rows and mappings", csv_rows(), lambda c: _csv(folder, c)),
            ("YAML configuration", yaml_docs(shipped), lambda c: _yaml(folder, loaders, c)),
        ]
        left = total
        for i, (way, strategy, check) in enumerate(ways):
            n = left if i == len(ways) - 1 else int(total * SHARES[way])
            left -= n
            _fuzz(way, strategy, check, n, seed, result)
            say(f"  fuzzed {way}: {result.counts[way]:,}")
    return result


def _fuzz(
    way: str,
    strategy: Any,
    check: Callable[[Any], str | None],
    n: int,
    rng_seed: int,
    result: Fuzzed,
) -> None:
    """`n` inputs of `strategy` through `check`; the first problems found become findings."""
    seen: set[str] = set()

    @settings(
        max_examples=n,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def prop(value: Any) -> None:
        result.counts[way] += 1
        try:
            problem = check(value)
        except Exception as exc:  # a crash is what the fuzz is looking for
            problem = f"{type(exc).__name__}: {exc}"[:300]
        if problem and problem[:60] not in seen and len(seen) < 20:
            seen.add(problem[:60])  # one line per kind of problem
            result.findings.append(f"{way}: {problem} (input {value!r:.200})")

    seed(rng_seed)(prop)()
