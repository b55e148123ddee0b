"""Texts that say the same thing in other words: groups by character n-gram similarity, and
the terms that set a group apart (pure; Chinese and English alike, no model to download).

Character n-grams (2 to 4, within word boundaries) of TF-IDF-weighted texts compare Chinese,
which has no spaces, as well as English with its inflections; texts whose cosine similarity
reaches the threshold are linked, and each connected set is a group.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
from scipy.sparse.csgraph import connected_components
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

_LATIN_WORD = re.compile(r"[a-z][a-z0-9'-]+")
_HAN_RUN = re.compile(r"[\u3400-\u9fff]+")
_MASKS = re.compile(r"\[[a-z_ ]+\]|\*+")
"""What intake's redaction leaves in a text (e.g. `[phone]`): no theme is made of those."""
_ZH_STOP = frozenset("的了我是在有不这个们你他她它就也都和与及或被把吗呢吧啊")


_LATIN_TOKEN = re.compile(r"[a-z0-9']+")
_ZH_FILLER = re.compile("[" + "".join(sorted(_ZH_STOP)) + r"\W]")


def _clean(text: str) -> str:
    return _MASKS.sub(" ", text.casefold())


def _content(text: str) -> str:
    """The text without what every complaint says: English stop words, Chinese function
    characters, punctuation (so two texts are alike by their subject, not their grammar)."""
    text = _LATIN_TOKEN.sub(
        lambda m: "" if m.group() in ENGLISH_STOP_WORDS else m.group(), _clean(text)
    )
    return " ".join(_ZH_FILLER.sub(" ", text).split())


def groups(texts: Sequence[str], *, threshold: float) -> list[list[int]]:
    """Indices of `texts` in groups of mutually linked texts (largest first; singletons
    left out). Texts alike once stop words and punctuation are gone are compared once."""
    same: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        if content := _content(text):  # nothing but masks and spaces: no theme
            same.setdefault(content, []).append(i)
    unique = list(same)
    members: dict[int, list[int]] = {}
    for label, content in zip(_labels(unique, threshold), unique, strict=True):
        members.setdefault(label, []).extend(same[content])
    found = [sorted(m) for m in members.values() if len(m) > 1]
    return sorted(found, key=lambda m: (-len(m), m[0]))


def _labels(contents: list[str], threshold: float) -> list[int]:
    """A component label per text (linked texts share one)."""
    if len(contents) < 2:
        return list(range(len(contents)))
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=1)
    try:
        matrix = vec.fit_transform(contents)
    except ValueError:  # nothing but masks and spaces
        return list(range(len(contents)))
    sim = (matrix @ matrix.T).tocsr()
    sim.data = np.where(sim.data >= threshold, 1.0, 0.0)
    sim.eliminate_zeros()
    _, labels = connected_components(sim, directed=False)
    return [int(label) for label in labels]


def terms(text: str) -> set[str]:
    """The words of a text a person would read as terms: English words (no stop words) and
    Chinese character pairs (no function characters)."""
    text = _clean(text)
    out = {w for w in _LATIN_WORD.findall(text) if w not in ENGLISH_STOP_WORDS and len(w) > 2}
    for run in _HAN_RUN.findall(text):
        out |= {
            run[i : i + 2]
            for i in range(len(run) - 1)
            if run[i] not in _ZH_STOP and run[i + 1] not in _ZH_STOP
        }
    return out


def top_terms(
    group: Sequence[str], background: Sequence[str], *, k: int = 5, min_share: float = 0.3
) -> list[str]:
    """The `k` terms most shared within `group` (by at least `min_share` of its texts) and
    rarest in `background` (the other texts of the period): in-group document frequency ×
    smoothed inverse background document frequency. Chinese pairs that run on into each
    other in as many texts are read as one term (流量 + 量上 + 上限 → 流量上限)."""
    inside = Counter(t for text in group for t in terms(text))
    outside = Counter(t for text in background for t in terms(text))
    n = len(background) + 1
    least = max(1, math.ceil(min_share * len(group)))
    scored = {
        term: (count / len(group)) * (math.log(n / (1 + outside[term])) + 1)
        for term, count in inside.items()
        if count >= least
    }
    merged = _runs(scored, inside)
    ranked = sorted(merged, key=lambda t: (-merged[t], t))
    return ranked[:k]


def _runs(scored: dict[str, float], counts: Counter[str]) -> dict[str, float]:
    """Join Chinese pairs that overlap by a character and occur in the same texts as often."""
    out = dict(scored)
    changed = True
    while changed:
        changed = False
        for a in sorted(out):
            for b in sorted(out):
                if a == b or a not in out or b not in out:
                    continue
                han = _HAN_RUN.fullmatch(a) and _HAN_RUN.fullmatch(b)
                if han and a[-1] == b[0] and counts[a[-2:]] == counts[b[:2]]:
                    joined = a + b[1:]
                    counts[joined] = counts[a[-2:]]
                    out[joined] = max(out.pop(a), out.pop(b))
                    changed = True
    return out


def terms_of_each(texts: Sequence[str], *, k: int = 8) -> list[str]:
    """Up to `k` terms taking turns among `texts` (longest first within each), so that each
    wording of a collective complaint is represented."""
    per_text = [sorted(terms(t), key=lambda w: (-len(w), w)) for t in texts]
    out: list[str] = []
    for rank in range(max((len(p) for p in per_text), default=0)):
        for found in per_text:
            if rank < len(found) and found[rank] not in out and len(out) < k:
                out.append(found[rank])
    return out
