"""Active-learning loop over an Argilla trigger_spans dataset: refit the harmfulness probe on confirmed
annotations + the built-in contrast set, re-weight the trigger proposers by their measured precision, and rescore
the records nobody has answered yet (metadata p_refuse / boundary_score / uncertainty and suggestions), so
annotators can sort by `uncertainty` and see the most uncertain first."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from datasets import Dataset
from pydantic import BaseModel, ConfigDict, Field

from curation.core import columns as C
from curation.core.errors import InputError
from curation.core.report import StageReport
from curation.models.probe import boundary_offset, contrast_prompts, margin_to_proba

UNCERTAINTY = "uncertainty"
HARMFULNESS = "harmfulness"
SPANS = C.TRIGGER_SPANS
LOOP_AGENT = "loop"


class LoopConfig(BaseModel):
    """Options of `curate loop`."""

    model_config = ConfigDict(extra="forbid")

    probe: str = Field("default", description="Probe name refit and saved in the workspace.")
    use_contrast: bool = Field(True, description="Add the built-in contrast set to the confirmed annotations.")
    confirmed_weight: int = Field(3, ge=1, description="Times each confirmed annotation counts in the refit.")
    prior_strength: float = Field(2.0, ge=0, description="Pseudo-spans pulling a new weight toward the old one.")
    keep_threshold: float = Field(0.5, ge=0, le=1, description="Re-weighted span score a suggestion must reach.")
    iou_threshold: float = Field(0.5, gt=0, le=1)
    embedding_model: str = "all-MiniLM-L6-v2"
    device: str = "cpu"
    batch_size: int = Field(200, ge=1, le=500)
    refit_spans: bool = Field(True, description="Refit the trigger span model on annotators' spans (+ the eval dev "
                                                "set) into the workspace.")


@dataclass
class LoopReport(StageReport):
    """What one round did: data used, probe quality, proposer weights and precision, records rescored."""

    confirmed: int = 0
    confirmed_harmful: int = 0
    pending: int = 0
    hard_negatives: int = 0
    rescored: int = 0
    blend_refreshed: bool = False  # the contextual model's cross-lingual blend was refit for the new head
    probe_auroc_before: float | None = None
    probe_auroc_after: float | None = None
    proposers: dict[str, dict[str, Any]] = field(default_factory=dict)
    precision_before: float | None = None
    precision_after: float | None = None
    weights_path: str | None = None
    probe_path: str | None = None
    span_model_path: str | None = None
    span_examples: int = 0


# inputs -----------------------------------------------------------------------------------------------------------
def confirmed_labels(snapshot: Dataset, gold: Dataset | None = None) -> dict[str, tuple[str, bool]]:
    """record id -> (prompt, harmful?) from gold `harmfulness`, else the strict majority of submitted answers
    (ambiguous answers and ties are not confirmations)."""
    from curation.annotate.responses import parse_record

    out: dict[str, tuple[str, bool]] = {}
    for row in snapshot:
        answers = [str(a.value) for a in parse_record(row).answers.get(HARMFULNESS, [])]
        if not answers:
            continue
        top, votes = Counter(answers).most_common(1)[0]
        if top in ("harmful", "benign") and 2 * votes > len(answers):
            out[row[C.ID]] = (row[C.PROMPT], top == "harmful")
    if gold is not None and C.GOLD_PREFIX + HARMFULNESS in gold.column_names:
        for rid, prompt, label in zip(gold[C.ID], gold[C.PROMPT], gold[C.GOLD_PREFIX + HARMFULNESS], strict=True):
            if label in ("harmful", "benign"):
                out[rid] = (prompt, label == "harmful")
    return out


def hard_negatives(snapshot: Dataset) -> list[str]:
    """Confirmed benign uses of harm words, for the refit: prompts with a submitted `benign_homonym` span (not
    confirmed harmful), prompts a strict majority answered `should_refuse: no`, and annotators' de-harmed
    rewrites (`deharmed_rewrite`, which keep the trigger words by instruction)."""
    from curation.annotate.responses import parse_record, span_answers, span_tuples

    out: list[str] = []
    for row in snapshot:
        record = parse_record(row)
        harm = [str(a.value) for a in record.answers.get(HARMFULNESS, [])]
        harmful_majority = 2 * harm.count("harmful") > len(harm) > 0
        refuse = [str(a.value) for a in record.answers.get("should_refuse", [])]
        homonym = any(label == "benign_homonym" for a in span_answers(record, SPANS) for label, _, _ in
                      span_tuples(a.value))
        if not harmful_majority and (homonym or (refuse and 2 * refuse.count("no") > len(refuse))):
            out.append(row[C.PROMPT])
        out += [str(a.value).strip() for a in record.answers.get("deharmed_rewrite", []) if str(a.value).strip()]
    return list(dict.fromkeys(p for p in out if p))


def unanswered_records(snapshot: Dataset) -> list[int]:
    """Rows of the snapshot with no submitted response yet."""
    return [i for i, responses in enumerate(snapshot[C.ANNOTATIONS])
            if not any(r.get("status") == "submitted" for r in responses or [])]


# probe ------------------------------------------------------------------------------------------------------------
def refit_probe(confirmed: dict[str, tuple[str, bool]], cfg: LoopConfig, encoder: Any, cache: Any = None,
                hard_negs: list[str] | None = None, old_probe: Any = None) -> Any:
    """A probe fit on the confirmed annotations (weighted) and the hard negatives plus, unless disabled, the
    built-in contrast set. A contextual harm model (`probe fit --preset contextual`) keeps its fine-tuned encoder
    and refits its ordinal head on its training data plus the same annotations."""
    hard_negs = [p for p in hard_negs or [] if p not in {q for q, _ in confirmed.values()}]
    if old_probe is not None and old_probe.meta.get("preset") == "contextual":
        from curation.models.harm.data import lexicon_hits, load_train

        rows = [{**r, "weight": 1.0} for r in load_train()] if cfg.use_contrast else []
        for prompt, is_harmful in confirmed.values():
            kind = "unsafe" if is_harmful else ("scary_safe" if lexicon_hits(prompt, "en") else "plain")
            rows.append({"prompt": prompt, "kind": kind, "weight": float(cfg.confirmed_weight)})
        rows += [{"prompt": p, "kind": "scary_safe", "weight": float(cfg.confirmed_weight)} for p in hard_negs]
        from curation.models.harm.model import refit_head

        probe = refit_head(old_probe, rows, cache)
    else:
        from curation.models.probe import fit_probe

        harmful, harmless = contrast_prompts() if cfg.use_contrast else ([], [])
        for prompt, is_harmful in confirmed.values():
            (harmful if is_harmful else harmless).extend([prompt] * cfg.confirmed_weight)
        harmless += [p for p in hard_negs for _ in range(cfg.confirmed_weight)]
        probe = fit_probe(harmful, harmless, encoder, cache)
    probe.meta.update({"loop_confirmed": len(confirmed), "loop_hard_negatives": len(hard_negs),
                       "contrast": cfg.use_contrast})
    return probe


def auroc(probe: Any, confirmed: dict[str, tuple[str, bool]], encoder: Any, cache: Any = None) -> float | None:
    """AUROC of a probe on the confirmed annotations (None when they hold one class only)."""
    from sklearn.metrics import roc_auc_score

    if probe is None or not confirmed:
        return None
    prompts, labels = zip(*confirmed.values(), strict=True)
    if len(set(labels)) < 2:
        return None
    return float(roc_auc_score(list(labels), probe.score_texts(list(prompts), encoder, cache)))


def uncertainty(p_refuse: np.ndarray) -> np.ndarray:
    """1 at P = 0.5, 0 at P = 0 or 1."""
    return 1.0 - np.abs(2.0 * np.asarray(p_refuse, dtype=np.float64) - 1.0)


# proposer precision and weights -----------------------------------------------------------------------------------
def suggestion_spans(snapshot: Dataset, pipeline: Dataset | None = None) -> dict[str, list[dict[str, Any]]]:
    """record id -> suggested spans with per-span `agents`: from the pipeline dataset when given, else from the
    Argilla suggestion (each span credited to every agent of the suggestion)."""
    from curation.qa.stage import pipeline_spans

    if pipeline is not None and C.TRIGGER_SPANS in pipeline.column_names:
        return {k: list(v or []) for k, v in pipeline_spans(pipeline).items()}
    out = {}
    for rid, raw in zip(snapshot[C.ID], snapshot[C.SUGGESTIONS], strict=True):
        suggestion = (json.loads(raw) if raw else {}).get(SPANS) or {}
        agents = [a.strip() for a in str(suggestion.get("agent") or "").split(",") if a.strip()]
        out[rid] = [{**s, "agents": agents} for s in suggestion.get("value") or []]
    return out


def reweighted_score(agents: list[str], weights: dict[str, float]) -> float:
    """Noisy-OR of the agents' weights: the span score the combine step would give full evidence."""
    from curation.triggers.combine import UNKNOWN_AGENT_WEIGHT

    miss = 1.0
    for agent in agents:
        miss *= 1.0 - min(1.0, max(0.0, weights.get(agent, UNKNOWN_AGENT_WEIGHT)))
    return 1.0 - miss


