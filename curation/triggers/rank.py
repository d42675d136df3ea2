"""Learned span ranking and cue labels: a logistic model turns each candidate's evidence (lexicons, syntax, occlusion
drops) into a calibrated P(span is the trigger), and a second one labels a cue harmful_cue / benign_homonym from how
the harm score moves between the span alone and the span in its context. Both are fit on labelled spans (the dev
eval set, plus annotators' spans in `curate loop`), never hand-set."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from curation.core.errors import InputError
from curation.triggers.candidates import Candidate, Row

SHIPPED_MODEL = Path(__file__).resolve().parent.parent / "data" / "triggers" / "span_model.json"
MODEL_VERSION = "span_model.v1"
LEXICON_AGENT = "lexicon.v1"
IDENTITY_AGENT = "identity.v1"
PERSONAL_AGENT = "personal_info.v1"
SYNTACTIC_AGENT = "syntactic.v1"
OCCLUSION_AGENTS = ("probe_occlusion.v1", "direction_occlusion.v1")
ROLES = ("verb", "phrasal", "idiom", "target", "entity", "chunk", "word", "cue", "identity", "personal_info")
TRIGGER_FEATURES = ("lexicon", "identity", "personal_info", "syntactic", "occlusion", "occlusion_raw",
                    "no_occlusion", "log_tokens", "prompt_margin", *(f"role_{r}" for r in ROLES))
LABEL_FEATURES = ("margin_full", "margin_alone", "context_shift", "drop")
MIN_RAW_DROP = 0.15  # probe-margin drop (logit units) that counts as occlusion evidence of a cue
MARGIN_FLOOR = -1.0  # below this prompt margin (P(harmful) < 0.27) an occlusion drop alone is no cue evidence


def _clip(x: float, lo: float = -4.0, hi: float = 4.0) -> float:
    return float(min(hi, max(lo, x)))


def trigger_features(cand: Candidate, margin: float | None = None) -> list[float]:
    """The span's evidence as a fixed vector (see TRIGGER_FEATURES); the direction counts as occlusion evidence;
    `margin` is the whole prompt's probe margin (how scary the prompt reads; 0 without a probe)."""
    occ = max((cand.evidence.get(a, 0.0) for a in OCCLUSION_AGENTS), default=0.0)
    raw = cand.attribution.get("probe_occlusion.v1")
    return [cand.evidence.get(LEXICON_AGENT, 0.0), cand.evidence.get(IDENTITY_AGENT, 0.0),
            cand.evidence.get(PERSONAL_AGENT, 0.0), cand.evidence.get(SYNTACTIC_AGENT, 0.0), occ,
            _clip(raw if raw is not None else 0.0), float(not cand.attribution), math.log(max(1, cand.n_tokens)),
            _clip(margin if margin is not None else 0.0), *(float(cand.role == r) for r in ROLES)]


def has_cue_evidence(cand: Candidate, cue_threshold: float = 0.5, margin: float | None = None) -> bool:
    """Evidence that the span can be a cue at all: a lexicon hit (harm, identity, personal information) or a large
    occlusion drop (relative to the prompt's largest and in absolute probe-margin units) in a prompt that reads at
    least somewhat harmful (margin >= MARGIN_FLOOR: the largest drop of a plain prompt means nothing)."""
    if cand.category is not None:
        return True
    if margin is not None and margin < MARGIN_FLOOR:
        return False
    rel = max((cand.evidence.get(a, 0.0) for a in OCCLUSION_AGENTS), default=0.0)
    raw = max(cand.attribution.values(), default=0.0)
    return rel >= cue_threshold and raw >= MIN_RAW_DROP


@dataclass
class Logistic:
    """A fitted logistic model over named features (weights stored as data)."""

    features: tuple[str, ...]
    coef: list[float]
    intercept: float

    def logit(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float64).reshape(-1, len(self.features)) @ np.asarray(self.coef) + self.intercept

    def proba(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logit(x)))

    def as_dict(self) -> dict[str, Any]:
        return {"features": list(self.features), "coef": [round(c, 6) for c in self.coef],
                "intercept": round(self.intercept, 6)}

    @classmethod
    def from_dict(cls, data: dict[str, Any], expected: Sequence[str]) -> Logistic:
        if tuple(data["features"]) != tuple(expected):
            raise InputError(f"span model features {data['features']} do not match this version's {list(expected)}",
                             "refit it with `python benchmarks/eval_triggers.py --fit` or delete the workspace copy")
        return cls(tuple(data["features"]), [float(c) for c in data["coef"]], float(data["intercept"]))


