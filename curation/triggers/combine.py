"""Combine the agents' evidence into one score per span, merge overlapping spans, keep the top k and label them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from curation.triggers.candidates import Candidate, Row

HARMFUL_CUE = "harmful_cue"
BENIGN_HOMONYM = "benign_homonym"
TARGET = "target"
CONTEXT = "context"
SPAN_LABELS = (HARMFUL_CUE, BENIGN_HOMONYM, TARGET, CONTEXT)
DEFAULT_WEIGHTS = {"lexicon.v1": 0.85, "syntactic.v1": 0.45, "probe_occlusion.v1": 0.5, "direction_occlusion.v1": 0.5}
UNKNOWN_AGENT_WEIGHT = 0.5


def span_score(cand: Candidate, weights: Mapping[str, float]) -> float:
    """Noisy-OR of the agents' weighted evidence: any strong agent makes a high score, agreement raises it."""
    miss = 1.0
    for agent, evidence in cand.evidence.items():
        miss *= 1.0 - min(1.0, weights.get(agent, UNKNOWN_AGENT_WEIGHT) * evidence)
    return 1.0 - miss


def reads_harmful(row: Row) -> bool | None:
    """The row's `label` column when it is harmful/benign, else the probe's P(harmful) >= 0.5, else unknown."""
    if row.label in ("harmful", "benign"):
        return row.label == "harmful"
    if row.p_harmful is not None:
        return row.p_harmful >= 0.5
    return None


def is_cue(cand: Candidate, cue_threshold: float) -> bool:
    """A harm cue: a lexicon hit, or a span whose occlusion attribution is high."""
    attributed = max((cand.evidence.get(a, 0.0) for a in cand.attribution), default=0.0)
    return cand.category is not None or attributed >= cue_threshold


def cue_label(cand: Candidate, row: Row) -> str:
    """harmful_cue / benign_homonym of a cue: the row's harmful/benign `label` when given, else the context model's
    reading of this span (cand.harm_p), else the prompt-level reading (unknown counts as harmful)."""
    if row.label in ("harmful", "benign"):
        return HARMFUL_CUE if row.label == "harmful" else BENIGN_HOMONYM
    if cand.harm_p is not None:
        return HARMFUL_CUE if cand.harm_p >= 0.5 else BENIGN_HOMONYM
    return BENIGN_HOMONYM if reads_harmful(row) is False else HARMFUL_CUE


def encloses(outer: Candidate, inner: Candidate) -> bool:
    """A lexicon phrase or phrasal verb that strictly contains a cue: the multi-word expression is the cue."""
    return (outer.start <= inner.start and inner.end <= outer.end and (outer.start, outer.end) != (inner.start,
            inner.end) and (outer.category is not None or outer.role == "phrasal"))


def select_ranked(row: Row, model: Any, top_k: int = 3, context_k: int = 2, min_score: float = 0.05,
                  cue_threshold: float = 0.5) -> list[dict]:
    """The row's `trigger_spans` with the learned ranker: cues (`model.cue_flags`: the prompt-level abstain
    decision, then cue evidence and P(trigger)) first, by P(trigger), then up to `context_k` target/context spans
    kept as data; non-overlapping (a span absorbs the agents of overlapping losers), one span per distinct text;
    score = P(trigger)."""
    cands = list(row.candidates.values())
    for cand, p in zip(cands, model.row_proba(row, cands, cue_threshold), strict=True):
        cand.trigger_p = float(p)
    flags = model.cue_flags(row, cands, [c.trigger_p for c in cands], cue_threshold)
    ranked = sorted(zip(flags, cands, strict=True), key=lambda x: (-x[0], -x[1].trigger_p, x[1].start))
    kept: list[tuple[bool, Candidate, set[str]]] = []
    texts: set[str] = set()
    counts = {True: 0, False: 0}
    for cue, cand in ranked:
        if not cue and cand.trigger_p < min_score:
            continue
        agents = {a for a, e in cand.evidence.items() if e > 0}
        clash = next((k for k in kept if cand.start < k[1].end and k[1].start < cand.end), None)
        if clash is not None:
            if cue and clash[0] and encloses(cand, clash[1]):  # the whole phrase ("pipe bomb", "take out")
                texts.discard(" ".join(clash[1].text.lower().split()))
                texts.add(" ".join(cand.text.lower().split()))
                cand.trigger_p = max(cand.trigger_p, clash[1].trigger_p)
                kept[kept.index(clash)] = (True, cand, clash[2] | agents)
                continue
            clash[2].update(agents)
            continue
        key = " ".join(cand.text.lower().split())
        if key in texts or counts[cue] >= (top_k if cue else context_k):
            continue
        texts.add(key)
        counts[cue] += 1
        kept.append((cue, cand, agents))
    out = []
    for cue, c, agents in kept:
        label = cue_label(c, row) if cue else (TARGET if c.role == TARGET else CONTEXT)
        out.append({"start": c.start, "end": c.end, "text": c.text, "label": label,
                    "score": round(float(c.trigger_p), 4), "agents": sorted(agents)})
    return out


def span_label(cand: Candidate, harmful: bool | None, cue_threshold: float) -> str:
    """harmful_cue / benign_homonym for cues (unknown harmfulness counts as harmful); target / context otherwise."""
    if is_cue(cand, cue_threshold):
        return BENIGN_HOMONYM if harmful is False else HARMFUL_CUE
    return TARGET if cand.role == TARGET else CONTEXT


def select_spans(row: Row, weights: Mapping[str, float], top_k: int = 3, min_score: float = 0.05,
                 cue_threshold: float = 0.5) -> list[dict]:
    """The row's `trigger_spans`: best first, non-overlapping; a span absorbs the agents of overlapping losers."""
    scored = sorted(((span_score(c, weights), c) for c in row.candidates.values()),
                    key=lambda sc: (-sc[0], -(sc[1].category is not None), sc[1].start))
    kept: list[tuple[float, Candidate, set[str]]] = []
    for score, cand in scored:
        if score < min_score:
            break
        agents = {a for a, e in cand.evidence.items() if e > 0}
        clash = next((k for k in kept if cand.start < k[1].end and k[1].start < cand.end), None)
        if clash is not None:
            clash[2].update(agents)
            continue
        kept.append((score, cand, agents))
    harmful = reads_harmful(row)
    return [{"start": c.start, "end": c.end, "text": c.text, "label": span_label(c, harmful, cue_threshold),
             "score": round(float(s), 4), "agents": sorted(agents)} for s, c, agents in kept[:top_k]]
