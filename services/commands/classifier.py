"""`complaintflow classifier`: train the routing classifier on a call center's labelled
history, measure it, retrain it on agents' corrections, list its versions, activate one or
roll back."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from statistics import mean, pstdev

import psycopg
from rich.cells import cell_len
from rich.progress import BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TextColumn

from services.commands.importer import csv_reader
from services.intake.importers import mapping
from services.kernel.db import migrate
from services.routing import learning, model_store
from services.routing.classifier import Classifier
from services.routing.migrations import MIGRATIONS
from services.routing.model import TextModel
from services.routing.model_store import Example
from services.routing.rulebook import CONFIG_DIR, RulesFile, load_rules
from services.routing.settings import RoutingSettings


def taxonomy(s: RoutingSettings) -> tuple[RulesFile, Classifier]:
    """The routing taxonomy the workers use (CF_ROUTING_RULES_PATH, else the shipped one)."""
    rules = load_rules(s.routing_rules_path or CONFIG_DIR / "rules.yaml")
    return rules, Classifier(rules.classifier, rules.categories, rules.sub_categories)


def read_examples(
    path: Path, mapping_path: Path, classifier: Classifier, *, progress: bool
) -> list[Example]:
    """The labelled rows of a CSV export, each label as the taxonomy's category name. Rows
    without text or label are left out; a label the taxonomy does not know is an error that
    lists every such label."""
    rules = mapping.load_labels(mapping_path)
    out: list[Example] = []
    unknown: Counter[str] = Counter()
    empty = 0
    with csv_reader(path) as (reader, counting), _bar(progress) as bar:
        mapping.check_header(rules, list(reader.fieldnames or []))
        task = bar.add_task("reading", total=path.stat().st_size, name=path.name)
        for i, row in enumerate(reader, 1):
            text, label = rules.text(row), rules.label(row)
            category = classifier.known(label)
            if not text or not label:
                empty += 1
            elif category is None:
                unknown[label] += 1
            else:
                out.append(Example(text, category))
            if i % 500 == 0:
                bar.update(task, completed=counting.count)
    if unknown:
        listed = ", ".join(f"{label!r} ({n} rows)" for label, n in unknown.most_common(20))
        raise ValueError(
            f"labels that are not categories of the routing taxonomy: {listed}. Add them to "
            "`categories` (as a category or one of its `labels`) in the rules file"
            " (CF_ROUTING_RULES_PATH), or correct the file"
        )
    if not out:
        raise ValueError(f"no labelled rows (rows without text or label: {empty})")
    return out


@contextmanager
def _bar(progress: bool) -> Iterator[Progress]:
    columns = [TextColumn("{task.description} {task.fields[name]}"), BarColumn(), DownloadColumn()]
    with Progress(*columns, disable=not progress, transient=True) as bar:
        yield bar


@contextmanager
def _steps(progress: bool, what: str, total: int) -> Iterator[Callable[[int], None]]:
    columns = [TextColumn(what), BarColumn(), MofNCompleteColumn()]
    with Progress(*columns, disable=not progress, transient=True) as bar:
        task = bar.add_task(what, total=total)
        yield lambda done: bar.update(task, completed=done)


def _connect(s: RoutingSettings) -> psycopg.Connection:
    conn = psycopg.connect(s.db_url())
    migrate(conn, "routing", MIGRATIONS)  # the routing worker may not have started yet
    return conn


def train(s: RoutingSettings, path: Path, mapping_path: Path, *, progress: bool = True) -> str:
    """Train a new version on the file (and the corrections kept so far) and store it."""
    rules, classifier = taxonomy(s)
    examples = read_examples(path, mapping_path, classifier, progress=progress)
    with _connect(s) as conn:
        corrections = [e for e in model_store.examples(conn) if e.origin == model_store.CORRECTION]
        corrections = [e for e in corrections if e.category in classifier.categories]
        with _steps(progress, "training", 1) as step:
            model = learning.fit([*examples, *corrections], rules.classifier)
            step(1)
        model_store.replace_file_examples(conn, examples)
        version = model_store.save(
            conn,
            model,
            origin=f"train {path.name}",
            examples=len(examples),
            corrections=corrections,
        )
    cats = Counter(e.category for e in examples)
    return (
        f"model v{version}: {len(examples):,} rows in {len(cats)} categories"
        f" + {len(corrections):,} agents' corrections, {len(model.terms):,} character n-grams.\n"
        f"Routing workers use it within {s.routing_model_check_seconds:g} s (no restart)."
    )


def retrain(s: RoutingSettings) -> str:
    """A new version on the rows of the last trained file (or the shipped set) and every
    correction since."""
    rules, classifier = taxonomy(s)
    with _connect(s) as conn, _steps(True, "retraining", 1) as step:
        version, rows, corrections = learning.retrain(
            conn,
            rules.classifier,
            categories=sorted(classifier.categories),
            origin="retrain",
        )
        step(1)
    return f"model v{version}: {rows:,} rows + {corrections:,} agents' corrections."


def activate(s: RoutingSettings, which: str) -> str:
    """Make a stored version (`3`, `v3`) the one routing workers use."""
    return _switch(s, _number(which, what="activate"), "activated")


def rollback(s: RoutingSettings) -> str:
    """Go back to the newest stored version older than the one in use."""
    with _connect(s) as conn:
        current, version = model_store.in_use(conn), model_store.previous(conn)
    return _switch(s, version, f"rolled back from v{current}")


def _switch(s: RoutingSettings, version: int, why: str) -> str:
    categories = taxonomy(s)[1].categories
    with _connect(s) as conn:
        model = model_store.load(conn, version)  # one that does not load is refused
        unknown = sorted(set(model.classes) - categories)
        if unknown:
            raise ValueError(
                f"v{version} knows categories the routing taxonomy lacks ({', '.join(unknown)})"
            )
        model_store.activate(conn, version, why)
    return (
        f"model v{version} in use ({why}). Routing workers use it within"
        f" {s.routing_model_check_seconds:g} s (no restart)."
    )


def list_models(s: RoutingSettings) -> str:
    with _connect(s) as conn:
        infos = model_store.models(conn)
        current = model_store.in_use(conn)
    if not infos:
        shipped = learning.shipped_model_for(taxonomy(s)[1].categories)
        return "No trained model: routing uses " + (
            f"the shipped model {shipped.version}." if shipped else "the keyword lists."
        )
    lines = [f"{'version':<8} {'trained at (UTC)':<20} {'rows':>7} {'corr.':>6}  origin"]
    for m in infos:
        at = m.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        mark = "  ← in use" if m.version == current else ""
        lines.append(
            f"v{m.version:<7} {at:<20} {m.examples:>7,} {m.corrections:>6,}  {m.origin}{mark}"
        )
    return "\n".join(lines)


@dataclass
class Evaluation:
    scores: learning.Scores
    keywords: learning.Scores
    what: str
    threshold: float

    def as_dict(self) -> dict[str, object]:
        return {
            "what": self.what,
            "threshold": self.threshold,
            "model": self.scores.as_dict(),
            "keywords": self.keywords.as_dict(),
        }


def evaluate(
    s: RoutingSettings,
    path: Path,
    mapping_path: Path,
    *,
    folds: int = 5,
    model: str | None = None,
    progress: bool = True,
) -> Evaluation:
    """k-fold cross-validation on the file, or (`model`: a version, `latest`, `default`) how a
    stored model does on it; with the keyword classifier's figures on the same rows."""
    rules, classifier = taxonomy(s)
    examples = read_examples(path, mapping_path, classifier, progress=progress)
    threshold = rules.classifier.model_threshold
    if model is None:
        with _steps(progress, f"{folds}-fold cross-validation", folds) as step:
            scores = learning.cross_validate(examples, rules.classifier, folds=folds, progress=step)
        what = f"{folds}-fold cross-validation on {len(examples):,} rows of {path.name}"
    else:
        name, trained = _stored(s, model)
        with _steps(progress, f"classifying with {name}", len(examples)) as step:
            scores = learning.measure(
                learning.model_guess(trained), examples, threshold=threshold, progress=step
            )
        what = f"model {name} on {len(examples):,} rows of {path.name}"
    keyword = learning.measure(
        learning.keyword_guess(classifier), examples, threshold=rules.classifier.threshold
    )
    return Evaluation(scores, keyword, what, threshold)


