"""A text classifier learnt from a call center's own labelled complaints: TF-IDF over character
n-grams (Chinese in both scripts and English in one model) and a multinomial logistic
regression. A trained model is plain arrays (no pickled code), so a stored model is data, and
predicting needs numpy only."""

from __future__ import annotations

import hashlib
import io
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from services.routing.classifier import fold

FORMAT = 1
"""Version of the stored arrays; a model of another format is refused, not misread."""
_SPACES = re.compile(r"\s\s+")


@dataclass(frozen=True)
class ModelParams:
    """How a model is trained (stored with it, so a retrain uses the same)."""

    ngram_min: int = 1
    ngram_max: int = 4
    min_df: int = 2
    """An n-gram must occur in this many training texts to count."""
    c: float = 100.0
    """Inverse regularisation of the logistic regression."""
    max_iter: int = 2000

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def ngrams(text: str, low: int = 1, high: int = 4) -> list[str]:
    """The character n-grams of `text` after folding (NFKC, case, traditional → simplified),
    within words padded by a space each side, as scikit-learn's `char_wb` analyzer makes them:
    Chinese, which has no spaces, is one long word."""
    out: list[str] = []
    for word in _SPACES.sub(" ", fold(text)).split():
        w = f" {word} "
        size = len(w)
        for n in range(low, high + 1):
            if n >= size:
                out.append(w)  # a short word counts once, whole
                break
            out += [w[i : i + n] for i in range(size - n + 1)]
    return out


@dataclass(frozen=True)
class Prediction:
    """The model's best category for one text, how sure it is, and why."""

    category: str
    confidence: float
    """The model's probability of `category`."""
    runner_up: tuple[str, float] | None
    evidence: tuple[tuple[str, float], ...]
    """The n-grams that pushed most towards `category`, with their share of the score."""


