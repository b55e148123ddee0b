"""Training and measuring the classifier: fit on labelled examples (agents' corrections count
more), k-fold cross-validation with per-category precision and recall, and the shipped
default model for the shipped taxonomy."""

from __future__ import annotations

import csv
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

from services.routing import model_store
from services.routing.classifier import Classifier, Trained
from services.routing.model import ModelParams, TextModel
from services.routing.model_store import CORRECTION, Example
from services.routing.rulebook import ClassifierSpec

TRAINING_DIR = Path(__file__).parent / "training"
"""The labelled sets written for the shipped taxonomy, and the model trained on train.csv."""
DEFAULT_MODEL = TRAINING_DIR / "default-model.npz"
Progress = Callable[[int], None]


def read_labelled(path: Path) -> list[Example]:
    """A shipped labelled set (columns `text` and `category`)."""
    with path.open(encoding="utf-8", newline="") as fh:
        return [Example(row["text"], row["category"]) for row in csv.DictReader(fh)]


def fit(
    examples: Sequence[Example], spec: ClassifierSpec, params: ModelParams | None = None
) -> TextModel:
    """A model of `examples`; a correction weighs `spec.correction_weight` rows."""
    weights = [spec.correction_weight if e.origin == CORRECTION else 1.0 for e in examples]
    return TextModel.fit(
        [e.text for e in examples], [e.category for e in examples], weights=weights, params=params
    )


@dataclass
class Scores:
    """How a classifier did on labelled examples."""

    labels: list[str]
    """Every category, in the order of the matrix."""
    confusion: list[list[int]]
    """confusion[true][routed to], counts, as routing would do: the last column is triage (a
    best guess below the threshold)."""
    fold_accuracy: list[float] = field(default_factory=list)
    """Accuracy (best guess, threshold ignored) per fold of a cross-validation."""
    fold_right: list[float] = field(default_factory=list)
    """Share routed to the right category (not triaged, not wrong) per fold."""
    correct: int = 0
    total: int = 0
    triaged: int = 0
    """Below the threshold: sent to triage."""
    correct_routed: int = 0
    """Above the threshold and right."""

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def right_rate(self) -> float:
        """The share of all examples routing would send to the right category."""
        return self.correct_routed / self.total if self.total else 0.0

    @property
    def triage_rate(self) -> float:
        return self.triaged / self.total if self.total else 0.0

    @property
    def routed_accuracy(self) -> float:
        """Of the complaints not sent to triage, the share routed to the right category."""
        routed = self.total - self.triaged
        return self.correct_routed / routed if routed else 0.0

    def per_category(self) -> list[tuple[str, float, float, int]]:
        """(category, precision, recall, support) of routing at the threshold: precision of
        the complaints routed to the category, recall of those labelled so (triage misses)."""
        m = np.array(self.confusion)
        out = []
        for i, label in enumerate(self.labels):
            support = int(m[i].sum())
            guessed = int(m[: len(self.labels), i].sum())
            hit = int(m[i, i])
            precision = hit / guessed if guessed else 0.0
            out.append((label, precision, hit / support if support else 0.0, support))
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "examples": self.total,
            "accuracy": round(self.accuracy, 4),
            "fold_accuracy": [round(a, 4) for a in self.fold_accuracy],
            "right_rate": round(self.right_rate, 4),
            "fold_right": [round(a, 4) for a in self.fold_right],
            "triage_rate": round(self.triage_rate, 4),
            "routed_accuracy": round(self.routed_accuracy, 4),
            "per_category": {
                label: {"precision": round(p, 4), "recall": round(r, 4), "rows": n}
                for label, p, r, n in self.per_category()
            },
        }


def score(
    truth: Sequence[str],
    guesses: Sequence[tuple[str | None, float]],
    *,
    labels: Sequence[str],
    threshold: float,
    into: Scores | None = None,
) -> Scores:
    """Add (best guess or None, confidence) against the true categories to `into`: accuracy
    counts best guesses; the matrix, triage and routed figures count what routing does."""
    s = into or Scores(list(labels), [[0] * (len(labels) + 1) for _ in labels])
    index = {label: i for i, label in enumerate(s.labels)}
    for true, (guess, confidence) in zip(truth, guesses, strict=True):
        routed = guess is not None and confidence >= threshold and guess in index
        s.confusion[index[true]][index[guess] if routed else len(s.labels)] += 1  # type: ignore[index]
        s.total += 1
        s.correct += guess == true
        if routed:
            s.correct_routed += guess == true
        else:
            s.triaged += 1
    return s


