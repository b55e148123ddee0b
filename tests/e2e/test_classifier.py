"""The classifier through the running pipeline: a model trained on one half of a labelled set
routes the other half, imported as a call center's export, at the accuracy `classifier
evaluate` predicted; an agent's correction sent through the broker changes the next decision
on similar text once retrained; running workers follow `activate` and `rollback` without a
restart."""

from __future__ import annotations

import csv
import itertools
import json
import math
import subprocess
import sys
from pathlib import Path
from statistics import mean, pstdev

import pytest

from schemas.envelope import complaint_id_for
from services.routing.learning import TRAINING_DIR
from tests.conftest import settings_env, wait_for, wait_ready
from tests.e2e.test_pipeline import new_complaint, raw, submit
from tests.integration.test_classifier import MAPPING, ROWS
from tests.kafka_helpers import TopicReader

pytestmark = pytest.mark.e2e
IMPORT_MAPPING = """
source: half-cc
columns:
  complaint_ref: id
  occurred_at: opened
  description: text
  language: language
defaults:
  channel: phone
"""


def cli(cf, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "services.commands.cli", *args, "--quiet"],
        capture_output=True,
        text=True,
        env=settings_env(cf),
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def halves(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """The shipped held-out set split in two (every other row): a file to train on, a file
    to import, and each imported complaint's label by complaint id."""
    with (TRAINING_DIR / "heldout.csv").open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        fields, rows = list(reader.fieldnames or []), list(reader)
    paths = [tmp_path / "history.csv", tmp_path / "new.csv"]
    for part, path in enumerate(paths):
        with path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=fields)
            w.writeheader()
            w.writerows(rows[part::2])
    labels = {complaint_id_for("half-cc", r["id"]): r["category"] for r in rows[1::2]}
    return paths[0], paths[1], labels


def test_a_model_trained_on_half_routes_the_other_half_as_evaluate_predicted(
    cf, worker_factory, tmp_path
):
    history, new, labels = halves(tmp_path)
    mapping = str(TRAINING_DIR / "mapping.yaml")
    # Given what cross-validation on the labelled half predicts: the share of complaints routed
    # to their right category (not triaged, not wrong), and its spread over the folds
    figures = json.loads(
        cli(
            cf,
            "classifier",
            "evaluate",
            str(history),
            "--mapping",
            mapping,
            "--json",
            "--chart",
            str(tmp_path / "cm.png"),
        )  # fmt: skip
    )["model"]
    predicted, folds = figures["right_rate"], figures["fold_right"]
    assert len(folds) == 5 and (tmp_path / "cm.png").stat().st_size > 0
    # When a model is trained on that half, and the other half is imported as an export
    assert cli(cf, "classifier", "train", str(history), "--mapping", mapping).startswith(
        "model v1:"
    )
    workers = [worker_factory("intake", cf), worker_factory("routing", cf)]
    wait_ready(workers)
    (tmp_path / "import.yaml").write_text(IMPORT_MAPPING, encoding="utf-8")
    said = cli(
        cf, "import", str(new), "--format", "csv", "--mapping", str(tmp_path / "import.yaml")
    )
    assert f"accepted {len(labels)}" in said
    # Then every complaint is routed by that model
    routed = TopicReader(cf, "complaints.routed.v1")
    decisions: dict[str, dict] = {}

    def all_routed() -> bool:
        for m in routed.poll():
            d = json.loads(m.value)
            decisions[d["complaint_id"]] = d
        return len(decisions) >= len(labels)

    wait_for(all_routed, timeout=300, what=f"{len(labels)} routing decisions")
    assert set(decisions) == set(labels)
    assert {(d["model_version"], d["classified_by"]) for d in decisions.values()} == {
        ("v1", "model")
    }
    # And the share routed to the right category is what evaluate predicted, within three
    # standard deviations of its folds (at least of a sample of this size)
    right = mean(decisions[c]["category"] == label for c, label in labels.items())
    sigma = max(pstdev(folds), math.sqrt(predicted * (1 - predicted) / len(labels)))
    assert abs(right - predicted) <= 3 * sigma, (right, predicted, folds)
    # And each decision explains itself
    some = next(iter(decisions.values()))
    assert any("model v1 says" in why and "weighed most:" in why for why in some["reasons"])


SHIPPED_NAMES = {"费用问题": "billing", "网络质量": "network", "服务态度": "service_attitude"}