def measure_precision(snapshot: Dataset, spans: dict[str, list[dict[str, Any]]], weights: dict[str, float] | None,
                      cfg: LoopConfig) -> dict[str, Any]:
    """Per agent and overall: suggested spans annotators kept (IoU >= threshold, same label) / suggested; with
    `weights`, only spans whose re-weighted score reaches `keep_threshold` count as suggested."""
    from curation.annotate.responses import parse_record, span_tuples
    from curation.qa.spans import count_matches

    per_agent: dict[str, list[int]] = {}
    total = [0, 0]
    for row in snapshot:
        answers = parse_record(row).answers.get(SPANS, [])
        suggested = spans.get(row[C.ID]) or []
        if not answers or not suggested:
            continue
        kept = [s for s in suggested if weights is None
                or reweighted_score(list(s.get("agents") or []), weights) >= cfg.keep_threshold]
        for answer in answers:
            human = span_tuples(answer.value)
            tuples = [(str(s["label"]), int(s["start"]), int(s["end"])) for s in kept]
            total[0] += len(tuples)
            total[1] += count_matches(tuples, human, cfg.iou_threshold)
            for s, t in zip(kept, tuples, strict=True):
                for agent in s.get("agents") or ["unknown"]:
                    stats = per_agent.setdefault(agent, [0, 0])
                    stats[0] += 1
                    stats[1] += count_matches([t], human, cfg.iou_threshold)
    return {"overall": total[1] / total[0] if total[0] else None, "suggested": total[0],
            "agents": {a: {"proposed": p, "accepted": k, "precision": k / p if p else None}
                       for a, (p, k) in sorted(per_agent.items())}}


