"""Grow a sense inventory with the local chat model: for each (entry, sense) ask for one more request like the
hand-written ones, then keep it only if it passes the same filters as a rewrite (keeps the entry's lemma, a request,
not a meta-question, no other harm cue, benign with margin by the harm model, not a near-copy of an existing request).
Kept requests are written, marked `[like this]`, as a proposal file in the inventory format for a person to merge."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from curation.deharm import filters as F
from curation.deharm.senses import Entry, Inventory, Sense, load_inventory, unmark

GROW_INSTRUCTION = ("Here are questions people really ask that use the word '{word}' in the sense '{gloss}':\n"
                    "{examples}\nWrite one new question of the same kind about a different topic. It must use the "
                    "word '{word}'. Reply with the question only.")


@dataclass
class GrowReport:
    """Proposals asked for, kept, and dropped per filter."""

    asked: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    examples: list[dict[str, str]] = field(default_factory=list)  # raw outputs and their verdicts (first 20)

    def drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1


def _mark(text: str, lemma: str, doc: Any) -> str | None:
    """`text` with the first token (or token run, for multi-word entries) lemmatizing to `lemma` marked [like this]."""
    words = lemma.casefold().split()
    tokens = list(doc)
    for i in range(len(tokens) - len(words) + 1):
        run = tokens[i:i + len(words)]
        if [(t.lemma_ or t.text).casefold() for t in run] == words or \
                [t.text.casefold() for t in run] == words:
            start, end = run[0].idx, run[-1].idx + len(run[-1].text)
            return f"{text[:start]}[{text[start:end]}]{text[end:]}"
    return None


def check_proposal(text: str, lemma: str, language: str, existing: list[str]) -> tuple[str | None, str | None]:
    """(marked request, None) when `text` passes the text filters, else (None, the first filter it fails)."""
    from curation.deharm.stage import clean_rewrite

    lines = [clean_rewrite(line) for line in (text or "").splitlines() if line.strip()]
    stem = lemma.casefold()[:max(3, len(lemma) - 1)]
    text = next((line for line in lines if stem in line.casefold()), lines[0] if lines else "")  # skip "Sure!" lines
    doc = F.parse([text], language)[0]
    marked = _mark(text, lemma, doc)
    if marked is None:
        return None, "lost_trigger"
    if not F.is_request(text, language):
        return None, "not_a_request"
    if F.is_meta(text, language):
        return None, "meta_question"
    if not F.reads_grammatical(doc, language):
        return None, "ungrammatical"
    _, start, end = unmark(marked)
    if F.other_cues(doc, start, end, language):
        return None, "other_harm_cue"
    if any(F.word_overlap(text, e) > 0.7 or not F.differs(text, e) for e in existing):
        return None, "near_copy_of_existing"
    return marked, None


def grow(language: str, model: str = "smollm2", probe_path: str | None = None, entries: list[str] | None = None,
         max_p_harmful: float = 0.35, device: str = "cpu", batch_size: int = 8,
         max_new_tokens: int = 40) -> tuple[Inventory, GrowReport]:
    """One model proposal per (entry, sense) of the language's inventory (or `entries`), filtered; returns the kept
    proposals as an Inventory (same format, for review and merge) and the per-filter counts."""
    from curation.deharm.stage import harmfulness
    from curation.models.lm import generate, load_lm

    inv = load_inventory(language)
    jobs = [(lemma, entry, sense) for lemma, entry in inv.entries.items() if not entries or lemma in entries
            for sense in entry.senses]
    report = GrowReport(asked=len(jobs))
    if not jobs:
        return Inventory(language=language, entries={}), report
    queries = [GROW_INSTRUCTION.format(word=lemma, gloss=sense.gloss, examples="\n".join(
        f"- {unmark(r)[0]}" for r in sense.requests[:3])) for lemma, _, sense in jobs]
    outputs = generate(load_lm(model, device), queries, max_new_tokens=max_new_tokens, batch_size=batch_size)
    passed: list[tuple[str, Entry, Sense, str]] = []
    for (lemma, entry, sense), output in zip(jobs, outputs, strict=True):
        existing = [unmark(r)[0] for s in entry.senses for r in s.requests] + [unmark(p[3])[0] for p in passed]
        marked, reason = check_proposal(output, lemma, language, existing)
        if len(report.examples) < 20:
            report.examples.append({"entry": lemma, "sense": sense.gloss, "output": output, "verdict": reason or "ok"})
        if reason:
            report.drop(reason)
        else:
            passed.append((lemma, entry, sense, marked or ""))
    scores = harmfulness([unmark(p[3])[0] for p in passed], probe_path)
    kept: dict[str, dict[tuple[str, str], list[str]]] = {}
    for (lemma, _, sense, marked), p in zip(passed, scores, strict=True):
        if p is None or p > max_p_harmful:  # unscored proposals are not kept either
            report.drop("harmful_score" if p is not None else "unscored")
            continue
        report.kept += 1
        kept.setdefault(lemma, {}).setdefault((sense.kind, sense.gloss), []).append(marked)
    out = {lemma: Entry(pos=inv.entries[lemma].pos, senses=[Sense(kind=kind, gloss=gloss, requests=requests)
                                                           for (kind, gloss), requests in by_sense.items()])
           for lemma, by_sense in kept.items()}
    return Inventory(language=language, entries=out), report


def write_proposals(inv: Inventory, path: Path) -> Path:
    """The kept proposals as YAML in the inventory format (validated by the same model on load)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text("# Chat-model proposals for the sense inventory (filtered); review, then merge by hand.\n"
                   + yaml.safe_dump(inv.model_dump(), sort_keys=False, allow_unicode=True, width=200),
                   encoding="utf-8")
    tmp.replace(path)
    return path