class TextModel:
    """A trained model: the vocabulary with its idf, and a weight per (category, n-gram)."""

    def __init__(
        self,
        *,
        classes: Sequence[str],
        terms: Sequence[str],
        idf: np.ndarray,
        coef: np.ndarray,
        intercept: np.ndarray,
        params: ModelParams,
    ) -> None:
        self.classes = tuple(classes)
        self.terms = tuple(terms)
        self.index = {t: i for i, t in enumerate(self.terms)}
        # What evidence shows of each n-gram: the sequence without its word-edge padding,
        # and whether it is long enough to say something to a person (two or more).
        self._shown = tuple(t.strip() for t in self.terms)
        self._telling = np.fromiter((len(t) >= 2 for t in self._shown), dtype=bool)
        self.idf = idf.astype(np.float64)
        self.coef = coef.astype(np.float64)
        self.intercept = intercept.astype(np.float64)
        self.params = params
        if self.coef.shape != (len(self.classes), len(self.terms)):
            raise ValueError(f"weights of shape {self.coef.shape} do not fit the vocabulary")

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        weights: Sequence[float] | None = None,
        params: ModelParams | None = None,
    ) -> TextModel:
        """Train on `texts` labelled `labels` (deterministic: the same data gives the same
        model). Needs at least two categories."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        p = params or ModelParams()
        if len(set(labels)) < 2:
            raise ValueError("training needs examples of at least two categories")
        vec = TfidfVectorizer(
            analyzer=lambda t: ngrams(t, p.ngram_min, p.ngram_max),
            min_df=min(p.min_df, max(1, len(texts) // 2)),
            sublinear_tf=True,
            dtype=np.float64,
        )
        x = vec.fit_transform(texts)
        lr = LogisticRegression(C=p.c, max_iter=p.max_iter)
        lr.fit(x, list(labels), sample_weight=None if weights is None else np.asarray(weights))
        terms = vec.get_feature_names_out()
        coef, intercept = lr.coef_, lr.intercept_
        if len(lr.classes_) == 2:  # a binary model keeps one row: make it one per class
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        return cls(
            classes=[str(c) for c in lr.classes_],
            terms=[str(t) for t in terms],
            idf=vec.idf_,
            coef=coef,
            intercept=intercept,
            params=p,
        )

    def _vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(indexes, tf-idf values) of the known n-grams of `text`, L2-normalised."""
        counts = Counter(
            map(self.index.get, ngrams(text, self.params.ngram_min, self.params.ngram_max))
        )
        counts.pop(None, None)  # n-grams not in the vocabulary
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        values = (1.0 + np.log(tf)) * self.idf[idx]
        return idx, values / np.linalg.norm(values)

    def probabilities(self, text: str) -> np.ndarray:
        """The probability of each class (in `classes` order)."""
        idx, values = self._vector(text)
        return _softmax(self.coef[:, idx] @ values + self.intercept)

    def predict(self, text: str, *, explain: int = 5) -> Prediction:
        """The best category of `text` with its probability, the runner-up and the `explain`
        n-grams that weighed most towards it."""
        idx, values = self._vector(text)
        weights = self.coef[:, idx]
        probs = _softmax(weights @ values + self.intercept)
        order = np.argsort(-probs, kind="stable")
        best = int(order[0])
        runner = (self.classes[int(order[1])], float(probs[order[1]])) if len(order) > 1 else None
        # How much each n-gram moved the best class against the average class.
        pull = (weights[best] - weights.mean(axis=0)) * values
        return Prediction(
            self.classes[best], float(probs[best]), runner, self._evidence(idx, pull, explain)
        )

    def _evidence(
        self, idx: np.ndarray, pull: np.ndarray, top: int
    ) -> tuple[tuple[str, float], ...]:
        # A sequence with and without its word-edge padding is one piece of evidence; single
        # characters say little to a person, so the sequences shown have two or more.
        keep = (pull > 0) & self._telling[idx]
        merged: dict[str, float] = {}
        for i, weight in zip(idx[keep].tolist(), pull[keep].tolist(), strict=True):
            term = self._shown[i]
            merged[term] = merged.get(term, 0.0) + weight
        ranked = sorted(merged.items(), key=lambda kv: -kv[1])[:top]
        return tuple((term, round(w, 3)) for term, w in ranked)

    def predict_many(
        self, texts: Sequence[str], *, progress: Callable[[int], None] | None = None
    ) -> list[tuple[str, float]]:
        """(category, probability) of each text."""
        out = []
        for i, text in enumerate(texts):
            probs = self.probabilities(text)
            best = int(np.argmax(probs))
            out.append((self.classes[best], float(probs[best])))
            if progress is not None:
                progress(i + 1)
        return out

    def to_bytes(self) -> bytes:
        """The model as a compressed numpy archive of plain arrays (no pickles)."""
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            format=np.array([FORMAT]),
            classes=np.array(self.classes, dtype=str),
            terms=np.array(self.terms, dtype=str),
            idf=self.idf.astype(np.float32),
            coef=self.coef.astype(np.float32),
            intercept=self.intercept.astype(np.float32),
            params=np.array([self.params.ngram_min, self.params.ngram_max, self.params.min_df]),
            c=np.array([self.params.c]),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> TextModel:
        """A model written by `to_bytes`. Objects are never unpickled, so a tampered blob can
        at worst be refused or classify badly; it cannot run code."""
        try:
            with np.load(io.BytesIO(blob), allow_pickle=False) as z:
                if int(z["format"][0]) != FORMAT:
                    raise ValueError(f"model format {int(z['format'][0])}, expected {FORMAT}")
                low, high, min_df = (int(v) for v in z["params"])
                return cls(
                    classes=[str(c) for c in z["classes"]],
                    terms=[str(t) for t in z["terms"]],
                    idf=z["idf"],
                    coef=z["coef"],
                    intercept=z["intercept"],
                    params=ModelParams(low, high, min_df, float(z["c"][0])),
                )
        except (OSError, KeyError, ValueError, EOFError) as exc:
            raise ValueError(f"not a classifier model: {exc}") from exc

    @property
    def fingerprint(self) -> str:
        """A short digest of the model's content (the shipped default is named by it)."""
        h = hashlib.sha256("\x1f".join((*self.classes, "", *self.terms)).encode())
        for array in (self.idf, self.coef, self.intercept):
            h.update(array.astype(np.float32).tobytes())
        return h.hexdigest()[:8]


def _softmax(scores: np.ndarray) -> np.ndarray:
    e = np.exp(scores - scores.max())
    return e / e.sum()
