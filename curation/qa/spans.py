"""Span agreement: exact and overlap-tolerant (character IoU) F1 between annotators, per label, and the
precision / recall of each heuristic agent's suggested spans against what annotators kept and added."""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import combinations
from typing import Any

from curation.annotate.responses import RecordAnswers, span_answers, span_tuples

Span = tuple[str, int, int]


def iou(a: Span, b: Span) -> float:
    """Character intersection over union of two spans (0 for different labels)."""
    if a[0] != b[0]:
        return 0.0
    inter = max(0, min(a[2], b[2]) - max(a[1], b[1]))
    union = max(a[2], b[2]) - min(a[1], b[1])
    return inter / union if union > 0 else float(a == b)


def count_matches(pred: Sequence[Span], gold: Sequence[Span], threshold: float | None) -> int:
    """One-to-one matches: exact when `threshold` is None, else greedy by IoU >= threshold, same label."""
    if threshold is None:
        return len(set(pred) & set(gold))
    pairs = sorted(((iou(p, g), i, j) for i, p in enumerate(pred) for j, g in enumerate(gold)), reverse=True)
    used_p: set[int] = set()
    used_g: set[int] = set()
    for score, i, j in pairs:
        if score < threshold or score == 0:
            break
        if i not in used_p and j not in used_g:
            used_p.add(i)
            used_g.add(j)
    return len(used_p)


def _f1(matched: int, n_a: int, n_b: int) -> float | None:
    return 2 * matched / (n_a + n_b) if n_a + n_b else None


def pair_f1(pairs: list[tuple[list[Span], list[Span]]], threshold: float | None,
            label: str | None = None) -> dict[str, Any]:
    """Micro F1 over span lists of two annotators on the same records (optionally one label)."""
    matched = n_a = n_b = 0
    for a, b in pairs:
        if label is not None:
            a, b = [s for s in a if s[0] == label], [s for s in b if s[0] == label]
        matched += count_matches(a, b, threshold)
        n_a, n_b = n_a + len(a), n_b + len(b)
    return {"f1": _f1(matched, n_a, n_b), "matched": matched, "spans_a": n_a, "spans_b": n_b}


def span_agreement(records: list[RecordAnswers], question: str, iou_threshold: float = 0.5) -> dict[str, Any]:
    """Pairwise exact / overlap F1 (overall and per label) and per-annotator span counts."""
    per_record = [{a.user: span_tuples(a.value) for a in span_answers(r, question)} for r in records]
    users = sorted({u for item in per_record for u in item})
    labels = sorted({s[0] for item in per_record for spans in item.values() for s in spans})
    pairs_out = {}
    for a, b in combinations(users, 2):
        both = [(item[a], item[b]) for item in per_record if a in item and b in item]
        if not both:
            continue
        pairs_out[f"{a}|{b}"] = {
            "a": a, "b": b, "records": len(both),
            "exact": pair_f1(both, None), "overlap": pair_f1(both, iou_threshold),
            "per_label": {lab: {"exact": pair_f1(both, None, lab)["f1"],
                                "overlap": pair_f1(both, iou_threshold, lab)["f1"]} for lab in labels},
        }

    def mean(key: str) -> float | None:
        vals = [p[key]["f1"] for p in pairs_out.values() if p[key]["f1"] is not None]
        return sum(vals) / len(vals) if vals else None

    per_label = {}
    for lab in labels:
        for mode in ("exact", "overlap"):
            vals = [p["per_label"][lab][mode] for p in pairs_out.values() if p["per_label"][lab][mode] is not None]
            per_label.setdefault(lab, {})[mode] = sum(vals) / len(vals) if vals else None
    annotators = {u: {"records": sum(u in item for item in per_record),
                      "spans": sum(len(item.get(u, [])) for item in per_record)} for u in users}
    return {"records": sum(bool(item) for item in per_record), "annotators": users, "labels": labels,
            "iou_threshold": iou_threshold, "pairs": pairs_out, "mean_exact_f1": mean("exact"),
            "mean_overlap_f1": mean("overlap"), "per_label": per_label, "per_annotator": annotators}


def _agent_names(raw: Any) -> list[str]:
    if isinstance(raw, str):
        raw = [raw]
    return sorted({name.strip() for item in raw or [] for name in str(item).split(",") if name.strip()})


def suggested_spans(record: RecordAnswers, question: str,
                    pipeline_spans: dict[str, Any] | None = None) -> list[tuple[Span, list[str]]]:
    """(span, agents) pairs: per-span agents from the pipeline dataset or the suggestion itself when known,
    else the suggestion's agent string (comma-joined names count as one combined agent)."""
    source = None
    if pipeline_spans is not None and record.record_id in pipeline_spans:
        source = pipeline_spans[record.record_id]
        if isinstance(source, str):
            source = json.loads(source or "[]")
    suggestion = record.suggestions.get(question) or {}
    if source is None:
        source = suggestion.get("value") or []
    fallback = str(suggestion.get("agent") or "unknown").replace(",", "+")
    out = []
    for span in source or []:
        agents = _agent_names(span.get("agents") or span.get("agent")) or [fallback]
        out.append(((str(span["label"]), int(span["start"]), int(span["end"])), agents))
    return out


def suggestion_quality(records: list[RecordAnswers], question: str, iou_threshold: float = 0.5,
                       pipeline_spans: dict[str, Any] | None = None) -> dict[str, Any]:
    """Per agent: precision (share of its spans annotators kept) and recall (share of annotators' spans it found),
    pooled over every annotator's answer; plus the share of human spans no agent suggested (`added`)."""
    stats: dict[str, dict[str, int]] = {}
    human_total = added = 0
    for record in records:
        answers = span_answers(record, question)
        if not answers:
            continue
        suggested = suggested_spans(record, question, pipeline_spans)
        by_agent: dict[str, list[Span]] = {}
        for span, agents in suggested:
            for agent in agents:
                by_agent.setdefault(agent, []).append(span)
        all_suggested = sorted({span for span, _ in suggested})
        for answer in answers:
            human = span_tuples(answer.value)
            human_total += len(human)
            added += len(human) - count_matches(human, all_suggested, iou_threshold)
            for agent, spans in by_agent.items():
                s = stats.setdefault(agent, {"proposed": 0, "accepted": 0, "human": 0, "found": 0})
                matched = count_matches(spans, human, iou_threshold)
                s["proposed"] += len(spans)
                s["accepted"] += matched
                s["human"] += len(human)
                s["found"] += matched
    agents = {}
    for agent, s in sorted(stats.items()):
        p = s["accepted"] / s["proposed"] if s["proposed"] else None
        r = s["found"] / s["human"] if s["human"] else None
        f = 2 * p * r / (p + r) if p and r else (0.0 if p is not None and r is not None else None)
        agents[agent] = {**s, "precision": p, "recall": r, "f1": f}
    return {"agents": agents, "human_spans": human_total, "added_by_humans": added,
            "added_share": added / human_total if human_total else None, "iou_threshold": iou_threshold}
