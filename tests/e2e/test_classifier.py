"""A model trained on one half of a labelled set routes the other half, imported as a call
center's export, through the running pipeline at the accuracy `classifier evaluate`
predicted."""

from __future__ import annotations

import csv
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
