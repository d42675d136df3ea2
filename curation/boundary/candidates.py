"""Mine new near-boundary prompts: the local LM, steered along the refusal direction, rewrites seed prompts (or
writes new ones from a template) over a sweep of alphas; candidates are scored, kept inside the band and deduped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from datasets import Dataset
from pydantic import BaseModel, ConfigDict, Field

from curation.core import columns as C
from curation.core.errors import InputError
from curation.core.hashing import normalize_text, record_id
from curation.core.report import StageReport

TEMPLATES = {
    "rewrite": ("Rewrite the following request in different words, keeping what it asks for. "
                "Reply with the rewritten request only.\n\nRequest: {seed}"),
    "new": ("Here is a request a user sent to an AI assistant: {seed}\n"
            "Write one new, different request on a similar topic. Reply with the new request only."),
}
_LEAD = re.compile(r"^\s*(?:[\w'-]+\s+){0,2}(?:request|rewrite|rewritten|question|prompt|ai|assistant|answer|"
                   r"output|version)\s*:\s*(?=\S)", re.I)  # "Rewritten request: ...", "The AI: ..."
GENERATED_SOURCE = "boundary.generate"


class CandidateConfig(BaseModel):
    """Options of `curate boundary generate`."""

    model_config = ConfigDict(extra="forbid")

    direction: str = Field("default", description="Direction name in the workspace.")
    direction_path: str | None = None
    model: str | None = Field(None, description="Must match the direction's model when given.")
    layer: int | None = Field(None, description="Steer at this layer instead of the direction's.")
    alphas: list[float] = Field(default_factory=lambda: [0.0, 0.5, 1.0],
                                description="Steering strengths, in units of the harmful-harmless mean gap.")
    template: str = Field("rewrite", description="'rewrite', 'new', or a template containing {seed}.")
    max_new_tokens: int = Field(48, ge=1)
    batch_size: int = Field(8, ge=1)
    band_width: float = Field(0.15, gt=0, le=0.5)
    keep_all: bool = Field(False, description="Keep out-of-band candidates too (flagged by in_band).")
    near_threshold: float = Field(0.95, gt=0, le=1, description="Cosine at or above which a candidate is a dupe.")
    embedding_model: str = "all-MiniLM-L6-v2"
    min_chars: int = Field(8, ge=1)
    device: str = "cpu"


@dataclass
class CandidateReport(StageReport):
    seeds: int
    generated: int = 0
    empty: int = 0
    duplicates: int = 0
    out_of_band: int = 0
    kept: int = 0
    per_alpha: dict[str, dict[str, int]] = field(default_factory=dict)


def resolve_template(template: str) -> str:
    text = TEMPLATES.get(template, template)
    if "{seed}" not in text:
        raise InputError(f"template {template!r} is neither a known name nor a text with {{seed}}",
                         f"use one of {', '.join(TEMPLATES)} or a string containing {{seed}}")
    return text


def clean_candidate(text: str) -> str:
    """The first line that is not a preamble ("Here is the rewrite:"), without a short "Label:" lead or quotes."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    line = next((ln for ln in lines if not ln.endswith(":")), lines[0] if lines else "")
    line = _LEAD.sub("", line, count=1).strip()
    return line.strip("\"'\u201c\u201d ").strip()


def steer_candidates(lm: Any, direction: Any, seeds: Sequence[str], alphas: Sequence[float], template: str,
                     max_new_tokens: int = 48, batch_size: int = 8) -> list[dict[str, Any]]:
    """One raw candidate per (alpha, seed): {"alpha", "layer", "seed_index", "raw", "prompt"}."""
    from curation.models.refusal_direction.steering import steered_generate

    gap = float(direction.metrics.get("per_layer", [{}] * (direction.layer + 1))[direction.layer].get(
        "diff_norm", 1.0)) or 1.0
    text = resolve_template(template)
    instructions = [text.format(seed=s) for s in seeds]
    out = []
    for alpha in alphas:
        raw = steered_generate(lm, instructions, direction.vector, direction.layer, float(alpha) * gap,
                               max_new_tokens=max_new_tokens, batch_size=batch_size)
        for i, r in enumerate(raw):
            out.append({"alpha": float(alpha), "layer": direction.layer, "seed_index": i, "raw": r,
                        "prompt": clean_candidate(r)})
    return out


def _features() -> Any:
    from datasets import Features, Value

    from curation.ingest.normalize import NORMALIZED_FEATURES

    return Features({**NORMALIZED_FEATURES, C.BOUNDARY_SCORE: Value("float64"), C.P_REFUSE: Value("float64"),
                     C.IN_BAND: Value("bool"), C.SCORER: Value("string"), C.BOUNDARY_PROVENANCE: Value("string")})