def export(path: Path, per_phrase: int = 6) -> Path:
    """A small labelled export in the shipped taxonomy's categories."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["工单号", "描述", "类别"])
        n = itertools.count(1)
        for category, phrases in ROWS.items():
            for phrase in phrases:
                for i in range(per_phrase):
                    w.writerow([f"T{next(n)}", phrase.format(n=i + 2), SHIPPED_NAMES[category]])
    return path


class Decisions:
    """Routing decisions read from `complaints.routed.v1`, by complaint and version."""

    def __init__(self, cf) -> None:
        self.cf = cf
        self.routed = TopicReader(cf, "complaints.routed.v1")
        self.seen: dict[tuple[str, int], dict] = {}
        self.refs = (f"L{i}" for i in itertools.count())

    def has(self, complaint_id: str, version: int) -> bool:
        for m in self.routed.poll():
            d = json.loads(m.value)
            self.seen.setdefault((d["complaint_id"], d["version"]), d)
        return (complaint_id, version) in self.seen

    def decide(self, text: str) -> dict:
        """Submits a new complaint with `text` (no category) and returns its decision."""
        ref = next(self.refs)
        submit(self.cf, [new_complaint(ref, f"e-{ref}", "", text)])
        cid = complaint_id_for("e2e-cc", ref)
        wait_for(lambda: self.has(cid, 1), timeout=60, what=f"the decision on {ref}")
        return self.seen[(cid, 1)] | {"ref": ref}

    def decided_by(self, version: str, text: str) -> dict:
        """The decision on a new complaint once the workers use `version` (each try is a new
        complaint: a worker picks a version up at its next check)."""
        got: list[dict] = []
        wait_for(lambda: got.append(self.decide(text)) or got[-1]["model_version"] == version,
                 timeout=120, what=f"a decision by {version}")  # fmt: skip
        return got[-1]


def test_a_correction_retrains_and_workers_follow_activate_and_rollback(
    cf, worker_factory, tmp_path
):
    (tmp_path / "labels.yaml").write_text(MAPPING, encoding="utf-8")
    labelled = [str(export(tmp_path / "history.csv")), "--mapping", str(tmp_path / "labels.yaml")]
    assert cli(cf, "classifier", "train", *labelled).startswith("model v1: 72 rows")
    workers = [
        worker_factory("intake", cf),
        worker_factory(
            "routing", cf, CF_ROUTING_MODEL_CHECK_SECONDS="0.2", CF_ROUTING_RETRAIN_HOURS="0"
        ),
    ]
    wait_ready(workers)
    decisions = Decisions(cf)
    # Given the model takes a new kind of problem for a billing one
    first_text = "套餐里的提速包一直没生效"
    first = decisions.decide(first_text)
    assert (first["category"], first["classified_by"], first["model_version"]) == (
        "billing",
        "model",
        "v1",
    )
    # When an agent corrects it to a network problem, through the broker
    submit(
        cf,
        [
            raw(
                "complaint.recategorised",
                first["ref"],
                "fix-1",
                category="network",
                agent="agent-07",
            )
        ],
    )
    cid = first["complaint_id"]
    wait_for(lambda: decisions.has(cid, 2), what="the re-route after the correction")
    assert decisions.seen[(cid, 2)]["classified_by"] == "agent"
    # And the model is retrained on demand
    assert "model v2: 72 rows + 1 agents' corrections" in cli(cf, "classifier", "retrain")
    # Then the running worker routes similar text to the corrected category, with no restart
    after = decisions.decided_by("v2", "我买的提速包没有生效")
    assert (after["category"], after["classified_by"]) == ("network", "model")
    assert after["category_display"]["zh-Hans"] == "网络信号"  # as people read it
    assert any("model v2 says 'network'" in why for why in after["reasons"])

    # When the previous version is rolled back to, the workers use it again
    assert cli(cf, "classifier", "rollback").startswith("model v1 in use (rolled back from v2)")
    assert "← in use" in next(
        line for line in cli(cf, "classifier", "list").splitlines() if line.startswith("v1 ")
    )
    assert decisions.decided_by("v1", first_text)["category"] == "billing"
    # And activating a version by its number switches them to it
    assert cli(cf, "classifier", "activate", "v2").startswith("model v2 in use (activated)")
    assert decisions.decided_by("v2", first_text)["category"] == "network"
