"""Classification of a complaint's category from call-center labels and keywords in Chinese
(simplified and traditional) and English, with a confidence the router can act on."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from services.routing.rulebook import CategorySpec, ClassifierSpec, SubCategorySpec

if TYPE_CHECKING:
    from services.routing.model import TextModel

# Traditional → simplified, one character at a time, for the characters of the shipped terms and
# of common complaint vocabulary (generated from OpenCC's TSCharacters/TWVariants/HKVariants,
# Apache-2.0). Text and terms are both folded, so a term written in simplified matches either
# script. A traditional character missing here only means the term must be listed in both forms.
_HANT_HANS = (
    "專专業业丟丢嚴严個个箇个為为爲为舉举麼么麽么書书亂乱產产産产價价優优會会傳传傷伤"
    "體体脩修債债償偿儲储兒儿關关決决凍冻準准憑凭刪删辦办務务動动醫医昇升陞升協协單单"
    "佔占卽即廳厅發发髮发變变枱台檯台臺台颱台號号閤合衕同後后員员迴回圖图場场壞坏塊块"
    "墰坛壇坛壜坛罈坛罎坛處处備备復复複复頭头婦妇學学審审寬宽導导儘尽盡尽侷局師师帳帐"
    "帶带蓆席廣广應应開开彔录錄录録录徵征徑径逕径態态總总噁恶惡恶戶户釦扣擾扰報报掛挂"
    "損损換换據据攜携斷断無无時时機机權权條条構构標标覈核檢检殘残氣气匯汇彙汇滙汇沒没"
    "洩泄註注測测點点煙烟菸烟煩烦燒烧燙烫熱热貓猫電电監监盜盗著着碼码俬私積积簽签籤签"
    "係系繫系緊紧紅红縴纤纖纤約约級级紙纸綫线線线終终經经結结絡络絕绝絶绝統统續续維维"
    "網网聯联臉脸葯药藥药營营虛虚補补裝装規规視视觸触計计訂订訊讯記记論论訟讼設设証证"
    "證证評评詐诈訴诉話话誤误請请諾诺負负責责賬账貨货質质貼贴貸贷費费資资賠赔車车轉转"
    "軟软過过運运還还違违遲迟遞递踰逾錢钱銀银銷销錯错門门閉闭問问間间聞闻隊队險险隱隐"
    "頂顶預预領领頻频題题額额馬马驛驿罵骂駡骂驗验騙骗騷骚"
)
# 帐 and 账 are both simplified; complaints mean 账 (account, bill) nearly always.
_FOLD = str.maketrans(
    dict(zip(_HANT_HANS[::2], _HANT_HANS[1::2], strict=True)) | {"帳": "账", "帐": "账"}
)
_DOTS = str.maketrans(dict.fromkeys("・•‧∙･", "·"))
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[a-z0-9]")


@lru_cache(maxsize=32)
def fold(text: str) -> str:
    """The form both complaints and terms are compared in: NFKC (full-width → half-width),
    case-folded, traditional → simplified, one space between words."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_FOLD).translate(_DOTS)
    return _SPACE.sub(" ", text).strip()


def _pattern(term: str) -> re.Pattern[str] | None:
    """A regex with word boundaries on the Latin/digit ends of `term`; None for pure CJK terms.

    A regex word boundary would treat Chinese characters as word characters ("打12315" has no
    boundary before the digits), so the boundaries are explicit: no ASCII letter or digit.
    """
    prefix = term.endswith("*")
    body = term.removesuffix("*")
    if not (_WORD.match(body[:1]) or _WORD.match(body[-1:])):
        return None
    pattern = re.escape(body).replace("\\ ", " ")
    if _WORD.match(body[:1]):
        pattern = r"(?<![a-z0-9])" + pattern
    if prefix:
        pattern += r"[a-z0-9]*"
    if _WORD.match(body[-1:]):
        pattern += r"(?![a-z0-9])"
    return re.compile(pattern)


class Terms:
    """A set of keywords and phrases, matched in folded text (see `fold`).

    English (and digit) terms match whole words only, so `sue` does not match "issue" and
    `news` does not match "newsletter"; a trailing `*` matches any ending (`injur*`). Chinese
    terms match anywhere, since Chinese text does not separate words.
    """

    def __init__(self, terms: Iterable[str]) -> None:
        self._terms: list[tuple[str, str, re.Pattern[str] | None]] = []
        for term in terms:
            folded = fold(term)
            if folded:
                self._terms.append((term, folded.removesuffix("*"), _pattern(folded)))

    def __len__(self) -> int:
        return len(self._terms)

    def find(self, folded_text: str) -> list[str]:
        """The terms (as configured) that occur in `folded_text`, in configuration order."""
        return [
            term
            for term, body, pattern in self._terms
            # A match of the pattern holds its body as written: the substring test (fast)
            # rules most terms out before the regex runs.
            if body in folded_text and (pattern is None or pattern.search(folded_text))
        ]


def region_in(region: str | None, codes: Iterable[str]) -> bool:
    """Whether `region` is one of `codes` or inside one: `CN` covers `CN-SH` (not `CNX`)."""
    if not region:
        return False
    region = region.strip().upper()
    return any(region == c.upper() or region.startswith(c.upper() + "-") for c in codes)


