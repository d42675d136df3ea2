"""Map a raw source onto the normalized prompt schema, with column auto-detection and label mapping."""

from __future__ import annotations

import json
from typing import Any

from datasets import Dataset, Features, Value

from curation.core import columns as C
from curation.core.errors import InputError
from curation.core.hashing import record_id

PROMPT_CANDIDATES = ("prompt", "instruction", "goal", "question", "query", "text", "input", "request", "user_prompt")
RESPONSE_CANDIDATES = ("response", "completion", "output", "answer", "target", "reply")
LABEL_CANDIDATES = ("label", "harmful", "is_harmful", "safety_label", "type")
LANGUAGE_CANDIDATES = ("language", "lang", "locale")
CATEGORY_CANDIDATES = ("category", "categories", "behavior", "topic", "harm_category")

# explicit types, so an all-empty optional column is still a string column (not `null`) and sources concatenate
NORMALIZED_FEATURES = Features({name: Value("int64" if name == C.SOURCE_ROW else "string")
                                for name in C.NORMALIZED_COLUMNS})

LABEL_VALUES = {
    "harmful": {"harmful", "unsafe", "toxic", "1", "true", "yes", "should_refuse", "refuse", "malicious",
                "contrast_harmful"},
    "benign": {"benign", "harmless", "safe", "0", "false", "no", "should_answer", "answer", "contrast_benign"},
    "unknown": {"", "unknown", "none", "null", "nan", "ambiguous"},
}


def _detect(columns: list[str], candidates: tuple[str, ...]) -> str | None:
    lower = {c.lower(): c for c in columns}
    return next((lower[c] for c in candidates if c in lower), None)


def resolve_columns(columns: list[str], mapping: dict[str, str | None], source: str,
                    multi_source: bool = False) -> dict[str, str | None]:
    """Pick the source column for each normalized field: explicit flag, else auto-detection."""
    found = ", ".join(columns)
    resolved: dict[str, str | None] = {}
    defaults = {
        C.PROMPT: PROMPT_CANDIDATES, C.RESPONSE: RESPONSE_CANDIDATES, C.LABEL: LABEL_CANDIDATES,
        C.LANGUAGE: LANGUAGE_CANDIDATES, C.CATEGORY: CATEGORY_CANDIDATES,
    }
    for field, candidates in defaults.items():
        explicit = mapping.get(field)
        if explicit:
            if explicit not in columns:
                per_source = (f"; or set it for this source only: --source-args {source}:{field}_col=COLUMN"
                              if multi_source else "")
                raise InputError(f"{source}: no column '{explicit}' for {field}; columns found: {found}",
                                 f"pass --{field}-col with one of them{per_source}")
            resolved[field] = explicit
        else:
            resolved[field] = _detect(columns, candidates)
    if resolved[C.PROMPT] is None:
        raise InputError(f"{source}: no prompt column found; columns found: {found}",
                         "pass --prompt-col NAME")
    return resolved


def normalize_label(value: Any, source: str) -> str:
    """Map common label spellings to harmful / benign / unknown; anything else is an error."""
    text = "" if value is None else str(value).strip().lower()
    for label, spellings in LABEL_VALUES.items():
        if text in spellings:
            return label
    known = ", ".join(sorted(s for v in LABEL_VALUES.values() for s in v if s))
    raise InputError(f"{source}: unknown label {value!r}", f"use one of: {known}; or pass --label-col ''")


def to_text(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else str(value)


def normalize_source(
    raw: Dataset, source: str, mapping: dict[str, str | None], fixed_label: str | None = None,
    multi_source: bool = False,
) -> Dataset:
    """Return rows in the normalized schema; extra columns go to `meta` as JSON."""
    cols = resolve_columns(list(raw.column_names), mapping, source, multi_source)
    used = {c for c in cols.values() if c}
    extra = [c for c in raw.column_names if c not in used]
    if fixed_label is not None:
        fixed_label = normalize_label(fixed_label, source)

    def convert(batch: dict[str, list[Any]], indices: list[int]) -> dict[str, list[Any]]:
        n = len(indices)
        prompts = [to_text(p) for p in batch[cols[C.PROMPT]]]
        out: dict[str, list[Any]] = {
            C.ID: [record_id(p) for p in prompts],
            C.PROMPT: prompts,
            C.RESPONSE: [to_text(r) or None for r in batch[cols[C.RESPONSE]]] if cols[C.RESPONSE] else [None] * n,
            C.SOURCE: [source] * n,
            C.SOURCE_ROW: list(indices),
            C.LANGUAGE: [to_text(x) or None for x in batch[cols[C.LANGUAGE]]] if cols[C.LANGUAGE] else [None] * n,
            C.CATEGORY: [to_text(x) or None for x in batch[cols[C.CATEGORY]]] if cols[C.CATEGORY] else [None] * n,
        }
        if fixed_label is not None:
            out[C.LABEL] = [fixed_label] * n
        elif cols[C.LABEL]:
            out[C.LABEL] = [normalize_label(v, source) for v in batch[cols[C.LABEL]]]
        else:
            out[C.LABEL] = ["unknown"] * n
        out[C.META] = [
            json.dumps({c: batch[c][i] for c in extra}, default=str, ensure_ascii=False) for i in range(n)
        ]
        return out

    out = raw.map(convert, batched=True, with_indices=True, remove_columns=raw.column_names,
                  desc=f"normalize {source}", features=NORMALIZED_FEATURES)
    return out.select_columns(list(C.NORMALIZED_COLUMNS))
