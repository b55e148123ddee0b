"""The trained classifier: what it reads, what it predicts, how it is stored and explained."""

from __future__ import annotations

import io

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from services.routing.classifier import fold
from services.routing.model import ModelParams, TextModel, ngrams

TEXTS = [
    "话费多扣了200元",
    "這個月話費又被多扣",
    "账单上有一笔没开通的增值业务费",
    "I was charged twice on my bill",
    "宽带断网三天了",
    "家裡網路斷線好幾次",
    "no signal at home, calls keep dropping",
    "internet outage since monday",
    "快递显示签收但是没收到包裹",
    "the parcel never arrived",
    "包裹送錯地址了",
    "courier left the package outside",
]
LABELS = ["billing"] * 4 + ["network"] * 4 + ["delivery"] * 4


def test_ngrams_are_scikit_learns_char_wb_of_the_folded_text():
    # Given scikit-learn's own character n-grams within word boundaries
    theirs = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), lowercase=False)
    analyse = theirs.build_analyzer()
    for text in ["ab cd efgh", "a bc", "宽带断网 ok", "ＣＦＰＢ  Billing\tissue", "網路 i"]:
        # Then ours are the same after folding (full-width, case, traditional → simplified)
        assert sorted(ngrams(text)) == sorted(analyse(fold(text)))
    assert "网路" in ngrams("網路")


def test_probabilities_are_those_of_the_fitted_scikit_learn_model():
    # Given the same vectorizer and regression fitted by scikit-learn directly
    p = ModelParams(min_df=1)
    vec = TfidfVectorizer(analyzer=ngrams, min_df=1, sublinear_tf=True)
    lr = LogisticRegression(C=p.c, max_iter=p.max_iter).fit(vec.fit_transform(TEXTS), LABELS)
    ours = TextModel.fit(TEXTS, LABELS, params=p)
    for text in ["话费被多扣", "my internet is down", "包裹丢了 parcel lost", "完全无关的话"]:
        # Then our arrays give the same probabilities, after a round trip through storage too
        expected = lr.predict_proba(vec.transform([text]))[0]
        np.testing.assert_allclose(ours.probabilities(text), expected, atol=1e-9)
        stored = TextModel.from_bytes(ours.to_bytes())
        np.testing.assert_allclose(stored.probabilities(text), expected, atol=1e-5)
    assert ours.classes == ("billing", "delivery", "network")


def test_a_prediction_names_its_runner_up_and_the_sequences_that_weighed_most():
    model = TextModel.fit(TEXTS, LABELS, params=ModelParams(min_df=1))
    p = model.predict("這個月的話費多扣了", explain=3)
    assert p.category == "billing" and p.runner_up is not None and p.runner_up[0] != "billing"
    assert 0 < len(p.evidence) <= 3
    # Every piece of evidence is a sequence of the (folded) text, two characters or more
    for term, weight in p.evidence:
        assert term in fold("這個月的話費多扣了") and len(term) >= 2 and weight > 0
    assert [w for _, w in p.evidence] == sorted((w for _, w in p.evidence), reverse=True)


def test_training_is_deterministic_and_needs_two_categories():
    a = TextModel.fit(TEXTS, LABELS, params=ModelParams(min_df=1))
    b = TextModel.fit(TEXTS, LABELS, params=ModelParams(min_df=1))
    assert a.fingerprint == b.fingerprint
    with pytest.raises(ValueError, match="at least two categories"):
        TextModel.fit(TEXTS[:4], LABELS[:4])


def test_a_stored_model_is_data_and_anything_else_is_refused():
    # Given a blob that would need unpickling (an object array), and one that is not a model
    buf = io.BytesIO()
    np.savez(buf, format=np.array([1]), classes=np.array([{"x": 1}], dtype=object))
    for blob in (buf.getvalue(), b"not a model"):
        # Then it is refused, never unpickled
        with pytest.raises(ValueError, match="not a classifier model"):
            TextModel.from_bytes(blob)
