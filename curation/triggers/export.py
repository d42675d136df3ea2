"""Exports of `trigger_spans`: a spaCy DocBin (spans in `doc.spans["triggers"]`, for training a span categorizer)
and JSONL. Both are written atomically."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from datasets import Dataset

from curation.core import columns as C
from curation.core.errors import InputError
from curation.core.languages import normalize_language_code
from curation.core.workspace import atomic_write_text

SPAN_KEY = "triggers"


@lru_cache(maxsize=16)
def _tokenizer(language: str):
    import spacy

    try:
        return spacy.blank(language)
    except Exception:  # noqa: BLE001 - no tokenizer for this language code
        return spacy.blank("xx")


def _require_spans(ds: Dataset) -> None:
    if C.TRIGGER_SPANS not in ds.column_names or C.PROMPT not in ds.column_names:
        raise InputError(f"triggers export: the dataset needs '{C.PROMPT}' and '{C.TRIGGER_SPANS}' columns",
                         "run `curate triggers DATASET` first")


def to_docs(ds: Dataset) -> list:
    """One Doc per row (the language's tokenizer), spans in doc.spans["triggers"] (character offsets expanded to
    token boundaries), scores and agents kept in doc.user_data."""
    _require_spans(ds)
    langs = ds[C.LANGUAGE] if C.LANGUAGE in ds.column_names else ["en"] * len(ds)
    ids = ds[C.ID] if C.ID in ds.column_names else [str(i) for i in range(len(ds))]
    docs = []
    for rid, prompt, spans, lang in zip(ids, ds[C.PROMPT], ds[C.TRIGGER_SPANS], langs, strict=True):
        doc = _tokenizer(normalize_language_code(lang)).make_doc(prompt or "")
        group, meta = [], []
        for s in spans or []:
            span = doc.char_span(s["start"], s["end"], label=s["label"], alignment_mode="expand")
            if span is not None and not any(span.start < g.end and g.start < span.end for g in group):
                group.append(span)
                meta.append({"score": s["score"], "agents": list(s["agents"])})
        doc.spans[SPAN_KEY] = group
        doc.user_data["id"] = rid
        doc.user_data["trigger_meta"] = meta
        docs.append(doc)
    return docs


def write_docbin(ds: Dataset, path: Path | str) -> Path:
    """Save the rows as a DocBin file (`.spacy`)."""
    from spacy.tokens import DocBin

    docbin = DocBin(attrs=["ORTH"], store_user_data=True)
    for doc in to_docs(ds):
        docbin.add(doc)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(docbin.to_bytes())
    tmp.replace(path)
    return path


def read_docbin(path: Path | str, language: str = "en") -> list:
    """Docs of a DocBin written by `write_docbin`."""
    from spacy.tokens import DocBin

    return list(DocBin().from_disk(path).get_docs(_tokenizer(language).vocab))


def write_jsonl(ds: Dataset, path: Path | str) -> Path:
    """One JSON object per row: id, prompt, language, trigger_spans, trigger_flags."""
    _require_spans(ds)
    keep = [c for c in (C.ID, C.PROMPT, C.LANGUAGE, C.LABEL, C.TRIGGER_SPANS, "trigger_flags") if c in ds.column_names]
    lines = [json.dumps({k: row[k] for k in keep}, ensure_ascii=False) for row in ds.select_columns(keep)]
    atomic_write_text(Path(path), "\n".join(lines) + ("\n" if lines else ""))
    return Path(path)
