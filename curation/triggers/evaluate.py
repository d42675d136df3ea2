"""Quality of trigger proposals against prompts with a gold trigger word: hit@k (the gold word lies inside one of
the top-k spans), for the stage and simple baselines; prompts with gold `null` (no cue) measure abstention.

Sets: `trigger_eval.jsonl` holds the v1 rows (`set: v1`, written with the lexicon) and the v2 dev rows
(`set: v2, split: dev`); `trigger_eval_test.jsonl` is the frozen v2 test split (sha256 in docs/triggers.md)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from curation.core.errors import InputError

EVAL_DIR = Path(__file__).resolve().parent.parent / "data" / "eval"
EVAL_SET = EVAL_DIR / "trigger_eval.jsonl"
TEST_SET = EVAL_DIR / "trigger_eval_test.jsonl"
SPLITS = ("v1", "dev", "test", "all")
CUE_LABELS = ("harmful_cue", "benign_homonym")
Spans = list[tuple[int, int]]


def split_of(item: dict) -> str:
    """'v1' for the original rows, else the v2 row's split ('dev' / 'test')."""
    return "v1" if item.get("set", "v1") == "v1" else str(item.get("split", "dev"))


def load_split(split: str = "all") -> list[dict]:
    """The eval items of one split ('v1', 'dev', 'test') or all of them."""
    if split not in SPLITS:
        raise InputError(f"unknown eval split {split!r}", f"use one of {', '.join(SPLITS)}")
    items = read_eval_items(EVAL_SET) + read_eval_items(TEST_SET)
    return items if split == "all" else [i for i in items if split_of(i) == split]


def read_eval_items(path: Path | str = EVAL_SET) -> list[dict]:
    """Items {prompt, gold, harmful, kind[, lang, set, split]}; a gold word must occur in its prompt (gold null: the
    prompt has no cue)."""
    items = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        item = json.loads(line)
        if item.get("gold") is not None and gold_span(item["prompt"], item["gold"]) is None:
            raise InputError(f"{path}, line {number}: gold word {item['gold']!r} is not in the prompt",
                             "fix the gold word or the prompt")
        items.append(item)
    return items


def gold_span(prompt: str, gold: str) -> tuple[int, int] | None:
    """Character span of the first whole-word, case-insensitive occurrence of `gold`."""
    found = re.search(r"(?<!\w)" + re.escape(gold) + r"(?!\w)", prompt, re.IGNORECASE)
    return found.span() if found else None


def hit_at(predicted: Sequence[Spans], items: Sequence[dict], k: int) -> float:
    """Share of items with a gold word whose gold lies inside one of the first k predicted spans."""
    hits = total = 0
    for spans, item in zip(predicted, items, strict=True):
        if item.get("gold") is None:
            continue
        g0, g1 = gold_span(item["prompt"], item["gold"])
        total += 1
        hits += any(a <= g0 and g1 <= b for a, b in spans[:k])
    return hits / max(1, total)


def first_noun_baseline(nlp) -> Callable[[list[str]], list[Spans]]:
    """Baseline: the first nouns of the prompt (then other content words), in order."""
    def predict(prompts: list[str]) -> list[Spans]:
        out = []
        for doc in nlp.pipe(prompts):
            nouns = [(t.idx, t.idx + len(t)) for t in doc if t.pos_ in ("NOUN", "PROPN")]
            rest = [(t.idx, t.idx + len(t)) for t in doc if t.pos_ in ("VERB", "ADJ") and not t.is_stop]
            out.append(nouns + rest)
        return out
    return predict


def report(name: str, predicted: Sequence[Spans], items: Sequence[dict]) -> dict:
    """hit@1 and hit@3 overall and on the benign / harmful halves."""
    def part(sel: list[int]) -> tuple[float, float]:
        p, it = [predicted[i] for i in sel], [items[i] for i in sel]
        return hit_at(p, it, 1), hit_at(p, it, 3)

    everyone = list(range(len(items)))
    benign = [i for i in everyone if not items[i]["harmful"]]
    harmful = [i for i in everyone if items[i]["harmful"]]
    (h1, h3), (b1, b3), (x1, x3) = part(everyone), part(benign), part(harmful)
    kinds = {}
    for kind in sorted({str(i.get("kind")) for i in items}):
        sel = [i for i in everyone if str(items[i].get("kind")) == kind and items[i].get("gold") is not None]
        if sel:
            kinds[kind] = (len(sel), *part(sel))
    return {"method": name, "n": sum(i.get("gold") is not None for i in items), "hit@1": h1, "hit@3": h3,
            "benign hit@1": b1, "benign hit@3": b3, "harmful hit@1": x1, "harmful hit@3": x3, "kinds": kinds}


def cue_share(spans: Sequence[list[dict]]) -> float:
    """Share of prompts given at least one cue span (harmful_cue / benign_homonym): on prompts without a cue this
    is the abstention failure rate."""
    return sum(any(s["label"] in CUE_LABELS for s in row) for row in spans) / max(1, len(spans))


def top_label_agreement(spans: Sequence[list[dict]], items: Sequence[dict]) -> tuple[float, int]:
    """(share, n) of prompts whose top cue span's label agrees with the prompt's safe/unsafe (harmful_cue on unsafe,
    benign_homonym on safe), over the prompts given a cue span."""
    right = total = 0
    for row, item in zip(spans, items, strict=True):
        top = next((s for s in row if s["label"] in CUE_LABELS), None)
        if top is None or item.get("gold") is None:
            continue
        total += 1
        right += top["label"] == ("harmful_cue" if item["harmful"] else "benign_homonym")
    return right / max(1, total), total


def label_accuracy(spans: Sequence[list[dict]], items: Sequence[dict]) -> float:
    """Share of items whose top span containing the gold word has the right cue label
    (harmful_cue on harmful prompts, benign_homonym on benign ones)."""
    right = total = 0
    for row, item in zip(spans, items, strict=True):
        if item.get("gold") is None:
            continue
        g0, g1 = gold_span(item["prompt"], item["gold"])
        match = next((s for s in row if s["start"] <= g0 and g1 <= s["end"]), None)
        if match is None:
            continue
        total += 1
        right += match["label"] == ("harmful_cue" if item["harmful"] else "benign_homonym")
    return right / max(1, total)