def new_weights(before: dict[str, Any], old: dict[str, float], cfg: LoopConfig) -> dict[str, float]:
    """Each agent's weight moved to its smoothed precision: (accepted + k * old) / (proposed + k)."""
    from curation.triggers.combine import UNKNOWN_AGENT_WEIGHT

    weights = dict(old)
    for agent, stats in before["agents"].items():
        prior = old.get(agent, UNKNOWN_AGENT_WEIGHT)
        k = cfg.prior_strength
        weights[agent] = round((stats["accepted"] + k * prior) / (stats["proposed"] + k), 4)
    return weights


def weights_path(workspace_root: Path) -> Path:
    return Path(workspace_root) / "artifacts" / "loop" / "proposer_weights.json"


def load_weights(workspace_root: Path) -> dict[str, float]:
    """The proposer weights of the last loop round, else the triggers stage defaults."""
    from curation.triggers.combine import DEFAULT_WEIGHTS

    path = weights_path(workspace_root)
    return {**DEFAULT_WEIGHTS, **json.loads(path.read_text())} if path.exists() else dict(DEFAULT_WEIGHTS)


# span model -------------------------------------------------------------------------------------------------------
def annotated_span_examples(snapshot: Dataset, weight: float = 1.0) -> list[dict[str, Any]]:
    """One labelled-span example per submitted span answer: {prompt, spans: [(start, end, label)], weight}; an
    answer without spans says the prompt has no trigger."""
    from curation.annotate.responses import parse_record, span_answers, span_tuples

    out = []
    for row in snapshot:
        for answer in span_answers(parse_record(row), SPANS):
            out.append({"prompt": row[C.PROMPT], "weight": weight,
                        "spans": [(start, end, label) for label, start, end in span_tuples(answer.value)]})
    return out