def fit_logistic(x: np.ndarray, y: np.ndarray, features: Sequence[str], weight: np.ndarray | None = None,
                 c: float = 1.0) -> Logistic:
    """L2 logistic regression (scikit-learn), so the combination weights come from labelled spans."""
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(y, dtype=int)
    if len(set(y.tolist())) < 2:
        raise InputError("span model: the labelled spans hold one class only", "label spans of both kinds")
    model = LogisticRegression(C=c, max_iter=2000).fit(np.asarray(x, dtype=np.float64), y, sample_weight=weight)
    return Logistic(tuple(features), [float(v) for v in model.coef_[0]], float(model.intercept_[0]))


@dataclass
class SpanModel:
    """P(trigger) per span, the cue threshold, and the context cue-label model."""

    trigger: Logistic
    label: Logistic | None = None
    cue_min_p: float = 0.3
    meta: dict[str, Any] = field(default_factory=dict)

    def trigger_proba(self, cands: Sequence[Candidate], margin: float | None = None) -> np.ndarray:
        if not cands:
            return np.zeros(0)
        return self.trigger.proba(np.array([trigger_features(c, margin) for c in cands]))

    def save(self, path: Path | str) -> Path:
        from curation.core.workspace import atomic_write_text

        data = {"version": MODEL_VERSION, "trigger": self.trigger.as_dict(), "cue_min_p": self.cue_min_p,
                "label": self.label.as_dict() if self.label else None, "meta": self.meta}
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True) + "\n")
        return path

    @classmethod
    def load(cls, path: Path | str) -> SpanModel:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise InputError(f"span model {path} cannot be read ({err})", "refit it or delete the file") from None
        if data.get("version") != MODEL_VERSION:
            raise InputError(f"span model {path} is version {data.get('version')!r}, not {MODEL_VERSION}",
                             "refit it with `python benchmarks/eval_triggers.py --fit`")
        label = Logistic.from_dict(data["label"], LABEL_FEATURES) if data.get("label") else None
        return cls(Logistic.from_dict(data["trigger"], TRIGGER_FEATURES), label, float(data.get("cue_min_p", 0.3)),
                   data.get("meta", {}))


def workspace_model_path(workspace_root: Path | str) -> Path:
    return Path(workspace_root) / "artifacts" / "triggers" / "span_model.json"


def load_span_model(workspace_root: Path | str | None = None, path: str | None = None) -> SpanModel | None:
    """The explicit model, else the workspace's (refit by `curate loop`), else the shipped one (None if absent)."""
    for candidate in (path, workspace_model_path(workspace_root) if workspace_root else None, SHIPPED_MODEL):
        if candidate and Path(candidate).exists():
            return SpanModel.load(candidate)
    return None


# training data ----------------------------------------------------------------------------------------------------
def is_positive(cand: Candidate, golds: Sequence[tuple[int, int]], slack: int = 10) -> bool:
    """A span is the trigger when it covers a gold span and is at most `slack` characters longer."""
    return any(cand.start <= g0 and g1 <= cand.end and (cand.end - cand.start) - (g1 - g0) <= slack
               for g0, g1 in golds)


