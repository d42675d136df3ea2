"""Learned span ranking and cue labels: a logistic model turns each candidate's evidence (lexicons, syntax, occlusion
drops) into a calibrated P(span is the trigger), and a second one labels a cue harmful_cue / benign_homonym from how
the harm score moves between the span alone and the span in its context. Both are fit on labelled spans (the dev
eval set, plus annotators' spans in `curate loop`), never hand-set."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from curation.core.errors import InputError
from curation.models.probe import contrast_prompts
from curation.triggers.candidates import Candidate, Row

SHIPPED_MODEL = Path(__file__).resolve().parent.parent / "data" / "triggers" / "span_model.json"
MODEL_VERSION = "span_model.v3"
LEXICON_AGENT = "lexicon.v1"
IDENTITY_AGENT = "identity.v1"
PERSONAL_AGENT = "personal_info.v1"
SYNTACTIC_AGENT = "syntactic.v1"
OCCLUSION_AGENTS = ("probe_occlusion.v1", "direction_occlusion.v1")
ROLES = ("verb", "phrasal", "idiom", "target", "entity", "chunk", "word", "cue", "identity", "personal_info")
TRIGGER_FEATURES = ("lexicon", "identity", "personal_info", "syntactic", "occlusion", "occlusion_raw",
                    "no_occlusion", "log_tokens", "prompt_margin", *(f"role_{r}" for r in ROLES),
                    "cue_gate", "occlusion_top", "margin_x_occlusion", "inside_cue", "contains_cue", "syn_object")
OBJECT_DEPS = frozenset({"dobj", "obj", "pobj", "dative", "iobj", "nsubjpass", "obl"})
LABEL_FEATURES = ("margin_full", "margin_alone", "context_shift", "drop", "margin_second")
ROW_FEATURES = ("margin", "lexicon_max", "identity_max", "personal_info_max", "best_logit", "best_cue_logit",
                "top_drop", "any_evidence")
MIN_RAW_DROP = 0.15  # probe-margin drop (logit units) that counts as occlusion evidence of a cue
MARGIN_FLOOR = -1.0  # default floor: below this prompt margin an occlusion drop alone is no cue evidence (the span
# model stores its own `margin_floor`, chosen when fit, since the scale depends on the probe)


def _clip(x: float, lo: float = -4.0, hi: float = 4.0) -> float:
    return float(min(hi, max(lo, x)))


@dataclass
class RowContext:
    """What a span's features need from the rest of its prompt: the prompt margin, the largest per-token occlusion
    drop, the lexicon-hit spans (cue words nested in a longer cue, a phrase containing a cue word) and the parse."""

    margin: float | None
    top_drop: float
    cue_spans: list[tuple[int, int]]
    doc: Any = None

    @classmethod
    def of(cls, row: Row) -> RowContext:
        drops = [c.attribution.get("probe_occlusion.v1", 0.0) / max(1, c.n_tokens) for c in row.candidates.values()]
        cues = [(c.start, c.end) for c in row.candidates.values() if c.category is not None]
        return cls(row.margin, max(drops, default=0.0), cues, row.doc)


def is_object(cand: Candidate, doc: Any) -> bool:
    """Whether the span's head is the object of a verb or preposition (a target of the request, not its act)."""
    if doc is None or not doc.has_annotation("DEP"):
        return False
    span = doc.char_span(cand.start, cand.end, alignment_mode="expand")
    return span is not None and len(span) > 0 and span.root.dep_ in OBJECT_DEPS


def trigger_features(cand: Candidate, margin: float | None = None, ctx: RowContext | None = None,
                     margin_floor: float = MARGIN_FLOOR, cue_threshold: float = 0.5) -> list[float]:
    """The span's evidence as a fixed vector (see TRIGGER_FEATURES); the direction counts as occlusion evidence;
    `margin` is the whole prompt's probe margin (how scary the prompt reads; 0 without a probe); `ctx` gives the
    features relative to the other spans of the prompt (largest drop, nesting in / around a lexicon hit, object)."""
    occ = max((cand.evidence.get(a, 0.0) for a in OCCLUSION_AGENTS), default=0.0)
    raw = cand.attribution.get("probe_occlusion.v1")
    m = _clip(margin if margin is not None else 0.0)
    top = float(ctx is not None and raw is not None and raw > 0 and ctx.top_drop > 0
                and raw / max(1, cand.n_tokens) >= ctx.top_drop - 1e-9)
    spans = ctx.cue_spans if ctx is not None else []
    inside = any(a <= cand.start and cand.end <= b and (a, b) != (cand.start, cand.end) for a, b in spans)
    contains = any(cand.start <= a and b <= cand.end and (a, b) != (cand.start, cand.end) for a, b in spans)
    return [cand.evidence.get(LEXICON_AGENT, 0.0), cand.evidence.get(IDENTITY_AGENT, 0.0),
            cand.evidence.get(PERSONAL_AGENT, 0.0), cand.evidence.get(SYNTACTIC_AGENT, 0.0), occ,
            _clip(raw if raw is not None else 0.0), float(not cand.attribution), math.log(max(1, cand.n_tokens)),
            m, *(float(cand.role == r) for r in ROLES),
            float(has_cue_evidence(cand, cue_threshold, margin, margin_floor)), top, occ * m / 4.0, float(inside),
            float(contains), float(is_object(cand, ctx.doc if ctx is not None else None))]