def _stored(s: RoutingSettings, which: str) -> tuple[str, TextModel]:
    if which == "default":
        shipped = learning.shipped_model()
        if shipped is None:
            raise ValueError("no shipped default model in this installation")
        return shipped.version, shipped.model
    with _connect(s) as conn:
        version = model_store.in_use(conn) if which == "latest" else _number(which)
        if version is None:
            raise ValueError("no model has been trained yet (complaintflow classifier train)")
        return f"v{version}", model_store.load(conn, version)


def _number(which: str, *, what: str = "--model") -> int:
    try:
        return int(which.removeprefix("v"))
    except ValueError:
        expected = "a version (3 or v3)" + (", latest or default" if what == "--model" else "")
        raise ValueError(f"{what}: expected {expected}, got {which!r}") from None


def render(e: Evaluation) -> str:
    """The figures as a person reads them."""
    s, k = e.scores, e.keywords
    lines = [e.what]
    if s.fold_accuracy:
        each = ", ".join(f"{a:.1%}" for a in s.fold_accuracy)
        lines.append(
            f"accuracy {mean(s.fold_accuracy):.1%} ± {pstdev(s.fold_accuracy):.1%} over"
            f" {len(s.fold_accuracy)} folds ({each})"
        )
    else:
        lines.append(f"accuracy {s.accuracy:.1%} (best guess, threshold ignored)")
    spread = f" ± {pstdev(s.fold_right):.1%}" if s.fold_right else ""
    lines += [
        f"at threshold {e.threshold:.2f}: {s.triage_rate:.1%} to triage, {s.routed_accuracy:.1%}"
        f" of the rest routed to the right category ({s.right_rate:.1%}{spread} of all rows)",
        f"keyword classifier on the same rows: accuracy {k.accuracy:.1%}, {k.triage_rate:.1%} to"
        f" triage, {k.routed_accuracy:.1%} of the rest right",
        "",
        f"routed at threshold {e.threshold:.2f} (recall counts triage as a miss):",
        f"{'category':<28} {'precision':>9} {'recall':>7} {'rows':>6}",
    ]
    for label, precision, recall, support in s.per_category():
        padded = label + " " * max(1, 28 - cell_len(label))  # Chinese takes two cells a character
        lines.append(f"{padded} {precision:>9.1%} {recall:>7.1%} {support:>6,}")
    return "\n".join(lines)