def refit_span_model(snapshot: Dataset, workspace_root: Path, cfg: LoopConfig) -> tuple[str | None, int]:
    """Refit the trigger span model (P(trigger) weights, cue threshold, cue-label model) on the annotators' spans
    plus the shipped dev eval set, into the workspace, where the triggers stage picks it up."""
    from curation.triggers.rank import refit_with_annotations

    examples = annotated_span_examples(snapshot, float(cfg.confirmed_weight))
    if not any(ex["spans"] for ex in examples):
        return None, 0
    return str(refit_with_annotations(examples, workspace_root)), len(examples)


# Argilla updates --------------------------------------------------------------------------------------------------
def _suggestions(p: float, spans: list[dict[str, Any]] | None, weights: dict[str, float], cfg: LoopConfig,
                 probe_name: str) -> list[dict[str, Any]]:
    """The rescored suggestions of one record, by question name (questions the dataset lacks are skipped)."""
    from curation.annotate.push import CUE_LABELS, join_agents

    agent = f"{LOOP_AGENT}:probe:{probe_name}"
    out = [{"question": HARMFULNESS, "agent": agent, "value": "harmful" if p >= 0.5 else "benign",
            "score": float(max(p, 1 - p))},
           {"question": "should_refuse", "agent": agent, "value": "yes" if p >= 0.5 else "no",
            "score": float(max(p, 1 - p))}]
    cues = [s for s in spans or [] if s.get("label") in CUE_LABELS]  # the push's rule: cue spans only, none without
    scored = sorted(((reweighted_score(list(s.get("agents") or []), weights), s) for s in cues), key=lambda x: -x[0])
    # push's rule (annotate.push.filter_spans): the top cue whatever its score, since the triggers stage labels a
    # cue only after deciding the prompt holds one; further cues at keep_threshold; no cue span, no suggestion
    kept = [(sc, s) for i, (sc, s) in enumerate(scored) if i == 0 or sc >= cfg.keep_threshold]
    if kept:
        kept.sort(key=lambda x: int(x[1]["start"]))
        out.append({"question": SPANS,
                    "value": [{"label": s["label"], "start": int(s["start"]), "end": int(s["end"])} for _, s in kept],
                    "score": [round(float(sc), 4) for sc, _ in kept],
                    "agent": join_agents(a for _, s in kept for a in (s.get("agents") or [LOOP_AGENT]))})
    return out


def language_scorer(workspace_root: Path, name: str = "default", device: str = "cpu") -> Any:
    """Margins of texts routed by their detected language the way `boundary score` routes them (the contextual
    model's cross-lingual blend), or None when the workspace has no blend to route to."""
    from curation.models.probe_routing import ProbeRouter

    router = ProbeRouter(Path(workspace_root), name, device, same_scale=True)
    if router.blend() is None:
        return None

    def score(texts: list[str]) -> np.ndarray:
        from curation.models.langid import detect_languages

        return router.score(list(texts), detect_languages(list(texts)))[0]

    return score


