"""Boundary stage: score prompts by how close they sit to a model's refusal decision boundary (RASS-style),
calibrate scores to P(refuse) on judged rows, select diverse near-boundary prompts, and mine new ones.

`run(ds, cfg, workspace_root)` adds `boundary_score`, `p_refuse`, `in_band`, `scorer`, `boundary_provenance`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from datasets import Dataset
from pydantic import BaseModel, ConfigDict, Field, model_validator

from curation.boundary import language as _language  # noqa: F401 - registers the probe_by_language scorer
from curation.boundary.calibrate import (
    Calibration,
    fit_calibration,
    fit_language_calibrations,
    in_band,
    refusal_targets,
)
from curation.boundary.scorers import BoundaryScorer, get_scorer
from curation.core import columns as C
from curation.core.errors import InputError, ModelError
from curation.core.languages import normalize_language_code
from curation.core.registry import scorers
from curation.core.report import StageReport

if TYPE_CHECKING:
    from curation.core.engine import EngineConfig

__all__ = ["BoundaryConfig", "ScoreReport", "run", "score_with_report", "SelectConfig", "select_prompts",
           "score_threshold", "BOUNDARY_COLUMNS"]

SCORE_MAP_BATCH = 1024  # rows per scoring batch (the scorer batches its own model calls inside)
BOUNDARY_COLUMNS = (C.BOUNDARY_SCORE, C.P_REFUSE, C.IN_BAND, C.SCORER, C.BOUNDARY_PROVENANCE)


class BoundaryConfig(BaseModel):
    """Options of `curate boundary score`."""

    model_config = ConfigDict(extra="forbid")

    scorer: str = Field("probe", description="Registered scorer: probe.v1, direction.v1 or probe_by_language.v1 "
                                             "(unversioned names mean .v1).")
    scorer_args: dict[str, Any] = Field(default_factory=dict, description="Arguments of the scorer (its config "
                                        "model); they win over the flat options below.")
    artifact: str = Field("default", description="Name of the probe / direction in the workspace.")
    path: str | None = Field(None, description="Explicit probe folder or direction file/folder.")
    model: str | None = Field(None, description="direction: the model it must have been fit on.")
    layer: int | None = Field(None, description="direction: score at this layer instead of the selected one.")
    band_width: float = Field(0.15, gt=0, le=0.5, description="in_band = |p_refuse - 0.5| <= band_width.")
    calibrate: bool | None = Field(None, description="Fit P(refuse) on judge labels: None = when present.")
    per_language: bool | None = Field(None, description="probe: route rows to their language's probe "
                                      "(probe_by_language); None = when `probe fit --per-language` probes exist.")
    cross_lingual_scale: bool = Field(True, description="probe_by_language: English rows of an English-only probe "
                                      "use its cross-lingual transfer probe too, so every language is on one scale.")
    device: str = "cpu"
    batch_size: int = Field(16, ge=1)

    @model_validator(mode="after")
    def _check_scorer(self) -> BoundaryConfig:
        """Unknown scorers and bad scorer arguments fail here, before any model loads."""
        scorers.validate_args(self.scorer, self.scorer_options(), where=f"boundary scorer {self.scorer}")
        return self

    def scorer_options(self) -> dict[str, Any]:
        """The scorer's arguments: the flat options it accepts (its config model's fields), then `scorer_args`."""
        flat = {"name": self.artifact, "path": self.path, "model": self.model, "layer": self.layer,
                "device": self.device, "batch_size": self.batch_size, "cross_lingual_scale": self.cross_lingual_scale}
        accepted = scorers.config_model(self.scorer).model_fields
        return {**{k: v for k, v in flat.items() if k in accepted}, **self.scorer_args}


@dataclass
class ScoreReport(StageReport):
    """What scoring did: rows, how many fell in the band, threshold and band, calibration, AUROC on labels."""

    scorer: str = ""
    rows: int = 0
    in_band: int = 0
    threshold: float = 0.0
    band: tuple[float, float] = (0.0, 0.0)
    calibration: str = "none"  # "fitted", "loaded" or "none"
    calibration_auroc: float | None = None
    label_auroc: float | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    languages: dict[str, dict[str, Any]] = field(default_factory=dict)  # per language: rows, probes, AUROC
    in_sample_rows: int = 0  # rows that were among the probe's own training prompts
    label_auroc_out_of_sample: float | None = None  # label AUROC on the other rows

    def warnings(self) -> list[str]:
        """What a reader of the figures must know (today: scores on the probe's own training rows)."""
        if not self.in_sample_rows:
            return []
        oos = "-" if self.label_auroc_out_of_sample is None else f"{self.label_auroc_out_of_sample:.3f}"
        return [f"{self.in_sample_rows} of {self.rows} rows were in the probe's training data: their scores and "
                f"the label AUROC are in-sample (optimistic); label AUROC on the other rows: {oos}"]


def score_threshold(p_fn: Callable[[np.ndarray], np.ndarray], target: float, scores: np.ndarray) -> float:
    """The score where the (increasing) P(refuse) map reaches `target`, by bisection over a wide bracket."""
    finite = scores[np.isfinite(scores)] if len(scores) else np.zeros(1)
    span = float(np.ptp(finite)) + 1.0 if len(finite) else 1.0
    lo, hi = float(finite.min()) - 50 * span, float(finite.max()) + 50 * span
    increasing = p_fn(np.array([hi]))[0] >= p_fn(np.array([lo]))[0]
    for _ in range(200):
        mid = (lo + hi) / 2
        above = p_fn(np.array([mid]))[0] >= target
        if above == increasing:
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2


def _calibration(ds: Dataset, scores: np.ndarray, scorer: BoundaryScorer, cfg: BoundaryConfig
                 ) -> tuple[Calibration | None, str]:
    """Fit on judge labels when asked (or when present and sufficient), else load the saved one, else none."""
    if cfg.calibrate is not False and C.JUDGE_LABEL in ds.column_names:
        labels = ds[C.JUDGE_LABEL][:]
        _, y = refusal_targets(labels)
        enough = min(int(y.sum()), int(len(y) - y.sum())) >= 3
        if cfg.calibrate or enough:
            cal = fit_calibration(scores, labels, scorer.artifact)
            cal.save(scorer.artifact_dir)
            return cal, "fitted"
    if cfg.calibrate:
        raise InputError(f"cannot calibrate: the dataset has no '{C.JUDGE_LABEL}' column",
                         "run `curate generate` and `curate judge` on it first, or drop --calibrate")
    cal = Calibration.load(scorer.artifact_dir, scorer.artifact)
    return cal, ("loaded" if cal else "none")


def _language_calibrations(ds: Dataset, raw: np.ndarray, scorer: BoundaryScorer, cfg: BoundaryConfig,
                           languages: list[str]) -> dict[str, Calibration]:
    """P(refuse) maps of the languages with enough judged refusals of their own (fitted and saved as
    `calibration.<lang>.json`), else the saved ones of the languages present; other languages use the shared map."""
    if cfg.calibrate is not False and C.JUDGE_LABEL in ds.column_names:
        cals = fit_language_calibrations(raw, ds[C.JUDGE_LABEL][:], languages, scorer.artifact)
        for lang, cal in cals.items():
            cal.save(scorer.artifact_dir, lang)
        if cals or cfg.calibrate:
            return cals
    loaded = {lang: Calibration.load(scorer.artifact_dir, scorer.artifact, lang) for lang in sorted(set(languages))}
    return {lang: cal for lang, cal in loaded.items() if cal is not None}


def score_texts(texts: list[str], scorer: BoundaryScorer, calibration: Calibration | None, band_width: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(raw scores, P(refuse), in band) for plain texts with an already-built scorer."""
    scores = np.asarray(scorer.score(texts), dtype=np.float64)
    if not np.isfinite(scores).all():
        raise ModelError(f"scorer {scorer.name} returned NaN scores", "check the model and the artifact")
    p = calibration.p_refuse(scores) if calibration else scorer.default_p_refuse(scores)
    return scores, p, in_band(p, band_width)


class BoundaryScoreBatch:
    """Batch class of the scoring pass (`curation.core.engine.map_stage`): loads the scorer once, adds raw scores."""

    def __init__(self, cfg: BoundaryConfig, workspace_root: Path | str, scorer: BoundaryScorer | None = None) -> None:
        self.scorer = scorer or get_scorer(cfg.scorer, Path(workspace_root), **cfg.scorer_options())

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        prompts = [p or "" for p in batch[C.PROMPT]]
        if hasattr(self.scorer, "score_rows"):  # routes each row by its language (probe_by_language)
            raw, routes = self.scorer.score_rows(prompts, batch.get(C.LANGUAGE))
            return {C.BOUNDARY_SCORE: np.asarray(raw, dtype=np.float64).tolist(),
                    _ROUTE: [json.dumps(r, sort_keys=True) for r in routes]}
        raw = np.asarray(self.scorer.score(prompts), dtype=np.float64)
        return {C.BOUNDARY_SCORE: raw.tolist()}


_ROUTE = "_boundary_route"  # temporary column: the probe each row was routed to


def score_with_report(ds: Dataset, cfg: BoundaryConfig, workspace_root: Path | str,
                      scorer: BoundaryScorer | None = None, engine: str | EngineConfig = "local",
                      ) -> tuple[Dataset, ScoreReport]:
    """Add the boundary columns to every row; re-scoring replaces them. Returns the dataset and a report.

    Raw scores come from `BoundaryScoreBatch` on the chosen engine; calibration and the band are global steps.
    """
    from datasets import Value

    from curation.core.engine import map_stage
    from curation.core.hashing import stage_fingerprint

    if C.PROMPT not in ds.column_names:
        raise InputError(f"boundary: the dataset has no '{C.PROMPT}' column; columns found: "
                         f"{', '.join(ds.column_names)}", "ingest it with `curate ingest SOURCE --name NAME`")
    if scorer is None and _language.wants_language_routing(cfg.scorer, cfg.path, cfg.artifact, Path(workspace_root),
                                                           cfg.per_language):
        cfg = cfg.model_copy(update={"scorer": "probe_by_language"})
    local = BoundaryScoreBatch(cfg, workspace_root, scorer)
    scorer = local.scorer
    out = ds.remove_columns([c for c in BOUNDARY_COLUMNS if c in ds.column_names])
    features = out.features.copy()
    features[C.BOUNDARY_SCORE] = Value("float64")
    if hasattr(scorer, "score_rows"):
        features[_ROUTE] = Value("string")
    kwargs = {"cfg": cfg, "workspace_root": str(workspace_root)}
    fingerprint = stage_fingerprint(out._fingerprint, "boundary.score.v1", cfg, scorer.artifact)
    out = map_stage(out, BoundaryScoreBatch, kwargs, engine=engine, batch_size=SCORE_MAP_BATCH, features=features,
                    desc=f"boundary score ({scorer.name})", instance=local, fingerprint=fingerprint,
                    reuse_cache=False)
    raw = np.asarray(out.with_format("numpy")[C.BOUNDARY_SCORE], dtype=np.float64)
    if not np.isfinite(raw).all():
        raise ModelError(f"scorer {scorer.name} returned NaN scores", "check the model and the artifact")
    cal, how = _calibration(ds, raw, scorer, cfg)
    p_fn = cal.p_refuse if cal else scorer.default_p_refuse
    p = p_fn(raw)
    band_mask = in_band(p, cfg.band_width)
    threshold = score_threshold(p_fn, 0.5, raw)
    band = (score_threshold(p_fn, 0.5 - cfg.band_width, raw), score_threshold(p_fn, 0.5 + cfg.band_width, raw))
    provenance = {**scorer.provenance(), "calibration": how, "threshold": threshold, "band_width": cfg.band_width,
                  **({"calibration_n": cal.n, "calibration_auroc": cal.auroc} if cal else {})}
    label_auroc = None
    labels = ds[C.LABEL][:] if C.LABEL in ds.column_names else None  # a list: per-row Column access is slow
    if labels is not None:
        known = [i for i, lab in enumerate(labels) if lab in ("harmful", "benign")]
        ys = [labels[i] == "harmful" for i in known]
        if 0 < sum(ys) < len(ys):
            from sklearn.metrics import roc_auc_score

            label_auroc = float(roc_auc_score(ys, raw[known]))
    prompts = ds[C.PROMPT][:]
    seen = scorer_in_sample(scorer, prompts)
    label_auroc_oos = None
    if seen.any() and labels is not None:
        known = [i for i, lab in enumerate(labels) if lab in ("harmful", "benign") and not seen[i]]
        ys = [labels[i] == "harmful" for i in known]
        if 0 < sum(ys) < len(ys):
            from sklearn.metrics import roc_auc_score

            label_auroc_oos = float(roc_auc_score(ys, raw[known]))
    if seen.any():
        provenance["in_sample_rows"] = int(seen.sum())
    routes = [json.loads(r) for r in out[_ROUTE]] if _ROUTE in out.column_names else []
    if routes:
        out = out.remove_columns(_ROUTE)
        names = [f"probe:{r['probe']}" for r in routes]
        prov_texts = [json.dumps({**provenance, **r}, sort_keys=True, default=str) for r in routes]
    else:
        names, prov_texts = [scorer.name] * len(out), [json.dumps(provenance, sort_keys=True, default=str)] * len(out)
    languages = {}
    if C.LANGUAGE in ds.column_names:
        row_langs = [normalize_language_code(lg) for lg in ds[C.LANGUAGE][:]]
        lang_cals = _language_calibrations(ds, raw, scorer, cfg, row_langs)
        for lang, lang_cal in lang_cals.items():  # calibrated on this language's own judged refusals
            idx = np.array([i for i, lg in enumerate(row_langs) if lg == lang])
            p[idx] = lang_cal.p_refuse(raw[idx])
        band_mask = in_band(p, cfg.band_width)
        shared = "shared" if cal else "none"
        prov_texts = [_with_scope(text, lang_cals.get(lg), shared) for text, lg in zip(prov_texts, row_langs,
                                                                                        strict=True)]
        languages = _language.language_report(raw, routes, labels, ds[C.LANGUAGE][:])
        for lang, stats in languages.items():
            lc = lang_cals.get(lang)
            stats["calibration"] = "language" if lc else shared
            if lc:
                stats.update(calibration_n=lc.n, calibration_auroc=lc.auroc, threshold=lc.threshold)
    out = out.add_column(C.P_REFUSE, p.tolist())
    out = out.add_column(C.IN_BAND, band_mask.tolist())
    out = out.add_column(C.SCORER, names)
    out = out.add_column(C.BOUNDARY_PROVENANCE, prov_texts)
    report = ScoreReport(scorer.name, len(out), int(band_mask.sum()), threshold, band, how,
                         cal.auroc if cal else None, label_auroc, provenance, languages, int(seen.sum()),
                         label_auroc_oos)
    return out, report


def _with_scope(provenance: str, cal: Calibration | None, shared: str) -> str:
    """A row's provenance JSON with `calibration_scope` (language / shared / none) and its own threshold."""
    data = json.loads(provenance)
    data["calibration_scope"] = "language" if cal else shared
    if cal:
        data.update(threshold=cal.threshold, calibration_n=cal.n, calibration_auroc=cal.auroc)
    return json.dumps(data, sort_keys=True, default=str)


def scorer_in_sample(scorer: Any, prompts: Sequence[str]) -> np.ndarray:
    """Rows that were training prompts of the scorer's probe(s) (`ProbeScorer.probe`, a router's loaded probes)."""
    probes = [getattr(scorer, "probe", None)]
    router = getattr(scorer, "router", None)
    probes += list(getattr(router, "_probes", {}).values()) if router is not None else []
    seen = np.zeros(len(prompts), dtype=bool)
    for probe in probes:
        if probe is not None and hasattr(probe, "in_sample"):
            seen |= probe.in_sample([p or "" for p in prompts])
    return seen


def run(ds: Dataset, cfg: BoundaryConfig, workspace_root: Path | str, scorer: BoundaryScorer | None = None,
        engine: str | EngineConfig = "local", report: ScoreReport | None = None) -> Dataset:
    """Dataset in, dataset out: the rows with `boundary_score`, `p_refuse`, `in_band`, `scorer`, provenance;
    `report` (when given) gets the figures of `score_with_report`."""
    out, made = score_with_report(ds, cfg, workspace_root, scorer, engine)
    if report is not None:
        report.update(made)
    return out


class SelectConfig(BaseModel):
    """Options of `curate boundary select`."""

    model_config = ConfigDict(extra="forbid")

    budget: int = Field(..., ge=1)
    method: str = Field("k-center", description="k-center or mmr.")
    pool_factor: float = Field(4.0, ge=1, description="Candidates = the budget x this many rows nearest 0.5.")
    balance: bool = Field(True, description="Balance picks across category x language groups.")
    mmr_lambda: float = Field(0.5, ge=0, le=1)
    only_in_band: bool = Field(False, description="Consider only rows flagged in_band.")
    embedding_model: str = "all-MiniLM-L6-v2"
    device: str = "cpu"


def select_prompts(ds: Dataset, cfg: SelectConfig, workspace_root: Path | str) -> tuple[Dataset, Any]:
    """The selected rows (in pick order, with `select_rank`) and a coverage report."""
    from curation.boundary.select import select_indices
    from curation.models.embeddings import embed, get_encoder, workspace_cache

    if C.P_REFUSE not in ds.column_names:
        raise InputError(f"boundary select: the dataset has no '{C.P_REFUSE}' column",
                         "score it first with `curate boundary score NAME --scorer probe`")
    base = ds
    if cfg.only_in_band and C.IN_BAND in ds.column_names:
        keep = [i for i, flag in enumerate(ds[C.IN_BAND]) if flag]
        base = ds.select(keep)
    if len(base) == 0:
        raise InputError("boundary select: no rows to choose from", "drop --only-in-band or widen the band")
    encoder = get_encoder(cfg.embedding_model, device=cfg.device)
    with workspace_cache(Path(workspace_root), encoder.model_id) as cache:
        vectors = embed([p or "" for p in base[C.PROMPT]], encoder, cache)
    cats = base[C.CATEGORY] if C.CATEGORY in base.column_names else None
    langs = base[C.LANGUAGE] if C.LANGUAGE in base.column_names else None
    chosen, report = select_indices(base[C.P_REFUSE], vectors, cats, langs, cfg.budget, cfg.method,
                                    cfg.pool_factor, cfg.balance, cfg.mmr_lambda)
    out = base.select(chosen)
    if C.SELECT_RANK in out.column_names:
        out = out.remove_columns(C.SELECT_RANK)
    return out.add_column(C.SELECT_RANK, list(range(len(out)))), report