def has_cue_evidence(cand: Candidate, cue_threshold: float = 0.5, margin: float | None = None,
                     margin_floor: float = MARGIN_FLOOR) -> bool:
    """Evidence that the span can be a cue at all: a lexicon hit (harm, identity, personal information) or a large
    occlusion drop (relative to the prompt's largest and in absolute probe-margin units) in a prompt that reads at
    least somewhat harmful (margin >= `margin_floor`: the largest drop of a plain prompt means nothing)."""
    if cand.category is not None:
        return True
    if margin is not None and margin < margin_floor:
        return False
    rel = max((cand.evidence.get(a, 0.0) for a in OCCLUSION_AGENTS), default=0.0)
    raw = max(cand.attribution.values(), default=0.0)
    return bool(rel >= cue_threshold and raw >= MIN_RAW_DROP)


def _logit(p: float) -> float:
    p = min(1 - 1e-4, max(1e-4, float(p)))
    return math.log(p / (1 - p))


def row_features(row: Row, cands: Sequence[Candidate], ps: Sequence[float], evidence: Sequence[bool]
                 ) -> list[float]:
    """The prompt-level evidence that it holds a cue at all (see ROW_FEATURES): how harmful the whole prompt reads,
    its strongest lexicon hits, its most likely trigger span (with and without cue evidence), its largest drop."""
    def top(agent: str) -> float:
        return max((c.evidence.get(agent, 0.0) for c in cands), default=0.0)

    best = max(ps, default=0.0)
    best_cue = max((p for p, e in zip(ps, evidence, strict=True) if e), default=0.0)
    drop = max((c.attribution.get("probe_occlusion.v1", 0.0) for c in cands), default=0.0)
    return [_clip(row.margin if row.margin is not None else 0.0, -6.0, 4.0), top(LEXICON_AGENT),
            top(IDENTITY_AGENT), top(PERSONAL_AGENT), _clip(_logit(best), -8.0, 8.0),
            _clip(_logit(best_cue), -8.0, 8.0), _clip(drop), float(any(evidence))]


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
    """P(trigger) per span, the cue threshold (abstain below it), the margin floor of occlusion cue evidence, and
    the context cue-label model."""

    trigger: Logistic
    label: Logistic | None = None
    cue_min_p: float = 0.3
    meta: dict[str, Any] = field(default_factory=dict)
    margin_floor: float = MARGIN_FLOOR
    row: Logistic | None = None
    row_min_p: float = 0.5

    def row_proba(self, row: Row, cands: Sequence[Candidate] | None = None, cue_threshold: float = 0.5
                  ) -> np.ndarray:
        """P(trigger) of `cands` (default: every candidate of the row), read in the context of their row."""
        cands = list(row.candidates.values()) if cands is None else list(cands)
        if not cands:
            return np.zeros(0)
        ctx = RowContext.of(row)
        return self.trigger.proba(np.array([trigger_features(c, row.margin, ctx, self.margin_floor, cue_threshold)
                                            for c in cands]))

    def has_evidence(self, cand: Candidate, row: Row, cue_threshold: float = 0.5) -> bool:
        return has_cue_evidence(cand, cue_threshold, row.margin, self.margin_floor)

    def row_cue_p(self, row: Row, cands: Sequence[Candidate], ps: Sequence[float], evidence: Sequence[bool]
                  ) -> float | None:
        """P(the prompt holds a cue at all) from the row model (None without one)."""
        if self.row is None or not cands:
            return None
        return float(self.row.proba(np.array(row_features(row, cands, ps, evidence)))[0])

    def cue_flags(self, row: Row, cands: Sequence[Candidate], ps: Sequence[float], cue_threshold: float = 0.5
                  ) -> list[bool]:
        """Which candidates are cues. Without a row model: cue evidence and P(trigger) >= cue_min_p. With one, the
        abstain decision is the prompt's: below `row_min_p` no cue at all; above it the likeliest span is a cue
        even when its P(trigger) is low or its own evidence weak (a harmful prompt whose harm
        is spread over several words splits P between them), plus every other span that passes the span rule."""
        evidence = [self.has_evidence(c, row, cue_threshold) for c in cands]
        flags = [bool(e and p >= self.cue_min_p) for e, p in zip(evidence, ps, strict=True)]
        row_p = self.row_cue_p(row, cands, ps, evidence)
        if row_p is None:
            return flags
        if row_p < self.row_min_p:
            return [False] * len(cands)
        if not any(flags):
            flags[max(range(len(cands)), key=lambda i: (ps[i], -cands[i].start))] = True
        return flags

    def cues(self, row: Row, cue_threshold: float = 0.5) -> list[tuple[Candidate, float]]:
        """(candidate, P) of the row's cues (see `cue_flags`)."""
        cands = list(row.candidates.values())
        ps = [float(p) for p in self.row_proba(row, cands, cue_threshold)]
        return [(c, p) for c, p, f in zip(cands, ps, self.cue_flags(row, cands, ps, cue_threshold), strict=True)
                if f]

    def save(self, path: Path | str) -> Path:
        from curation.core.workspace import atomic_write_text

        data = {"version": MODEL_VERSION, "trigger": self.trigger.as_dict(), "cue_min_p": self.cue_min_p,
                "margin_floor": round(self.margin_floor, 4),
                "label": self.label.as_dict() if self.label else None, "meta": self.meta,
                "row": self.row.as_dict() if self.row else None, "row_min_p": round(self.row_min_p, 4)}
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
                             "refit it with `curate loop` or `python benchmarks/eval_triggers.py --fit`")
        label = Logistic.from_dict(data["label"], LABEL_FEATURES) if data.get("label") else None
        row = Logistic.from_dict(data["row"], ROW_FEATURES) if data.get("row") else None
        return cls(Logistic.from_dict(data["trigger"], TRIGGER_FEATURES), label, float(data.get("cue_min_p", 0.3)),
                   data.get("meta", {}), float(data.get("margin_floor", MARGIN_FLOOR)), row,
                   float(data.get("row_min_p", 0.5)))