def rescore_pending(client: Any, dataset: Any, probe: Any, encoder: Any, cache: Any, weights: dict[str, float],
                    spans: dict[str, list[dict[str, Any]]], cfg: LoopConfig, score_fn: Any = None) -> int:
    """Give every record without submitted responses new metadata (p_refuse, boundary_score, uncertainty) and
    suggestions from the refit probe and weights (`score_fn`: texts -> margins, e.g. `language_scorer`); returns how
    many were updated."""
    from curation.annotate.records import ensure_metadata_property, update_pending_records

    ensure_metadata_property(client, dataset, UNCERTAINTY, "Uncertainty (sort descending: most uncertain first)",
                             "float", 0.0, 1.0)

    def rescore(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        texts = [r["fields"].get(C.PROMPT) or "" for r in records]
        if score_fn is not None:
            margins = np.asarray(score_fn(texts), dtype=np.float64)
        else:
            margins = probe.score_texts(texts, encoder, cache) - boundary_offset(probe)  # as boundary scoring
        p_refuse = margin_to_proba(margins)
        unsure = uncertainty(p_refuse)
        return [{"metadata": {C.P_REFUSE: float(p_refuse[i]), C.BOUNDARY_SCORE: float(margins[i]),
                              UNCERTAINTY: float(unsure[i])},
                 "suggestions": _suggestions(float(p_refuse[i]), spans.get(r.get("external_id") or r["id"]), weights,
                                             cfg, cfg.probe)}
                for i, r in enumerate(records)]

    return update_pending_records(client, dataset, rescore, cfg.batch_size)


def run(client: Any, name: str, workspace_root: Path, cfg: LoopConfig | None = None, workspace_name: str = "argilla",
        pipeline: Dataset | None = None, gold: Dataset | None = None, report: LoopReport | None = None) -> Dataset:
    """One round: pull NAME, refit the probe, re-weight proposers, rescore pending records. Returns the pulled
    snapshot; `report` (when given) gets what the round did."""
    from curation.annotate.pull import get_dataset, pull_records
    from curation.annotate.push import question_ids
    from curation.core.workspace import Workspace
    from curation.models.embeddings import get_encoder, workspace_cache
    from curation.models.probe import Probe, default_probe_dir

    cfg = cfg or LoopConfig()
    dataset = get_dataset(client, name, workspace_name)
    snapshot = pull_records(client, name, workspace_name)
    if not {SPANS, HARMFULNESS} & set(question_ids(client, dataset)):
        raise InputError(f"loop: Argilla dataset '{name}' has neither '{HARMFULNESS}' nor '{SPANS}' questions",
                         "run the loop on a dataset pushed with the trigger_spans schema")
    report = report if report is not None else LoopReport()
    report.pending = len(unanswered_records(snapshot))
    confirmed = confirmed_labels(snapshot, gold)
    report.confirmed = len(confirmed)
    report.confirmed_harmful = sum(h for _, h in confirmed.values())
    report.hard_negatives = len(hard_negatives(snapshot))
    probe_dir = default_probe_dir(workspace_root, cfg.probe)
    old_probe = Probe.load(probe_dir) if (probe_dir / "probe.json").exists() else None
    contextual = old_probe is not None and old_probe.meta.get("preset") == "contextual"
    encoder = get_encoder(old_probe.model_id if contextual else cfg.embedding_model, device=cfg.device)
    with workspace_cache(workspace_root, encoder.model_id) as cache:
        if old_probe is not None and old_probe.model_id != encoder.model_id:
            old_probe = None
        report.probe_auroc_before = auroc(old_probe, confirmed, encoder, cache)
        probe = refit_probe(confirmed, cfg, encoder, cache, hard_negatives(snapshot), old_probe)
        report.probe_auroc_after = auroc(probe, confirmed, encoder, cache)
        report.probe_path = str(probe.save(probe_dir))

        spans = suggestion_spans(snapshot, pipeline)
        old = load_weights(workspace_root)
        before = measure_precision(snapshot, spans, None, cfg)
        weights = new_weights(before, old, cfg)
        after = measure_precision(snapshot, spans, weights, cfg)
        report.precision_before, report.precision_after = before["overall"], after["overall"]
        for agent in sorted(set(before["agents"]) | set(after["agents"])):
            b, a = before["agents"].get(agent, {}), after["agents"].get(agent, {})
            report.proposers[agent] = {"weight_before": old.get(agent), "weight_after": weights.get(agent),
                                       "proposed_before": b.get("proposed", 0), "precision_before": b.get("precision"),
                                       "proposed_after": a.get("proposed", 0), "precision_after": a.get("precision")}
        path = weights_path(workspace_root)
        Workspace(workspace_root).write_json(path, weights)
        report.weights_path = str(path)
        if cfg.refit_spans:
            report.span_model_path, report.span_examples = refit_span_model(snapshot, workspace_root, cfg)
        score_fn = None
        if contextual:  # the refit head makes the cross-lingual blend stale: refit it, rescore through it
            from curation.models.probe_fitting import refresh_contextual_blend

            report.blend_refreshed = refresh_contextual_blend(workspace_root, cfg.probe)
            score_fn = language_scorer(workspace_root, cfg.probe, cfg.device) if report.blend_refreshed else None
        report.rescored = rescore_pending(client, dataset, probe, encoder, cache, weights, spans, cfg, score_fn)
    return snapshot