def trigger_training_set(rows: Sequence[Row], golds: Sequence[Sequence[tuple[int, int]]],
                         weights: Sequence[float] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, y, sample weight) over every candidate of every row; rows with no gold span give negatives only."""
    xs, ys, ws = [], [], []
    for i, (row, gold) in enumerate(zip(rows, golds, strict=True)):
        for cand in row.candidates.values():
            xs.append(trigger_features(cand, row.margin))
            ys.append(int(is_positive(cand, gold)))
            ws.append(weights[i] if weights is not None else 1.0)
    return np.array(xs, dtype=np.float64).reshape(-1, len(TRIGGER_FEATURES)), np.array(ys), np.array(ws)


def label_features(margin_full: float, margin_alone: float, drop: float) -> list[float]:
    """Context evidence of one cue: the prompt's probe margin, the span's margin on its own, how far the context
    moves the score from the span alone, and the drop when the span is masked."""
    return [_clip(margin_full), _clip(margin_alone), _clip(margin_full - margin_alone), _clip(drop)]


# fitting ----------------------------------------------------------------------------------------------------------
CUE_LABEL_VALUES = {"harmful_cue": 1, "benign_homonym": 0}


def fit_span_model(tagger: Any, examples: Sequence[dict], none_prompts: Sequence[str] = (),
                   max_none_share: float = 0.08, meta: dict[str, Any] | None = None) -> SpanModel:
    """Fit the span model on labelled spans.

    `examples`: {prompt, lang?, spans: [(start, end, label)], weight?}; a span labelled harmful_cue/benign_homonym
    is a trigger (and teaches the cue-label model its label), an example without cue spans gives negatives only.
    `none_prompts`: plain prompts without a cue (negatives) whose share given any cue span sets `cue_min_p`
    (at most `max_none_share`, and never above the P(trigger) of 90% of the labelled triggers)."""
    prompts = [e["prompt"] for e in examples]
    rows = tagger.tag_rows(prompts, [e.get("lang") for e in examples])
    golds = [[(int(s), int(t)) for s, t, lab in e["spans"] if lab in CUE_LABEL_VALUES] for e in examples]
    weights = [float(e.get("weight", 1.0)) for e in examples]
    none_rows = tagger.tag_rows(list(none_prompts)) if none_prompts else []
    x, y, w = trigger_training_set([*rows, *none_rows], [*golds, *([[]] * len(none_rows))],
                                   [*weights, *([1.0] * len(none_rows))])
    model = SpanModel(fit_logistic(x, y, TRIGGER_FEATURES, w), None, 0.0, dict(meta or {}))

    def best_cue_p(row: Row) -> float:
        cands = [c for c in row.candidates.values() if has_cue_evidence(c, tagger.cfg.cue_threshold, row.margin)]
        return float(model.trigger_proba(cands, row.margin).max()) if cands else 0.0

    gold_p = [float(model.trigger_proba([c], row.margin)[0]) for row, gold in zip(rows, golds, strict=True)
              for c in row.candidates.values() if gold and is_positive(c, gold)
              and has_cue_evidence(c, tagger.cfg.cue_threshold, row.margin)]
    cap = float(np.quantile(gold_p, 0.10)) if gold_p else 0.5
    none_best = sorted((best_cue_p(r) for r in none_rows), reverse=True)
    cut = int(max_none_share * len(none_best))
    need = none_best[cut] + 1e-6 if none_best and cut < len(none_best) else 0.0
    model.cue_min_p = round(min(need, cap), 4)
    model.meta.update({"trigger_examples": len(examples), "none_prompts": len(none_rows),
                       "candidates": int(len(y)), "positives": int(y.sum()), "cue_min_p_cap": round(cap, 4)})
    model.label = _fit_label_model(tagger, rows, examples, model)
    return model


def _fit_label_model(tagger: Any, rows: Sequence[Row], examples: Sequence[dict], model: SpanModel
                     ) -> Logistic | None:
    """The cue-label model on the labelled cue spans (label = the span's annotated harmful_cue/benign_homonym)."""
    if tagger.score_fn is None:
        return None
    picked: list[tuple[Row, Candidate, int, float]] = []
    for row, ex in zip(rows, examples, strict=True):
        if row.margin is None:
            continue
        for s, t, lab in ex["spans"]:
            if lab not in CUE_LABEL_VALUES:
                continue
            for cand in row.candidates.values():
                if is_positive(cand, [(int(s), int(t))]) and has_cue_evidence(cand, tagger.cfg.cue_threshold,
                                                                              row.margin):
                    picked.append((row, cand, CUE_LABEL_VALUES[lab], float(ex.get("weight", 1.0))))
    if len({p[2] for p in picked}) < 2:
        return None
    alone = np.asarray(tagger.score_fn([c.text for _, c, _, _ in picked]), dtype=np.float64).reshape(-1)
    x = [label_features(r.margin, float(m), c.attribution.get("probe_occlusion.v1", 0.0))
         for (r, c, _, _), m in zip(picked, alone, strict=True)]
    model.meta["label_examples"] = len(picked)
    return fit_logistic(np.array(x), np.array([p[2] for p in picked]), LABEL_FEATURES,
                        np.array([p[3] for p in picked]))


def refit_with_annotations(examples: Sequence[dict], workspace_root: Path | str) -> Path:
    """Refit on annotators' labelled spans + the shipped eval rows (v1 and dev, never test), with the built-in
    contrast set's harmless prompts as no-cue negatives; saved where the workspace's triggers stage loads it."""
    from importlib import resources

    from curation.triggers.evaluate import gold_span, load_split
    from curation.triggers.stage import TriggersConfig, TriggerTagger

    base = []
    for item in load_split("v1") + load_split("dev"):
        spans = []
        if item.get("gold") is not None:
            g0, g1 = gold_span(item["prompt"], item["gold"])
            spans = [(g0, g1, "harmful_cue" if item["harmful"] else "benign_homonym")]
        base.append({"prompt": item["prompt"], "lang": item.get("lang"), "spans": spans})
    text = resources.files("curation").joinpath("data/contrast/harmless.jsonl").read_text(encoding="utf-8")
    none_prompts = [json.loads(line)["prompt"] for line in text.splitlines() if line.strip()]
    with TriggerTagger(TriggersConfig(ranker="noisy_or"), workspace_root) as tagger:
        model = fit_span_model(tagger, [*base, *examples], none_prompts,
                               meta={"fit_on": f"trigger_eval v1 + dev and {len(examples)} annotated examples"})
    return model.save(workspace_model_path(workspace_root))