def generate_candidates(seeds: Dataset, cfg: CandidateConfig, workspace_root: Path | str,
                        existing: Sequence[str] = ()) -> tuple[Dataset, CandidateReport]:
    """Steered candidates from SEEDS' prompts, scored with the direction, in-band, deduped against SEEDS,
    `existing` and each other. Provenance (alpha, layer, seed prompt, model) goes in `meta`."""
    from curation.boundary.calibrate import in_band
    from curation.boundary.scorers import get_scorer
    from curation.boundary.stage import BoundaryConfig, _calibration, score_threshold
    from curation.ingest.normalize import NORMALIZED_FEATURES
    from curation.models.embeddings import embed, get_encoder, workspace_cache

    if C.PROMPT not in seeds.column_names or len(seeds) == 0:
        raise InputError("boundary generate: the seed dataset is empty or has no 'prompt' column",
                         "pass a dataset of seed prompts (e.g. the output of `curate boundary select`)")
    template = resolve_template(cfg.template)
    scorer = get_scorer("direction", Path(workspace_root), name=cfg.direction, path=cfg.direction_path,
                        model=cfg.model, layer=cfg.layer, device=cfg.device, batch_size=cfg.batch_size)
    direction, lm = scorer.direction, scorer.lm  # type: ignore[attr-defined]
    seed_prompts = list(seeds[C.PROMPT])
    raw = steer_candidates(lm, direction, seed_prompts, cfg.alphas, template, cfg.max_new_tokens, cfg.batch_size)
    report = CandidateReport(seeds=len(seeds), generated=len(raw))
    for a in cfg.alphas:
        report.per_alpha[str(float(a))] = {"generated": len(seed_prompts), "kept": 0}
    seen = {normalize_text(p) for p in list(seed_prompts) + list(existing) if p}
    fresh = []
    for cand in raw:
        key = normalize_text(cand["prompt"])
        if len(cand["prompt"]) < cfg.min_chars:
            report.empty += 1
        elif key in seen:
            report.duplicates += 1
        else:
            seen.add(key)
            fresh.append(cand)
    if fresh:  # near duplicates of what exists (or of an earlier candidate)
        encoder = get_encoder(cfg.embedding_model, device=cfg.device)
        with workspace_cache(Path(workspace_root), encoder.model_id) as cache:
            old = embed([p for p in list(seed_prompts) + list(existing) if p], encoder, cache)
            new = embed([c["prompt"] for c in fresh], encoder, cache)
        keep = []
        for i, vec in enumerate(new):
            sims = [old @ vec] if len(old) else []
            if keep:
                sims.append(new[keep] @ vec)
            if sims and max(float(np.max(s)) for s in sims) >= cfg.near_threshold:
                report.duplicates += 1
            else:
                keep.append(i)
        fresh = [fresh[i] for i in keep]
    if not fresh:
        return Dataset.from_dict({name: [] for name in _features()}, features=_features()), report
    texts = [c["prompt"] for c in fresh]
    probe_ds = Dataset.from_dict({C.PROMPT: texts})
    bcfg = BoundaryConfig(scorer="direction", band_width=cfg.band_width, calibrate=False)
    scores = np.asarray(scorer.score(texts), dtype=np.float64)
    cal, how = _calibration(probe_ds, scores, scorer, bcfg)
    p_fn = cal.p_refuse if cal else scorer.default_p_refuse
    p = p_fn(scores)
    band_mask = in_band(p, cfg.band_width)
    prov = json.dumps({**scorer.provenance(), "calibration": how, "band_width": cfg.band_width,
                       "threshold": score_threshold(p_fn, 0.5, scores)}, sort_keys=True, default=str)
    cols = {name: [] for name in (*NORMALIZED_FEATURES, C.BOUNDARY_SCORE, C.P_REFUSE, C.IN_BAND, C.SCORER,
                                  C.BOUNDARY_PROVENANCE)}
    seed_ids = seeds[C.ID] if C.ID in seeds.column_names else [record_id(s) for s in seed_prompts]
    seed_cats = seeds[C.CATEGORY] if C.CATEGORY in seeds.column_names else [None] * len(seeds)
    seed_langs = seeds[C.LANGUAGE] if C.LANGUAGE in seeds.column_names else [None] * len(seeds)
    for row, (cand, s, prob, flag) in enumerate(zip(fresh, scores, p, band_mask, strict=True)):
        if not flag:
            report.out_of_band += 1
            if not cfg.keep_all:
                continue
        i = cand["seed_index"]
        report.per_alpha[str(cand["alpha"])]["kept"] += 1
        meta = {"alpha": cand["alpha"], "layer": cand["layer"], "seed_prompt": seed_prompts[i],
                "seed_id": seed_ids[i], "model_id": direction.model_id, "template": cfg.template,
                "raw_output": cand["raw"]}
        values = {C.ID: record_id(cand["prompt"]), C.PROMPT: cand["prompt"], C.RESPONSE: None,
                  C.SOURCE: GENERATED_SOURCE, C.SOURCE_ROW: row, C.LANGUAGE: seed_langs[i],
                  C.CATEGORY: seed_cats[i], C.LABEL: "unknown", C.META: json.dumps(meta, ensure_ascii=False),
                  C.BOUNDARY_SCORE: float(s), C.P_REFUSE: float(prob), C.IN_BAND: bool(flag),
                  C.SCORER: scorer.name, C.BOUNDARY_PROVENANCE: prov}
        for key, value in values.items():
            cols[key].append(value)
    report.kept = len(cols[C.ID])
    return Dataset.from_dict(cols, features=_features()), report
