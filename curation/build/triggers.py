"""`triggers` config: prompts with gold trigger spans (character offsets), token-level BIO tags and a label."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from datasets import Dataset, Features, Sequence, Value
from pydantic import Field

from curation.build.config import SourceConfig
from curation.build.context import BuildContext, Builder, column, require_gold, rows_dataset
from curation.core import columns as C
from curation.core.registry import builders

FEATURES = Features({
    C.ID: Value("string"), C.PROMPT: Value("string"),
    "spans": [{"start": Value("int64"), "end": Value("int64"), "label": Value("string")}],
    "tokens": Sequence(Value("string")), "bio_tags": Sequence(Value("string")),
    C.LABEL: Value("string"), C.LANGUAGE: Value("string"), C.CATEGORY: Value("string"), C.SOURCE: Value("string"),
})


class TriggersBuild(SourceConfig):
    """Options of the `triggers` config."""

    labels: list[str] = Field(default_factory=lambda: ["harmful_cue", "benign_homonym", "target", "context"],
                              description="Span labels kept (others are dropped).")


@lru_cache(maxsize=8)
def _tokenizer(language: str) -> Any:
    import spacy

    try:
        return spacy.blank(language).tokenizer
    except (ImportError, KeyError, ValueError, OSError):
        return spacy.blank("xx").tokenizer


def bio_tags(text: str, spans: list[dict[str, Any]], language: str = "en") -> tuple[list[str], list[str]]:
    """spaCy tokens of `text` and a B-/I-/O tag per token; a token takes the earliest (then longest) span it
    overlaps, so overlapping spans keep the first one."""
    tokens = list(_tokenizer((language or "en").split("-")[0].lower())(text))
    ordered = sorted(spans, key=lambda s: (s["start"], -(s["end"] - s["start"])))
    tags, previous = [], None
    for tok in tokens:
        a, b = tok.idx, tok.idx + len(tok.text)
        hit = next((i for i, s in enumerate(ordered) if s["start"] < b and a < s["end"]), None)
        if hit is None:
            tags.append("O")
        else:
            tags.append(("I-" if hit == previous else "B-") + ordered[hit]["label"])
        previous = hit
    return [t.text for t in tokens], tags


def build_triggers(cfg: TriggersBuild, ctx: BuildContext) -> Dataset:
    """One row per gold record labelled harmful or benign (ambiguous ones are left out)."""
    rows = []
    for name in cfg.from_:
        gold = require_gold(ctx.load(name), name, ["trigger_spans", "harmfulness"], "triggers", cfg.skip_unresolved)
        for row in gold:
            label = row[C.GOLD_PREFIX + "harmfulness"]
            if label not in ("harmful", "benign"):
                continue
            prompt, language = row[C.PROMPT], column(row, C.LANGUAGE, "en")
            spans = sorted(({"start": int(s["start"]), "end": int(s["end"]), "label": s["label"]}
                            for s in row[C.GOLD_PREFIX + "trigger_spans"] or [] if s["label"] in cfg.labels),
                           key=lambda s: (s["start"], s["end"], s["label"]))
            tokens, tags = bio_tags(prompt, spans, language)
            rows.append({C.ID: row[C.ID], C.PROMPT: prompt, "spans": spans, "tokens": tokens, "bio_tags": tags,
                         C.LABEL: label, C.LANGUAGE: language, C.CATEGORY: column(row, C.CATEGORY),
                         C.SOURCE: column(row, C.SOURCE, name)})
    return rows_dataset(rows, FEATURES)


builders.register("triggers.v1", func=Builder(TriggersBuild, build_triggers, C.LABEL))
