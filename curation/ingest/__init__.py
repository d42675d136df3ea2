"""Ingest stage: read prompt sources, normalize, identify language, drop empty/over-long rows, dedupe."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from datasets import Dataset, concatenate_datasets
from pydantic import BaseModel, ConfigDict, Field

from .. import columns as C
from ..embeddings import DEFAULT_MODEL, EmbedBatch, get_encoder
from ..engine import EngineConfig, map_stage
from ..errors import InputError
from ..hashing import config_hash
from ..progress import datasets_progress, is_long
from .dedupe import exact_duplicates, near_duplicates
from .langid import detect_languages
from .normalize import normalize_source
from .sources import read_source

__all__ = ["IngestConfig", "IngestReport", "run", "load_prompts", "LanguageBatch"]
VECTOR = "__vector__"


class IngestConfig(BaseModel):
    """Options of `curate ingest`."""

    model_config = ConfigDict(extra="forbid")

    prompt_col: str | None = None
    response_col: str | None = None
    label_col: str | None = None
    lang_col: str | None = None
    category_col: str | None = None
    label: str | None = Field(None, description="Label every row of these sources (harmful/benign).")
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


@dataclass
class IngestReport:
    read: int = 0
    empty: int = 0
    too_long: int = 0
    exact_duplicates: int = 0
    near_duplicates: int = 0
    kept: int = 0
    per_source: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def load_prompts(raw_sources: Sequence[str], cfg: IngestConfig | None = None) -> Dataset:
    """Read and normalize sources into one dataset (no filtering); used by ingest and `probe fit`."""
    cfg = cfg or IngestConfig()
    if not raw_sources:
        raise InputError("no source given", "pass at least one file, folder or Hub id")
    parts = []
    for raw in raw_sources:
        with datasets_progress(False):
            spec, ds = read_source(raw)
        with datasets_progress(is_long(len(ds))):
            parts.append(normalize_source(ds, spec.name, cfg.mapping(), cfg.label))
    return concatenate_datasets(parts) if len(parts) > 1 else parts[0]


def run(raw_sources: Sequence[str], cfg: IngestConfig, workspace_root: Path | None = None,
        engine: str | EngineConfig = "local") -> tuple[Dataset, Dataset, IngestReport]:
    """Return (kept rows, dropped duplicate rows with `duplicate_of`, report).

    `engine` runs language id and the near-dedupe embeddings in-process or on Ray; the ANN index is built once.
    """
    ds = load_prompts(raw_sources, cfg)
    with datasets_progress(is_long(len(ds))):
        return _filter_and_dedupe(ds, cfg, workspace_root, engine)


class LanguageBatch:
    """Batch class of language id (`curation.engine.map_stage`): fills empty `language` cells with lingua."""

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        missing = [i for i, lang in enumerate(batch[C.LANGUAGE]) if not lang]
        detected = detect_languages([batch[C.PROMPT][i] for i in missing]) if missing else []
        langs = list(batch[C.LANGUAGE])
        for i, lang in zip(missing, detected, strict=True):
            langs[i] = lang
        return {C.LANGUAGE: langs}


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
    fingerprint = config_hash([ds._fingerprint, "ingest.embed.v1", kwargs, local.encoder.model_id])
    out = map_stage(ds, EmbedBatch, kwargs, engine=engine, batch_size=max(1024, cfg.batch_size), features=features,
                    fingerprint=fingerprint, reuse_cache=False, desc="embed (near-dedupe)", instance=local)
    return np.asarray(out.with_format("numpy")[VECTOR], dtype=np.float32)


def _filter_and_dedupe(ds: Dataset, cfg: IngestConfig, workspace_root: Path | None,
                       engine: str | EngineConfig = "local") -> tuple[Dataset, Dataset, IngestReport]:
    report = IngestReport(read=len(ds))
    for name in ds.unique(C.SOURCE):
        report.per_source[name] = 0

    def keep_row(batch: dict[str, list]) -> list[bool]:
        return [bool(p.strip()) and len(p) <= cfg.max_chars for p in batch[C.PROMPT]]

    raw_prompts = ds[C.PROMPT][:]
    report.empty = sum(1 for p in raw_prompts if not p.strip())
    report.too_long = sum(1 for p in raw_prompts if len(p) > cfg.max_chars)
    del raw_prompts
    ds = ds.filter(keep_row, batched=True, desc="drop empty/long")

    if cfg.detect_language:
        ds = map_stage(ds, LanguageBatch, {}, engine=engine, batch_size=1000, desc="language id",
                       features=ds.features)

    prompts = ds[C.PROMPT][:]  # lists: per-row access to a lazy datasets Column is slow at 1M rows
    dups = exact_duplicates(prompts)
    dropped = {d.index: d for d in dups}
    report.exact_duplicates = len(dups)
    if cfg.near_dedupe:
        survivors = [i for i in range(len(ds)) if i not in dropped]
        vectors = _embed_prompts(ds.select(survivors).select_columns([C.PROMPT]), cfg, workspace_root, engine)
        near = near_duplicates(vectors, cfg.near_threshold)
        for d in near:
            dropped[survivors[d.index]] = type(d)(survivors[d.index], survivors[d.kept], d.kind, d.similarity)
        report.near_duplicates = len(near)

    ids = ds[C.ID][:]
    keep_idx = [i for i in range(len(ds)) if i not in dropped]
    drop_idx = sorted(dropped)
    kept = ds.select(keep_idx)
    removed = ds.select(drop_idx).add_column(C.DUPLICATE_OF, [ids[dropped[i].kept] for i in drop_idx])
    removed = removed.add_column("duplicate_kind", [dropped[i].kind for i in drop_idx])
    removed = removed.add_column("similarity", [dropped[i].similarity for i in drop_idx])
    report.kept = len(kept)
    for name in kept[C.SOURCE][:]:
        report.per_source[name] += 1
    return kept, removed, report
