"""Ingest stage: read prompt sources, normalize, identify language, drop empty/over-long rows, dedupe (near-duplicates
of a row with another label or category are kept and linked as contrast pairs)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from datasets import Dataset, Features, Value, concatenate_datasets
from pydantic import BaseModel, ConfigDict, Field

from curation.core import columns as C
from curation.core.engine import EngineConfig, map_stage
from curation.core.errors import InputError
from curation.core.hashing import stage_fingerprint
from curation.core.progress import datasets_progress, is_long
from curation.core.report import StageReport
from curation.ingest.dedupe import Duplicate, exact_duplicates, near_duplicates
from curation.ingest.normalize import normalize_source
from curation.ingest.sources import read_source
from curation.models.embeddings import DEFAULT_MODEL, EmbedBatch, get_encoder
from curation.models.langid import MIN_CONFIDENCE, detect_with_confidence

__all__ = ["IngestConfig", "IngestReport", "run", "load_prompts", "LanguageBatch", "SOURCE_FIELDS",
           "parse_source_args"]
VECTOR = "__vector__"
DEFAULT_LANGUAGE = "__default_language__"  # per-source fallback language, dropped after language id
LANGUAGE_UNCERTAIN = "language_uncertain"
CONTRAST_OF = "contrast_of"
LABEL_CONFLICT = "label_conflict"
DROP_KIND = "duplicate_kind"
DUPLICATES = "duplicates"  # the report's dataset of dropped rows, saved as NAME.duplicates
# options one source may override (`--source-args FILE:category_col=type,language=en`)
SOURCE_FIELDS = ("prompt_col", "response_col", "label_col", "lang_col", "category_col", "label", "language")


class IngestConfig(BaseModel):
    """Options of `curate ingest`."""

    model_config = ConfigDict(extra="forbid")

    prompt_col: str | None = None
    response_col: str | None = None
    label_col: str | None = None
    lang_col: str | None = None
    category_col: str | None = None
    label: str | None = Field(None, description="Label every row of these sources (harmful/benign).")
    language: str | None = Field(None, description="Language of rows whose language id is not confident.")
    languages: list[str] | None = Field(None, description="Candidate languages (default: `languages` setting).")
    min_language_confidence: float = Field(MIN_CONFIDENCE, ge=0, le=1)
    source_args: dict[str, dict[str, str]] = Field(default_factory=dict,
                                                   description="Per-source overrides of SOURCE_FIELDS.")
    skip_bad_lines: bool = Field(False, description="Skip malformed JSON lines (counted) instead of failing.")
    max_chars: int = Field(20_000, ge=1)
    near_dedupe: bool = True
    near_threshold: float = Field(0.95, gt=0, le=1)
    detect_language: bool = True
    embedding_model: str = DEFAULT_MODEL
    batch_size: int = 64
    device: str = "cpu"

    def mapping(self) -> dict[str, str | None]:
        return {C.PROMPT: self.prompt_col, C.RESPONSE: self.response_col, C.LABEL: self.label_col,
                C.LANGUAGE: self.lang_col, C.CATEGORY: self.category_col}

    def for_source(self, raw: str) -> IngestConfig:
        """This config with the overrides given for source `raw` (matched by the string or the file name)."""
        args = self.source_args.get(raw) or self.source_args.get(Path(raw).name) or {}
        return self.model_copy(update={k: (v or None) for k, v in args.items()}) if args else self


def parse_source_args(values: Sequence[str]) -> dict[str, dict[str, str]]:
    """`SOURCE:key=value[,key=value]` flags -> {source: {key: value}}; unknown keys are an InputError."""
    out: dict[str, dict[str, str]] = {}
    for value in values:
        source, sep, pairs = value.rpartition(":")
        if not sep or not source:
            raise InputError(f"--source-args expects SOURCE:key=value, got {value!r}",
                             "e.g. --source-args data/b.csv:category_col=type,language=en")
        for pair in pairs.split(","):
            key, eq, val = pair.partition("=")
            key = key.strip().replace("-", "_")
            if not eq or key not in SOURCE_FIELDS:
                raise InputError(f"--source-args {value!r}: unknown option {key!r}",
                                 f"use key=value with keys {', '.join(SOURCE_FIELDS)}")
            out.setdefault(source, {})[key] = val.strip()
    return out


@dataclass
class IngestReport(StageReport):
    """What ingest read, dropped and kept; the dropped rows are `datasets["duplicates"]` (see `duplicates`)."""

    read: int = 0
    empty: int = 0
    too_long: int = 0
    exact_duplicates: int = 0
    near_duplicates: int = 0
    contrast_pairs: int = 0
    label_conflicts: int = 0
    language_uncertain: int = 0
    bad_lines_skipped: int = 0
    kept: int = 0
    per_source: dict[str, int] = field(default_factory=dict)
    languages: dict[str, int] = field(default_factory=dict)

    @property
    def duplicates(self) -> Dataset:
        """The dropped rows (duplicates with `duplicate_of`, empty and over-long prompts), saved as NAME.duplicates."""
        return self.datasets[DUPLICATES]

    def why_empty(self, max_chars: int) -> str:
        """Why no row was kept, for the one-line error."""
        if self.read == 0:
            return "the sources hold no rows"
        if self.empty == self.read:
            return f"all {self.read} prompts are empty"
        if self.too_long == self.read:
            return f"all {self.read} prompts are longer than {max_chars} characters"
        return f"of {self.read} rows {self.empty} are empty and {self.too_long} longer than {max_chars} characters"


def load_prompts(raw_sources: Sequence[str], cfg: IngestConfig | None = None,
                 report: IngestReport | None = None) -> Dataset:
    """Read and normalize sources into one dataset (no filtering); used by ingest and `probe fit`.

    Each source uses `cfg.for_source(raw)`; with a per-source `language`, the hidden DEFAULT_LANGUAGE column holds
    it for language id."""
    cfg = cfg or IngestConfig()
    if not raw_sources:
        raise InputError("no source given", "pass at least one file, folder or Hub id")
    unknown = set(cfg.source_args) - set(raw_sources) - {Path(r).name for r in raw_sources}
    if unknown:
        raise InputError(f"--source-args names {', '.join(sorted(unknown))}, which is not a source of this ingest",
                         "use the source exactly as given on the command line (or its file name)")
    parts = []
    with_defaults = any(cfg.for_source(r).language for r in raw_sources)
    for raw in raw_sources:
        src_cfg = cfg.for_source(raw)
        with datasets_progress(False):
            spec, ds, skipped = read_source(raw, skip_bad_lines=cfg.skip_bad_lines)
        if report is not None:
            report.bad_lines_skipped += skipped
        with datasets_progress(is_long(len(ds))):
            part = normalize_source(ds, spec.name, src_cfg.mapping(), src_cfg.label,
                                    multi_source=len(raw_sources) > 1)
            if with_defaults:
                part = part.add_column(DEFAULT_LANGUAGE, [src_cfg.language or ""] * len(part))
            parts.append(part)
    return concatenate_datasets(parts) if len(parts) > 1 else parts[0]


def run(raw_sources: Sequence[str], cfg: IngestConfig, workspace_root: Path | None = None,
        engine: str | EngineConfig = "local", report: IngestReport | None = None) -> Dataset:
    """The kept rows; `report` (when given) gets the counts and, as `report.duplicates`, the dropped rows.

    `engine` runs language id and the near-dedupe embeddings in-process or on Ray; the ANN index is built once.
    """
    report = report if report is not None else IngestReport()
    ds = load_prompts(raw_sources, cfg, report)
    with datasets_progress(is_long(len(ds))):
        return _filter_and_dedupe(ds, cfg, workspace_root, engine, report)


class LanguageBatch:
    """Batch class of language id (`curation.core.engine.map_stage`): fills empty `language` cells with lingua, among
    the curated `languages`; a low-confidence row takes its source's default (DEFAULT_LANGUAGE, else `default`)
    and is flagged `language_uncertain`."""

    def __init__(self, languages: list[str] | None = None, default: str | None = None,
                 min_confidence: float = MIN_CONFIDENCE) -> None:
        self.languages, self.default, self.min_confidence = languages, default, min_confidence

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        langs = list(batch[C.LANGUAGE])
        uncertain = [False] * len(langs)
        defaults = batch.get(DEFAULT_LANGUAGE) or [self.default] * len(langs)
        missing = [i for i, lang in enumerate(langs) if not lang]
        by_default: dict[str | None, list[int]] = {}
        for i in missing:
            by_default.setdefault(defaults[i] or self.default or None, []).append(i)
        for default, rows in by_default.items():
            found, unsure = detect_with_confidence([batch[C.PROMPT][i] for i in rows], self.languages, default,
                                                   self.min_confidence)
            for i, lang, flag in zip(rows, found, unsure, strict=True):
                langs[i], uncertain[i] = lang, flag
        return {C.LANGUAGE: langs, LANGUAGE_UNCERTAIN: uncertain}


def _embed_prompts(ds: Dataset, cfg: IngestConfig, workspace_root: Path | None,
                   engine: str | EngineConfig) -> np.ndarray:
    """Embeddings of `ds[prompt]` on the engine, through the workspace cache (the probe scorer reuses them)."""
    from datasets import Features, Sequence, Value

    if len(ds) == 0:
        return np.zeros((0, get_encoder(cfg.embedding_model, device=cfg.device).dim), dtype=np.float32)
    kwargs = {"model": cfg.embedding_model, "device": cfg.device, "batch_size": cfg.batch_size,
              "workspace_root": str(workspace_root) if workspace_root else None, "out_column": VECTOR}
    local = EmbedBatch(**kwargs)
    features = Features({C.PROMPT: Value("string"), VECTOR: Sequence(Value("float32"), length=local.encoder.dim)})
    fingerprint = stage_fingerprint(ds._fingerprint, "ingest.embed.v1", kwargs, local.encoder.model_id)
    out = map_stage(ds, EmbedBatch, kwargs, engine=engine, batch_size=max(1024, cfg.batch_size), features=features,
                    fingerprint=fingerprint, reuse_cache=False, desc="embed (near-dedupe)", instance=local)
    return np.asarray(out.with_format("numpy")[VECTOR], dtype=np.float32)


def _add_columns(ds: Dataset, columns: dict[str, list], features: Features | None = None) -> Dataset:
    """`ds` with new columns, written as one new table (chained `add_column` on sliced tables breaks in datasets)."""
    if features is None:
        features = ds.features.copy()
        for name, values in columns.items():
            features[name] = Dataset.from_dict({name: values}).features[name] if values else Value("string")
    with datasets_progress(False):
        return ds.map(lambda _, idx: {n: [v[i] for i in idx] for n, v in columns.items()}, batched=True,
                      with_indices=True, features=features)


def _known(value: str | None, unknown: tuple[str, ...] = ("", "unknown")) -> str | None:
    text = (value or "").strip().lower()
    return None if text in unknown else text


def _filter_and_dedupe(ds: Dataset, cfg: IngestConfig, workspace_root: Path | None,
                       engine: str | EngineConfig = "local",
                       report: IngestReport | None = None) -> Dataset:
    """Kept rows; the dropped ones (empty, too long, duplicates: `duplicate_kind`, `duplicate_of`) go to
    `report.duplicates`."""
    report = report if report is not None else IngestReport()
    report.read = len(ds)
    for name in ds.unique(C.SOURCE):
        report.per_source[name] = 0

    raw_prompts = ds[C.PROMPT][:]
    reasons = ["empty" if not p.strip() else "too_long" if len(p) > cfg.max_chars else "" for p in raw_prompts]
    del raw_prompts
    report.empty, report.too_long = reasons.count("empty"), reasons.count("too_long")
    rejected = ds.select([i for i, r in enumerate(reasons) if r])
    rejected_kinds = [r for r in reasons if r]
    ds = ds.select([i for i, r in enumerate(reasons) if not r]) if any(reasons) else ds
    if len(ds) == 0:
        raise InputError(f"ingest kept no row: {report.why_empty(cfg.max_chars)}",
                         "check --prompt-col and the sources, or raise --max-chars")

    if cfg.detect_language:
        features = ds.features.copy()
        features[LANGUAGE_UNCERTAIN] = Value("bool")
        kwargs = {"languages": cfg.languages, "default": cfg.language, "min_confidence": cfg.min_language_confidence}
        ds = map_stage(ds, LanguageBatch, kwargs, engine=engine, batch_size=1000, desc="language id",
                       features=features)
    else:
        ds = _add_columns(ds, {LANGUAGE_UNCERTAIN: [False] * len(ds)})
    if DEFAULT_LANGUAGE in ds.column_names:
        ds = ds.remove_columns(DEFAULT_LANGUAGE)
        rejected = rejected.remove_columns(DEFAULT_LANGUAGE)

    prompts = ds[C.PROMPT][:]  # lists: per-row access to a lazy datasets Column is slow at 1M rows
    labels = [_known(x) for x in ds[C.LABEL][:]]
    categories = [_known(x) for x in ds[C.CATEGORY][:]]
    dups = exact_duplicates(prompts)
    dropped = {d.index: d for d in dups}
    conflicts: set[int] = set()
    for d in dups:
        if labels[d.index] and labels[d.kept] and labels[d.index] != labels[d.kept]:
            conflicts.add(d.kept)
    report.exact_duplicates, report.label_conflicts = len(dups), len(conflicts)
    contrasts: list[Duplicate] = []
    if cfg.near_dedupe:
        survivors = [i for i in range(len(ds)) if i not in dropped]

        def compatible(a: int, b: int) -> bool:  # same label and category where both are known
            a, b = survivors[a], survivors[b]
            return not ((labels[a] and labels[b] and labels[a] != labels[b])
                        or (categories[a] and categories[b] and categories[a] != categories[b]))

        vectors = _embed_prompts(ds.select(survivors).select_columns([C.PROMPT]), cfg, workspace_root, engine)
        near = near_duplicates(vectors, cfg.near_threshold, compatible=compatible, contrasts=contrasts)
        for d in near:
            dropped[survivors[d.index]] = type(d)(survivors[d.index], survivors[d.kept], d.kind, d.similarity)
        contrasts = [Duplicate(survivors[c.index], survivors[c.kept], c.kind, c.similarity) for c in contrasts]
        report.near_duplicates = len(near)
    report.contrast_pairs = len(contrasts)

    ids = ds[C.ID][:]
    keep_idx = [i for i in range(len(ds)) if i not in dropped]
    drop_idx = sorted(dropped)
    contrast_of = dict.fromkeys(range(len(ds)))
    for c in contrasts:
        contrast_of[c.index] = ids[c.kept]
    kept_features = ds.features.copy()
    kept_features[CONTRAST_OF], kept_features[LABEL_CONFLICT] = Value("string"), Value("bool")
    kept = _add_columns(ds, {CONTRAST_OF: [contrast_of[i] for i in range(len(ds))],
                             LABEL_CONFLICT: [i in conflicts for i in range(len(ds))]}, kept_features)
    kept = kept.select(keep_idx)
    removed_features = ds.features.copy()
    removed_features.update({C.DUPLICATE_OF: Value("string"), DROP_KIND: Value("string"),
                             "similarity": Value("float64")})
    removed = _add_columns(ds.select(drop_idx), {C.DUPLICATE_OF: [ids[dropped[i].kept] for i in drop_idx],
                                                 DROP_KIND: [dropped[i].kind for i in drop_idx],
                                                 "similarity": [dropped[i].similarity for i in drop_idx]},
                           removed_features)
    if len(rejected):  # empty and over-long rows are kept with the duplicates, so nothing vanishes
        n = len(rejected)
        rejected = _add_columns(rejected, {LANGUAGE_UNCERTAIN: [False] * n, C.DUPLICATE_OF: [None] * n,
                                           DROP_KIND: rejected_kinds, "similarity": [None] * n}, removed_features)
        removed = concatenate_datasets([removed, rejected])
    report.kept = len(kept)
    report.language_uncertain = sum(kept[LANGUAGE_UNCERTAIN][:])
    for name in kept[C.SOURCE][:]:
        report.per_source[name] += 1
    for lang in kept[C.LANGUAGE][:]:
        report.languages[lang or "und"] = report.languages.get(lang or "und", 0) + 1
    report.datasets[DUPLICATES] = removed
    return kept


def refuse_overwrite(ws: Any, name: str, overwrite: bool = False) -> None:
    """Re-ingesting over a dataset that later stages extended would silently lose their columns: refuse (InputError)
    unless `overwrite`."""
    if overwrite or not ws.has_dataset(name):
        return
    ingest_columns = {*C.NORMALIZED_COLUMNS, CONTRAST_OF, LABEL_CONFLICT, LANGUAGE_UNCERTAIN}
    later = sorted(set(ws.load_dataset(name).column_names) - ingest_columns)
    if later:
        raise InputError(f"'{name}' already holds columns of later stages ({', '.join(later[:5])})",
                         "ingest under another --name, or pass --overwrite to replace it")


def sample_prompts(sources: Sequence[str], prompt_col: str | None = None, max_rows: int | None = None, seed: int = 0,
                   label: str | None = None) -> Dataset:
    """The normalized prompts of `sources` (every row labelled `label` when given), a seeded sample of `max_rows`."""
    ds = load_prompts(list(sources), IngestConfig(prompt_col=prompt_col, label=label))
    if max_rows and len(ds) > max_rows:
        ds = ds.shuffle(seed=seed).select(range(max_rows))
    return ds
