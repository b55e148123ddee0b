"""How an audit is shown: a summary table per check and what does not balance, complaint by
complaint (ids and references only: the audit never shows customer data)."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from services.audit.checks import Finding
from services.audit.run import Report


def _findings(report: Report) -> list[Finding]:
    return [f for o in report.outcomes for f in o.findings]


def as_json(report: Report) -> str:
    doc: dict[str, Any] = {
        "balanced": report.balanced,
        "as_of": report.as_of.isoformat(),
        "cutoff": report.cutoff.isoformat(),
        "read": report.read,
        "seconds": round(report.seconds, 2),
        "checks": [
            {
                "check": o.check,
                "checked": o.checked,
                "imbalanced": len(o.findings),
                "skipped": o.skipped,
            }
            for o in report.outcomes
        ],
        "findings": [
            {
                "check": f.check,
                "complaint_id": f.complaint_id,
                "reference": report.references.get(f.complaint_id or ""),
                "where": f.where,
                "problem": f.problem,
            }
            for f in _findings(report)
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False)


def as_text(report: Report, *, limit: int = 50) -> str:
    lines = [
        f"Audit of the topics up to their ends at {report.as_of:%Y-%m-%d %H:%M:%S}Z"
        f" (anything due before {report.cutoff:%H:%M:%S}Z must have happened)",
        f"Read {sum(report.read.values()):,} messages in {report.seconds:.1f} s: "
        + ", ".join(f"{t} {n:,}" for t, n in report.read.items()),
        "",
        f"{'check':<16}{'checked':>12}{'imbalanced':>12}",
    ]
    for o in report.outcomes:
        note = f"  ({o.skipped})" if o.skipped else ""
        lines.append(f"{o.check:<16}{o.checked:>12,}{len(o.findings):>12,}{note}")
    found = _findings(report)
    lines.append("")
    if not found:
        lines.append("The books balance.")
        return "\n".join(lines)
    by_complaint: dict[str | None, list[Finding]] = defaultdict(list)
    for f in found:
        by_complaint[f.complaint_id].append(f)
    complaints = [c for c in by_complaint if c is not None]
    lines.append(
        f"The books do not balance: {len(found):,} problem(s), {len(complaints):,} complaint(s)."
    )
    for cid in [None, *complaints][: limit + 1]:
        items = by_complaint.get(cid)
        if not items:
            continue
        ref = report.references.get(cid or "")
        lines.append("")
        lines.append(
            "not tied to a complaint"
            if cid is None
            else f"complaint {cid}" + (f"  {ref}" if ref else "")
        )
        for f in items:
            where = f"  [{f.where}]" if f.where else ""
            lines.append(f"  {f.check}: {f.problem}{where}")
    if len(complaints) > limit:
        lines.append("")
        lines.append(f"... and {len(complaints) - limit:,} more complaint(s) (--format json: all)")
    return "\n".join(lines)
