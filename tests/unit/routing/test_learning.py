"""Measuring the classifier, and the shipped default model."""

from __future__ import annotations

from services.routing.classifier import Classifier
from services.routing.learning import (
    TRAINING_DIR,
    cross_validate,
    fit,
    keyword_guess,
    measure,
    model_guess,
    read_labelled,
    score,
    shipped_model,
)
from services.routing.model_store import CORRECTION, Example
from services.routing.rulebook import ClassifierSpec
from services.routing.rules import default_router


def test_scores_count_best_guesses_and_route_at_the_threshold():
    truth = ["a", "a", "b", "b", "b"]
    guesses = [("a", 0.9), ("b", 0.2), ("b", 0.8), ("a", 0.7), (None, 0.0)]
    s = score(truth, guesses, labels=["a", "b"], threshold=0.5)
    # Best guesses: a✓ b✗ b✓ a✗ none✗ → 2 of 5
    assert (s.correct, s.total, s.accuracy) == (2, 5, 0.4)
    # Routed at 0.5: a✓, b✓, a✗; triage: the 0.2 guess and the none
    assert (s.triaged, s.correct_routed, round(s.routed_accuracy, 3)) == (2, 2, 0.667)
    assert s.confusion == [[1, 0, 1], [1, 1, 1]]
    # Precision of 'a' = 1 of the 2 routed to a; recall of 'b' = 1 of 3
    assert s.per_category() == [("a", 0.5, 0.5, 2), ("b", 1.0, 1 / 3, 3)]


def test_cross_validation_classifies_every_example_once_with_a_model_that_did_not_see_it():
    rows = read_labelled(TRAINING_DIR / "train.csv")
    some = [e for e in rows if e.category in ("billing", "network", "delivery")][:300]
    folds = []
    s = cross_validate(some, ClassifierSpec(), folds=3, progress=folds.append)
    assert folds == [1, 2, 3] and len(s.fold_accuracy) == 3 and s.total == len(some)
    assert sum(map(sum, s.confusion)) == len(some)


def test_an_agents_correction_weighs_more_than_a_row_of_the_file():
    rows = [Example("话费多扣了", "billing"), Example("宽带断网了", "network")] * 3
    said = "话费和宽带都有问题"
    plain = fit(
        [*rows, Example(said, "network")],
        ClassifierSpec(),
    )
    corrected = fit([*rows, Example(said, "network", CORRECTION)], ClassifierSpec())
    p_plain = dict(zip(plain.classes, plain.probabilities(said), strict=True))["network"]
    p_corr = dict(zip(corrected.classes, corrected.probabilities(said), strict=True))["network"]
    assert p_corr > p_plain


def test_the_shipped_model_is_the_one_train_csv_gives_and_beats_the_keywords_on_held_out_wording():
    # Given the shipped default model and the held-out set of other wordings
    shipped = shipped_model()
    assert shipped is not None
    spec = default_router().config.classifier
    # Then it is exactly what training on the shipped set gives (nothing hand-tuned in it)
    assert (
        fit(read_labelled(TRAINING_DIR / "train.csv"), spec).fingerprint
        == shipped.model.fingerprint
    )
    # And on the held-out wording it is right more often, and triages less, than the keywords
    held = read_labelled(TRAINING_DIR / "heldout.csv")
    ours = measure(model_guess(shipped.model), held, threshold=spec.model_threshold)
    keywords = default_router().classifier
    assert isinstance(keywords, Classifier)
    theirs = measure(keyword_guess(keywords), held, threshold=spec.threshold)
    assert ours.accuracy > theirs.accuracy and ours.triage_rate < theirs.triage_rate