@dataclass(frozen=True)
class Classification:
    """The category a complaint is taken to be about, and how sure we are."""

    category: str | None
    """None when nothing was sure enough: the complaint goes to triage."""
    sub_category: str | None
    confidence: float
    method: str
    """`label` (a category name we know), `model`, `keywords`, or `none`."""
    best_guess: str | None
    reasons: tuple[str, ...]
    model_version: str | None = None
    """The trained model that classified it (`v3`, `default@1a2b3c4d`), if one did."""


@dataclass(frozen=True)
class Trained:
    """A trained model as routing uses it: its version and the model."""

    version: str
    model: TextModel


class Classifier:
    """Known labels first (exact, after folding), then weighted keywords over all the text."""

    def __init__(
        self,
        spec: ClassifierSpec,
        categories: Mapping[str, CategorySpec],
        sub_categories: Mapping[str, SubCategorySpec],
    ) -> None:
        self.spec = spec
        self._labels = {fold(label): name for name, c in categories.items() for label in c.labels}
        self._labels.update({fold(name): name for name in categories})
        self._sub_labels = {
            fold(label): name for name, s in sub_categories.items() for label in s.labels
        }
        self._sub_labels.update({fold(name): name for name in sub_categories})
        self._keywords = {name: (Terms(c.keywords), c.keywords) for name, c in categories.items()}
        self.categories = frozenset(categories)
        self.trained: Trained | None = None
        """The trained model in use; None: keywords decide."""

    def known(self, category: str | None) -> str | None:
        """The category name a label stands for, or None if no category has that label."""
        return self._labels.get(fold(category)) if category else None

    def sub_category(self, value: str | None) -> str | None:
        """The sub-category name of a call center's label (a CFPB issue, …), else the label."""
        if not value or not value.strip():
            return None
        folded = fold(value)
        return self._sub_labels.get(folded, folded)

    def classify(
        self,
        *,
        category: str | None,
        sub_category: str | None = None,
        product: str | None = None,
        text: str = "",
    ) -> Classification:
        """The category of a complaint from its label, sub-category, product and free text.

        A label we know wins with confidence 1. Otherwise each category scores the weights of
        its keywords found anywhere in the inputs (each term once), and
        confidence = best / (best + runner-up + prior): it grows with evidence and shrinks when
        two categories compete. Below the threshold the category is None (triage).
        """
        sub = self.sub_category(sub_category)
        name = self.known(category)
        if name is not None:
            why = f"category {category!r} is known as {name!r}"
            return Classification(name, sub, 1.0, "label", name, (why,))
        given = f"category {category!r} is not one we know" if category else "no category given"
        if self.trained is not None and text.strip():
            return self._by_model(self.trained, text, sub, given)
        haystack = fold(" | ".join(filter(None, [category, sub_category, product, text])))
        scored: list[tuple[float, str, list[str]]] = []
        for name, (terms, weights) in self._keywords.items():
            found = terms.find(haystack)
            if found:
                scored.append((sum(weights[t] for t in found), name, found))
        # Highest score first; ties go to the category listed first in rules.yaml (stable sort).
        scored.sort(key=lambda s: -s[0])
        if not scored:
            why = f"{given}; no keyword of any category found: confidence 0"
            return Classification(None, sub, 0.0, "none", None, (why,))
        best, name, found = scored[0]
        runner_up = scored[1][0] if len(scored) > 1 else 0.0
        confidence = round(best / (best + runner_up + self.spec.prior), 3)
        evidence = ", ".join(repr(t) for t in found)
        rival = f" (runner-up {scored[1][1]!r} {runner_up:g})" if len(scored) > 1 else ""
        why = (
            f"{given}; keywords {evidence} point to {name!r} with score {best:g}{rival}: "
            f"confidence {confidence:.2f}"
        )
        if confidence < self.spec.threshold:
            why += f" < threshold {self.spec.threshold:.2f}"
            return Classification(None, sub, confidence, "keywords", name, (why,))
        return Classification(name, sub, confidence, "keywords", name, (why,))

    def _by_model(self, trained: Trained, text: str, sub: str | None, given: str) -> Classification:
        """The trained model's category, and the n-grams that weighed most for it."""
        p = trained.model.predict(text, explain=self.spec.explain_terms)
        confidence = round(p.confidence, 3)
        rival = f" (runner-up {p.runner_up[0]!r} {p.runner_up[1]:.2f})" if p.runner_up else ""
        weighed = ", ".join(f"{term!r} +{w:.2f}" for term, w in p.evidence) or "none"
        why = (
            f"{given}; model {trained.version} says {p.category!r} with confidence"
            f" {confidence:.2f}{rival}; weighed most: {weighed}"
        )
        threshold = self.spec.model_threshold
        known = p.category in self.categories
        if not known:  # a model trained on another taxonomy: never route to a missing category
            why += f"; {p.category!r} is not a category of this taxonomy"
        elif confidence < threshold:
            why += f" < threshold {threshold:.2f}"
        category = p.category if known and confidence >= threshold else None
        return Classification(
            category, sub, confidence, "model", p.category, (why,), model_version=trained.version
        )
