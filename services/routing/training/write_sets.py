"""Writes the shipped labelled sets (train.csv, heldout.csv) from `phrases.py`, the same
every time (seeded), and trains the shipped default model on train.csv:

    python -m services.routing.training.write_sets

Each row is a complaint as a customer might write it: an opening, one or two problems of one
category with amounts, items and durations filled in, a closing; in simplified Chinese,
traditional Chinese (Taiwan wording, converted with OpenCC's s2twp) or English. The held-out
set comes from other wordings, openings and closings than the training set."""

from __future__ import annotations

import csv
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.routing.learning import DEFAULT_MODEL, TRAINING_DIR, fit, read_labelled
from services.routing.rulebook import CONFIG_DIR, load_rules
from services.routing.training.more_phrases import MORE, MORE_CLOSERS, MORE_OPENERS
from services.routing.training.phrases import (
    CLOSERS,
    HELD_CLOSERS,
    HELD_OPENERS,
    HELD_OUT,
    OPENERS,
    SLOTS,
    TRAIN,
)

TRAIN_ROWS, HELD_ROWS = 320, 60
"""Rows per category."""
LANGUAGES = (("zh-Hans", 0.4), ("zh-Hant", 0.25), ("en", 0.35))
_SLOT = re.compile(r"\{(\w+)\}")
JOINS = {
    "zh": ["，而且", "，还有", "。另外", "，同时"],
    "en": [", and ", ". Also ", "; on top of that ", ". And "],
}


def _fill(rng: random.Random, phrase: str, lang: str) -> str:
    return _SLOT.sub(lambda m: rng.choice(SLOTS[lang][m.group(1)]), phrase)


def _text(
    rng: random.Random, phrases: list[str], lang: str, openers: list[str], closers: list[str]
) -> str:
    first = _fill(rng, rng.choice(phrases), lang)
    if len(phrases) > 1 and rng.random() < 0.3:
        second = _fill(rng, rng.choice([p for p in phrases if p != first]), lang)
        first += rng.choice(JOINS[lang]) + second
    opener = rng.choice(openers)
    if lang == "en" and opener and not opener.endswith(": "):
        first = first[0].lower() + first[1:] if opener.endswith(", ") else first
    elif lang == "en" and not opener:
        first = first[0].upper() + first[1:]
    return (opener + first + rng.choice(closers)).strip()


def rows(
    phrasebook: dict[str, dict[str, list[str]]], per_category: int, *, held_out: bool, seed: int
) -> list[dict[str, str]]:
    """`per_category` distinct rows of each category, languages mixed as `LANGUAGES`."""
    import opencc  # a development dependency: the sets are written once and shipped

    to_hant = opencc.OpenCC("s2twp")
    rng = random.Random(seed)
    if held_out:
        openers, closers = HELD_OPENERS, HELD_CLOSERS
    else:
        openers, closers = _merged(OPENERS, MORE_OPENERS), _merged(CLOSERS, MORE_CLOSERS)
    out: list[dict[str, str]] = []
    start = datetime(2025, 1, 6, 9, tzinfo=UTC)
    for category, by_lang in phrasebook.items():
        seen: set[str] = set()
        tries = 0
        while len(seen) < per_category and tries < per_category * 50:
            tries += 1
            language = rng.choices([name for name, _ in LANGUAGES], [w for _, w in LANGUAGES])[0]
            lang = "en" if language == "en" else "zh"
            text = _text(rng, by_lang[lang], lang, openers[lang], closers[lang])
            if language == "zh-Hant":
                text = to_hant.convert(text)
            if text in seen:
                continue
            seen.add(text)
            n = len(out) + 1
            opened = start + timedelta(minutes=37 * n)
            out.append(
                {
                    "id": f"{'H' if held_out else 'T'}{n:05d}",
                    "opened": opened.isoformat(),
                    "text": text,
                    "category": category,
                    "language": language,
                }
            )
    random.Random(seed + 1).shuffle(out)
    return out


def _merged(*parts: dict[str, list[str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in parts:
        for key, values in part.items():
            out[key] = [*out.get(key, []), *values]
    return out


def write(path: Path, data: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["id", "opened", "text", "category", "language"])
        w.writeheader()
        w.writerows(data)


def main() -> None:
    phrasebook = {c: _merged(by_lang, MORE.get(c, {})) for c, by_lang in TRAIN.items()}
    train = rows(phrasebook, TRAIN_ROWS, held_out=False, seed=13)
    known = {r["text"] for r in train}
    held = [r for r in rows(HELD_OUT, HELD_ROWS, held_out=True, seed=31) if r["text"] not in known]
    write(TRAINING_DIR / "train.csv", train)
    write(TRAINING_DIR / "heldout.csv", held)
    spec = load_rules(CONFIG_DIR / "rules.yaml").classifier
    model = fit(read_labelled(TRAINING_DIR / "train.csv"), spec)
    DEFAULT_MODEL.write_bytes(model.to_bytes())
    print(
        f"train.csv {len(train)} rows, heldout.csv {len(held)} rows, model {model.fingerprint}"
        f" ({len(model.terms)} n-grams, {DEFAULT_MODEL.stat().st_size // 1024} KiB)"
    )


if __name__ == "__main__":
    main()