def cross_validate(
    examples: Sequence[Example],
    spec: ClassifierSpec,
    *,
    folds: int = 5,
    seed: int = 0,
    progress: Progress | None = None,
) -> Scores:
    """k-fold cross-validation (stratified by category, shuffled with `seed`): every example
    is classified once by a model that did not see it."""
    from sklearn.model_selection import StratifiedKFold

    labels = sorted({e.category for e in examples})
    y = [e.category for e in examples]
    smallest = min(y.count(label) for label in labels)
    if smallest < folds:
        raise ValueError(
            f"{folds}-fold cross-validation needs at least {folds} examples of each category;"
            f" one has {smallest}"
        )
    s = Scores(labels, [[0] * (len(labels) + 1) for _ in labels])
    splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(y, y)
    for done, (train_idx, test_idx) in enumerate(splits, 1):
        model = fit([examples[i] for i in train_idx], spec)
        test = [examples[i] for i in test_idx]
        guesses = model.predict_many([e.text for e in test])
        before, right = s.correct, s.correct_routed
        truth = [e.category for e in test]
        score(truth, guesses, labels=labels, threshold=spec.model_threshold, into=s)
        s.fold_accuracy.append((s.correct - before) / len(test))
        s.fold_right.append((s.correct_routed - right) / len(test))
        if progress is not None:
            progress(done)
    return s


def measure(
    guess: Callable[[str], tuple[str | None, float]],
    examples: Sequence[Example],
    *,
    threshold: float,
    progress: Progress | None = None,
) -> Scores:
    """Scores of any classifier (a stored model, the keywords) on labelled examples."""
    labels = sorted({e.category for e in examples})
    guesses = []
    for i, e in enumerate(examples):
        guesses.append(guess(e.text))
        if progress is not None:
            progress(i + 1)
    return score([e.category for e in examples], guesses, labels=labels, threshold=threshold)


def model_guess(model: TextModel) -> Callable[[str], tuple[str | None, float]]:
    """A trained model as `measure` wants it."""

    def guess(text: str) -> tuple[str | None, float]:
        p = model.predict(text, explain=0)
        return p.category, p.confidence

    return guess


def keyword_guess(classifier: Classifier) -> Callable[[str], tuple[str | None, float]]:
    """The keyword classifier as `measure` wants it (its best guess and confidence)."""

    def guess(text: str) -> tuple[str | None, float]:
        c = classifier.classify(category=None, text=text)
        return c.best_guess, c.confidence

    return guess


@lru_cache(maxsize=1)
def shipped_model() -> Trained | None:
    """The model shipped for the shipped taxonomy, trained on training/train.csv."""
    if not DEFAULT_MODEL.exists():
        return None
    model = TextModel.from_bytes(DEFAULT_MODEL.read_bytes())
    return Trained(f"default@{model.fingerprint}", model)


def shipped_model_for(categories: Collection[str]) -> Trained | None:
    """The shipped model if it fits the taxonomy (a call center's own taxonomy uses the
    keywords until its first model is trained)."""
    shipped = shipped_model()
    return shipped if shipped and set(shipped.model.classes) <= set(categories) else None


def retrain(
    conn: psycopg.Connection,
    spec: ClassifierSpec,
    *,
    categories: Sequence[str],
    origin: str,
) -> tuple[int, int, int]:
    """Train a new version on the stored file rows (the shipped set when none was trained)
    and every agent's correction; returns (version, file rows, corrections)."""
    stored = model_store.examples(conn)
    rows = [e for e in stored if e.origin != CORRECTION]
    corrections = [e for e in stored if e.origin == CORRECTION and e.category in categories]
    if not rows:
        rows = [e for e in read_labelled(TRAINING_DIR / "train.csv") if e.category in categories]
    model = fit([*rows, *corrections], spec)
    version = model_store.save(
        conn, model, origin=origin, examples=len(rows), corrections=corrections
    )
    return version, len(rows), len(corrections)
