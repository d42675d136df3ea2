"""Quality of trigger proposals against prompts with a gold trigger word: hit@k (the gold word lies inside one of
the top-k spans), for the stage and simple baselines."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import InputError

EVAL_SET = Path(__file__).resolve().parent.parent / "data" / "eval" / "trigger_eval.jsonl"
Spans = list[tuple[int, int]]


def load_eval_set(path: Path | str = EVAL_SET) -> list[dict]:
    """Items {prompt, gold, harmful, kind}; every gold word must occur in its prompt."""
    items = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        item = json.loads(line)
        if gold_span(item["prompt"], item["gold"]) is None:
            raise InputError(f"{path}, line {number}: gold word {item['gold']!r} is not in the prompt",
                             "fix the gold word or the prompt")
        items.append(item)
    return items


def gold_span(prompt: str, gold: str) -> tuple[int, int] | None:
    """Character span of the first whole-word, case-insensitive occurrence of `gold`."""
    found = re.search(r"(?<!\w)" + re.escape(gold) + r"(?!\w)", prompt, re.IGNORECASE)
    return found.span() if found else None


def hit_at(predicted: Sequence[Spans], items: Sequence[dict], k: int) -> float:
    """Share of items whose gold word lies inside one of the first k predicted spans."""
    hits = 0
    for spans, item in zip(predicted, items, strict=True):
        g0, g1 = gold_span(item["prompt"], item["gold"])
        hits += any(a <= g0 and g1 <= b for a, b in spans[:k])
    return hits / max(1, len(items))


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
    return {"method": name, "n": len(items), "hit@1": h1, "hit@3": h3, "benign hit@1": b1, "benign hit@3": b3,
            "harmful hit@1": x1, "harmful hit@3": x3}


def label_accuracy(spans: Sequence[list[dict]], items: Sequence[dict]) -> float:
    """Share of items whose top span containing the gold word has the right cue label
    (harmful_cue on harmful prompts, benign_homonym on benign ones)."""
    right = total = 0
    for row, item in zip(spans, items, strict=True):
        g0, g1 = gold_span(item["prompt"], item["gold"])
        match = next((s for s in row if s["start"] <= g0 and g1 <= s["end"]), None)
        if match is None:
            continue
        total += 1
        right += match["label"] == ("harmful_cue" if item["harmful"] else "benign_homonym")
    return right / max(1, total)
