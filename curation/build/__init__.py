"""Build stage: gold datasets -> one `datasets.DatasetDict` per named config (triggers, boundary, sft, dpo,
morbench), with deterministic stratified splits that keep near-duplicates together; saved with lineage."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from datasets import Dataset, DatasetDict
from pydantic import BaseModel

from .. import columns as C
from ..embeddings import embed, get_encoder, workspace_cache
from ..errors import InputError
from ..progress import datasets_progress
from ..registry import builders, resolve
from ..workspace import Workspace, atomic_dir
from . import boundary, chat, triggers  # noqa: F401 - register the builders
from .config import BuildConfig, load_build_config
from .context import BuildContext, code_version
from .splits import assign_splits, near_duplicate_groups

__all__ = ["BuildConfig", "BuildResult", "load_build_config", "run", "save_build", "load_build", "split_rows"]
BUILD_FILE = "build.json"


@dataclass
class BuildResult:
    """The built DatasetDicts and their lineage (sources, configs, code, annotation snapshots)."""

    name: str
    configs: dict[str, DatasetDict]
    lineage: dict[str, Any]

    def row_counts(self) -> dict[str, dict[str, int]]:
        return {name: {split: len(ds) for split, ds in dd.items()} for name, dd in self.configs.items()}


def split_text(ds: Dataset) -> list[str]:
    """The text near-duplicates are judged on: `prompt`, else the first user message."""
    if C.PROMPT in ds.column_names:
        return list(ds[C.PROMPT])
    return [next((m["content"] for m in msgs if m["role"] == "user"), "") for msgs in ds[C.MESSAGES]]


def split_rows(ds: Dataset, cfg: BuildConfig, workspace_root: Path | None = None,
               stratify: tuple[str, ...] = ()) -> DatasetDict:
    """Assign every row to a split (seeded, stratified by `cfg.stratify_by` + `stratify`, near-duplicate groups kept
    whole)."""
    if len(ds) == 0:
        return DatasetDict({name: ds for name in cfg.splits})
    texts = split_text(ds)
    encoder = get_encoder(cfg.embedding_model)
    cache = workspace_cache(workspace_root, encoder.model_id) if workspace_root else None
    vectors = embed(texts, encoder, cache, show_progress=len(texts) > 2000)
    groups = near_duplicate_groups(vectors, cfg.near_dup_threshold, texts)
    strata_cols = [c for c in dict.fromkeys([*cfg.stratify_by, *stratify]) if c in ds.column_names]
    strata = ["|".join(str(ds[c][i]) for c in strata_cols) for i in range(len(ds))] if strata_cols else [""] * len(ds)
    assigned = assign_splits(list(ds[C.ID]), strata, groups, cfg.splits, cfg.seed)
    with datasets_progress(False):
        return DatasetDict({name: ds.select([i for i, s in enumerate(assigned) if s == name]) for name in cfg.splits})


def _unique_ids(ds: Dataset) -> Dataset:
    seen: set[str] = set()
    keep = [i for i, rid in enumerate(ds[C.ID]) if not (rid in seen or seen.add(rid))]
    return ds if len(keep) == len(ds) else ds.select(keep)


def run(cfg: BuildConfig, sub: dict[str, BaseModel], workspace: Workspace) -> BuildResult:
    """Build every named config from its gold datasets."""
    ctx = BuildContext(workspace, seed=cfg.seed)
    out = {}
    for name, sub_cfg in sub.items():
        builder = resolve(builders, name, "build config")
        rows = _unique_ids(builder.build(sub_cfg, ctx))
        if len(rows) == 0:
            raise InputError(f"config '{name}' produced no rows", f"check configs.{name} and its gold datasets")
        out[name] = split_rows(rows, cfg, workspace.root, builder.stratify)
        if builder.derived is not None:
            out.update(builder.derived(sub_cfg, out[name], ctx))
    lineage = {
        "build": cfg.version_name, "built_at": datetime.now(UTC).isoformat(), "code_version": code_version(),
        "sources": ctx.sources,
        "stage_configs": {"build": cfg.model_dump(), **{f"build.{k}": v.model_dump(by_alias=True)
                                                        for k, v in sub.items()}},
        "license": cfg.license, "description": cfg.description,
    }
    return BuildResult(cfg.version_name, out, lineage)


def build_dir(workspace: Workspace, name: str) -> Path:
    return workspace.path("builds", name)


def save_build(result: BuildResult, workspace: Workspace) -> Path:
    """Save each DatasetDict and build.json under builds/<name>/, atomically (a rebuild replaces it whole)."""
    target = build_dir(workspace, result.name)
    with atomic_dir(target) as tmp, datasets_progress(False):
        for name, dd in result.configs.items():  # empty splits cannot be reloaded from disk; leave them out
            DatasetDict({split: ds for split, ds in dd.items() if len(ds)}).save_to_disk(str(tmp / name))
        info = {**result.lineage, "configs": sorted(result.configs), "rows": result.row_counts()}
        (tmp / BUILD_FILE).write_text(json.dumps(info, indent=2, sort_keys=True, default=str) + "\n")
    return target


def load_build(workspace: Workspace, name: str) -> BuildResult:
    """A saved build by name (or folder path)."""
    from datasets import load_from_disk

    folder = Path(name) if (Path(name) / BUILD_FILE).exists() else build_dir(workspace, name)
    if not (folder / BUILD_FILE).exists():
        known = sorted(p.name for p in workspace.path("builds").glob("*") if (p / BUILD_FILE).exists()) \
            if workspace.path("builds").exists() else []
        raise InputError(f"no build named '{name}' in {workspace.root}",
                         f"known: {', '.join(known) or 'none'}; run `curate build --config build.yaml`")
    info = json.loads((folder / BUILD_FILE).read_text())
    configs = {c: load_from_disk(str(folder / c)) for c in info["configs"]}
    lineage = {k: v for k, v in info.items() if k not in ("configs", "rows")}
    return BuildResult(info["build"], configs, lineage)