def workspace_model_path(workspace_root: Path | str) -> Path:
    return Path(workspace_root) / "artifacts" / "triggers" / "span_model.json"


def load_span_model(workspace_root: Path | str | None = None, path: str | None = None) -> SpanModel | None:
    """The explicit model, else the workspace's (refit by `curate loop`), else the shipped one (None if absent); a
    workspace copy of an older version is skipped with a warning (the next `curate loop` refits it)."""
    if path:
        return SpanModel.load(path)
    own = workspace_model_path(workspace_root) if workspace_root else None
    if own is not None and own.exists():
        try:
            return SpanModel.load(own)
        except InputError as err:
            warnings.warn(f"triggers: {err}; using the shipped span model until `curate loop` refits it",
                          stacklevel=2)
    return SpanModel.load(SHIPPED_MODEL) if SHIPPED_MODEL.exists() else None


# training data ----------------------------------------------------------------------------------------------------
def is_positive(cand: Candidate, golds: Sequence[tuple[int, int]], slack: int = 10) -> bool:
    """A span is the trigger when it covers a gold span and is at most `slack` characters longer."""
    return any(cand.start <= g0 and g1 <= cand.end and (cand.end - cand.start) - (g1 - g0) <= slack
               for g0, g1 in golds)


def trigger_training_set(rows: Sequence[Row], golds: Sequence[Sequence[tuple[int, int]]],
                         weights: Sequence[float] | None = None, margin_floor: float = MARGIN_FLOOR,
                         cue_threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, y, sample weight) over every candidate of every row; rows with no gold span give negatives only."""
    xs, ys, ws = [], [], []
    for i, (row, gold) in enumerate(zip(rows, golds, strict=True)):
        ctx = RowContext.of(row)
        for cand in row.candidates.values():
            xs.append(trigger_features(cand, row.margin, ctx, margin_floor, cue_threshold))
            ys.append(int(is_positive(cand, gold)))
            ws.append(weights[i] if weights is not None else 1.0)
    return np.array(xs, dtype=np.float64).reshape(-1, len(TRIGGER_FEATURES)), np.array(ys), np.array(ws)


def label_features(margin_full: float, margin_alone: float, drop: float, margin_second: float | None = None
                   ) -> list[float]:
    """Context evidence of one cue: the prompt's probe margin, the span's margin on its own, how far the context
    moves the score from the span alone, the drop when the span is masked, and the whole prompt's margin under a
    second probe on another encoder (the same training rows; the prompt's own margin when there is none)."""
    second = margin_full if margin_second is None else margin_second
    return [_clip(margin_full), _clip(margin_alone), _clip(margin_full - margin_alone), _clip(drop), _clip(second)]


# fitting ----------------------------------------------------------------------------------------------------------
CUE_LABEL_VALUES = {"harmful_cue": 1, "benign_homonym": 0}


def fit_span_model(tagger: Any, examples: Sequence[dict], none_prompts: Sequence[str] = (),
                   max_none_share: float = 0.08, meta: dict[str, Any] | None = None,
                   plain_only: bool = False, cue_prompts: Sequence[str] = (),
                   label_prompts: Sequence[dict] = ()) -> SpanModel:
    """Fit the span model on labelled spans.

    `examples`: {prompt, lang?, spans: [(start, end, label)], weight?}; a span labelled harmful_cue/benign_homonym
    is a trigger (and teaches the cue-label model its label), an example without cue spans gives negatives only.
    `none_prompts`: plain prompts without a cue (negatives) whose share given any cue span sets `cue_min_p`
    (at most `max_none_share`, and never above the P(trigger) of 90% of the labelled triggers). The margin floor of
    occlusion cue evidence depends on the probe's scale, so it is chosen among quantiles of the labelled prompts'
    margins by the training examples' hit@1 + hit@3 at that threshold. `plain_only`: keep only the no-cue prompts
    without any lexicon hit (a contrast set of benign homonyms is not a set of prompts without a cue).
    `cue_prompts`: prompts that hold a cue but have no labelled span (harmful requests): with the labelled examples
    (positive when they have a cue span) and `none_prompts` (negative) they fit the row model, the prompt-level
    abstain decision, whose threshold `row_min_p` keeps at most `max_none_share` of `none_prompts` with a cue.
    `label_prompts`: {prompt, lang?, harmful} prompts without labelled spans whose top cue (as this model ranks it)
    takes the prompt's safe/unsafe as its cue label: more and more varied examples for the cue-label model."""
    prompts = [e["prompt"] for e in examples]
    rows = tagger.tag_rows(prompts, [e.get("lang") for e in examples])
    golds = [[(int(s), int(t)) for s, t, lab in e["spans"] if lab in CUE_LABEL_VALUES] for e in examples]
    weights = [float(e.get("weight", 1.0)) for e in examples]
    none_rows = tagger.tag_rows(list(none_prompts)) if none_prompts else []
    if plain_only:
        none_rows = [r for r in none_rows if not any(c.category for c in r.candidates.values())]
    margins = [r.margin for r, g in zip(rows, golds, strict=True) if g and r.margin is not None]
    floors = sorted({MARGIN_FLOOR, *(round(float(q), 3) for q in np.quantile(margins, (0.05, 0.1, 0.2, 0.3)))}
                    if margins else {MARGIN_FLOOR})
    grid = {}
    best: tuple[float, SpanModel] | None = None
    for floor in floors:
        model = _fit_at_floor(tagger.cfg, rows, golds, weights, none_rows, floor, max_none_share, meta)
        grid[str(floor)] = score = training_hits(model, rows, golds, tagger.cfg)
        if best is None or score > best[0] + 1e-9:
            best = (score, model)
    model = best[1]
    model.meta["margin_floor_grid (training hit@1 + hit@3)"] = grid
    cue_rows = tagger.tag_rows(list(cue_prompts)) if cue_prompts else []
    if none_rows and (cue_rows or any(golds)):
        _fit_row_model(tagger.cfg, model, rows, golds, weights, cue_rows, none_rows, max_none_share)
    extra = []
    if label_prompts:
        for row, item in zip(tagger.tag_rows([e["prompt"] for e in label_prompts],
                                             [e.get("lang") for e in label_prompts]), label_prompts, strict=True):
            cues = model.cues(row, tagger.cfg.cue_threshold) if row.margin is not None else []
            if cues:
                extra.append((row, max(cues, key=lambda cp: cp[1])[0], int(bool(item["harmful"])), 1.0))
    model.label = _fit_label_model(tagger, rows, examples, model, extra)
    return model


def _row_inputs(model: SpanModel, row: Row, cue_threshold: float) -> list[float] | None:
    cands = list(row.candidates.values())
    if not cands:
        return None
    ps = [float(p) for p in model.row_proba(row, cands, cue_threshold)]
    return row_features(row, cands, ps, [model.has_evidence(c, row, cue_threshold) for c in cands])


def _fit_row_model(cfg: Any, model: SpanModel, rows: Sequence[Row], golds: Sequence[list[tuple[int, int]]],
                   weights: Sequence[float], cue_rows: Sequence[Row], none_rows: Sequence[Row],
                   max_none_share: float) -> None:
    """The prompt-level cue model (has a cue: labelled rows with a cue span and `cue_rows`; has none: labelled
    rows without one and `none_rows`) and its threshold: the share of `none_rows` let through <= max_none_share."""
    xs, ys, ws = [], [], []
    for row, y, w in [*((r, int(bool(g)), w) for r, g, w in zip(rows, golds, weights, strict=True)),
                      *((r, 1, 1.0) for r in cue_rows), *((r, 0, 1.0) for r in none_rows)]:
        x = _row_inputs(model, row, cfg.cue_threshold)
        if x is not None:
            xs.append(x), ys.append(y), ws.append(w)
    if len(set(ys)) < 2:
        return
    model.row = fit_logistic(np.array(xs), np.array(ys), ROW_FEATURES, np.array(ws))

    def row_p(group: Sequence[Row]) -> list[float]:
        out = []
        for row in group:
            x = _row_inputs(model, row, cfg.cue_threshold)
            out.append(float(model.row.proba(np.array(x))[0]) if x is not None else 0.0)
        return out

    none_p = sorted(row_p(none_rows), reverse=True)
    cut = int(max_none_share * len(none_p))
    model.row_min_p = round(none_p[cut] + 1e-6 if cut < len(none_p) else 0.0, 4)
    cue_p = row_p(cue_rows)
    gold_p = row_p([r for r, g in zip(rows, golds, strict=True) if g])
    model.meta.update({
        "row_examples": len(ys), "row_cue_prompts": len(cue_rows),
        "row_train_recall (cue_prompts)": round(float(np.mean([p >= model.row_min_p for p in cue_p])), 4)
        if cue_p else None,
        "row_train_recall (labelled cue rows)": round(float(np.mean([p >= model.row_min_p for p in gold_p])), 4)
        if gold_p else None,
        "row_train_share (none_prompts)": round(float(np.mean([p >= model.row_min_p for p in none_p])), 4)})


def _fit_at_floor(cfg: Any, rows: Sequence[Row], golds: Sequence[list[tuple[int, int]]], weights: Sequence[float],
                  none_rows: Sequence[Row], floor: float, max_none_share: float, meta: dict[str, Any] | None
                  ) -> SpanModel:
    """The trigger model and its cue threshold for one margin floor."""
    x, y, w = trigger_training_set([*rows, *none_rows], [*golds, *([[]] * len(none_rows))],
                                   [*weights, *([1.0] * len(none_rows))], floor, cfg.cue_threshold)
    model = SpanModel(fit_logistic(x, y, TRIGGER_FEATURES, w), None, 0.0, dict(meta or {}), floor)

    def best_cue_p(row: Row) -> float:
        ps = [p for c, p in zip(row.candidates.values(), model.row_proba(row, None, cfg.cue_threshold), strict=True)
              if model.has_evidence(c, row, cfg.cue_threshold)]
        return max(ps, default=0.0)

    gold_p = []
    for row, gold in zip(rows, golds, strict=True):
        if gold and row.candidates:
            cands = list(row.candidates.values())
            gold_p += [float(p) for c, p in zip(cands, model.row_proba(row, cands, cfg.cue_threshold), strict=True)
                       if is_positive(c, gold) and model.has_evidence(c, row, cfg.cue_threshold)]
    cap = float(np.quantile(gold_p, 0.10)) if gold_p else 0.5
    none_best = sorted((best_cue_p(r) for r in none_rows), reverse=True)
    cut = int(max_none_share * len(none_best))
    need = none_best[cut] + 1e-6 if none_best and cut < len(none_best) else 0.0
    model.cue_min_p = round(min(need, cap), 4)
    model.meta.update({"trigger_examples": len(rows), "none_prompts": len(none_rows), "candidates": int(len(y)),
                       "positives": int(y.sum()), "cue_min_p_cap": round(cap, 4)})
    return model


def training_hits(model: SpanModel, rows: Sequence[Row], golds: Sequence[list[tuple[int, int]]], cfg: Any) -> float:
    """hit@1 + hit@3 of the ranked spans on labelled rows (a gold inside one of the first k spans)."""
    from curation.triggers.combine import select_ranked

    hit1 = hit3 = total = 0
    for row, gold in zip(rows, golds, strict=True):
        if not gold:
            continue
        spans = select_ranked(row, model, cfg.top_k, cfg.context_k, cfg.context_min_score, cfg.cue_threshold)
        inside = [any(s["start"] <= g0 and g1 <= s["end"] for g0, g1 in gold) for s in spans]
        total += 1
        hit1 += bool(inside[:1] and inside[0])
        hit3 += any(inside[:3])
    return round((hit1 + hit3) / max(1, total), 4)


def _fit_label_model(tagger: Any, rows: Sequence[Row], examples: Sequence[dict], model: SpanModel,
                     extra: Sequence[tuple[Row, Candidate, int, float]] = ()) -> Logistic | None:
    """The cue-label model on the labelled cue spans (label = the span's annotated harmful_cue/benign_homonym)
    plus `extra` (row, top cue, label, weight) from prompts labelled safe/unsafe."""
    if not tagger.can_score_spans:
        return None
    picked: list[tuple[Row, Candidate, int, float]] = list(extra)
    for row, ex in zip(rows, examples, strict=True):
        if row.margin is None:
            continue
        for s, t, lab in ex["spans"]:
            if lab not in CUE_LABEL_VALUES:
                continue
            for cand in row.candidates.values():
                if is_positive(cand, [(int(s), int(t))]) and model.has_evidence(cand, row, tagger.cfg.cue_threshold):
                    picked.append((row, cand, CUE_LABEL_VALUES[lab], float(ex.get("weight", 1.0))))
    if len({p[2] for p in picked}) < 2:
        return None
    alone = tagger.score_alone([r for r, _, _, _ in picked], [c.text for _, c, _, _ in picked])
    second = tagger.second_margins([r for r, _, _, _ in picked])
    x = [label_features(r.margin, float(m), c.attribution.get("probe_occlusion.v1", 0.0), s2)
         for (r, c, _, _), m, s2 in zip(picked, alone, second, strict=True)]
    model.meta["label_second_probe"] = tagger.second_probe_name
    model.meta["label_examples"] = len(picked)
    return fit_logistic(np.array(x), np.array([p[2] for p in picked]), LABEL_FEATURES,
                        np.array([p[3] for p in picked]))


def shipped_examples() -> list[dict]:
    """The shipped eval rows a refit keeps beside the annotations (v1 and dev, never test) as labelled spans."""
    from curation.triggers.evaluate import gold_span, load_split

    base = []
    for item in load_split("v1") + load_split("dev"):
        spans = []
        if item.get("gold") is not None:
            g0, g1 = gold_span(item["prompt"], item["gold"])
            spans = [(g0, g1, "harmful_cue" if item["harmful"] else "benign_homonym")]
        base.append({"prompt": item["prompt"], "lang": item.get("lang"), "spans": spans})
    return base


def refit_with_annotations(examples: Sequence[dict], workspace_root: Path | str,
                           base: Sequence[dict] | None = None) -> Path:
    """Refit on annotators' labelled spans + `base` (default: the shipped eval rows, v1 and dev, never test), with
    the built-in contrast set's plain harmless prompts as no-cue negatives and its harmful prompts as cue prompts
    (row model), on the workspace's own probe; saved where
    the workspace's triggers stage loads it."""
    from curation.triggers.stage import TriggersConfig, TriggerTagger

    base = shipped_examples() if base is None else list(base)
    with TriggerTagger(TriggersConfig(ranker="noisy_or"), workspace_root) as tagger:
        if tagger.probe_proposer is None:
            raise InputError("span model refit: the workspace has no harm probe to read occlusion evidence from",
                             "fit one with `curate probe fit`, or skip the refit (`curate loop --no-span-refit`)")
        harmful, harmless = contrast_prompts()
        model = fit_span_model(tagger, [*base, *examples], harmless, plain_only=True, cue_prompts=harmful,
                               meta={"fit_on": f"{len(base)} shipped eval rows (v1 + dev) and {len(examples)} "
                                               "annotated examples"})
    return model.save(workspace_model_path(workspace_root))
