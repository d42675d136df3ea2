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

from curation.build import boundary, chat, triggers  # noqa: F401 - register the builders
from curation.build.config import BuildConfig, load_build_config
from curation.build.context import BuildContext, code_version
from curation.build.splits import assign_splits, link_groups, near_duplicate_groups
from curation.core import columns as C
from curation.core.errors import InputError
from curation.core.progress import datasets_progress
from curation.core.registry import builders, resolve
from curation.core.workspace import Workspace, atomic_dir
from curation.models.embeddings import embed, get_encoder, workspace_cache

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
               stratify: tuple[str, ...] = (), links: list[tuple[str, str]] | None = None) -> DatasetDict:
    """Assign every row to a split (seeded, stratified by `cfg.stratify_by` + `stratify`, near-duplicate groups and
    linked ids such as contrast pairs kept whole)."""
    if len(ds) == 0:
        return DatasetDict({name: ds for name in cfg.splits})
    texts = split_text(ds)
    encoder = get_encoder(cfg.embedding_model)
    cache = workspace_cache(workspace_root, encoder.model_id) if workspace_root else None
    vectors = embed(texts, encoder, cache, show_progress=len(texts) > 2000)
    groups = near_duplicate_groups(vectors, cfg.near_dup_threshold, texts)
    if links:
        groups = link_groups(groups, list(ds[C.ID]), links)
    strata_cols = [c for c in dict.fromkeys([*cfg.stratify_by, *stratify]) if c in ds.column_names]
    strata = ["|".join(str(ds[c][i]) for c in strata_cols) for i in range(len(ds))] if strata_cols else [""] * len(ds)
    assigned = assign_splits(list(ds[C.ID]), strata, groups, cfg.splits, cfg.seed)
    with datasets_progress(False):
        return DatasetDict({name: ds.select([i for i, s in enumerate(assigned) if s == name]) for name in cfg.splits})


def _unique_ids(ds: Dataset) -> Dataset:
    seen: set[str] = set()
    keep = [i for i, rid in enumerate(ds[C.ID]) if not (rid in seen or seen.add(rid))]
    return ds if len(keep) == len(ds) else ds.select(keep)


def run(cfg: BuildConfig, sub: dict[str, BaseModel], workspace: Workspace,
        allow_simulated: bool = False) -> BuildResult:
    """Build every named config from its gold datasets; gold resting on simulated answers needs `allow_simulated`.
    The lineage records who annotated, what each config left out and why (`exclusions`), and the mix as built."""
    ctx = BuildContext(workspace, seed=cfg.seed, allow_simulated=allow_simulated)
    out = {}
    skipped: dict[str, dict[str, int]] = {}
    for name, sub_cfg in sub.items():
        builder = resolve(builders, name, "build config")
        rows = _unique_ids(builder.build(sub_cfg, ctx))
        if len(rows) == 0 and ctx.exclusions.get(name):  # every row was left out for a reason: report, go on
            skipped[name] = ctx.exclusions[name]
            continue
        if len(rows) == 0:
            raise InputError(f"config '{name}' produced no rows", f"check configs.{name} and its gold datasets")
        out[name] = DatasetDict({"test": rows}) if builder.test_only else \
            split_rows(rows, cfg, workspace.root, builder.stratify, ctx.contrast_links())
        if builder.derived is not None:
            out.update(builder.derived(sub_cfg, out[name], ctx))
    if not out:
        raise InputError("every config lost all its rows: " + "; ".join(f"{n}: {r}" for n, r in skipped.items()),
                         "regenerate answers with a larger --max-new-tokens, or set keep_truncated: true")
    lineage = {
        "build": cfg.version_name, "built_at": datetime.now(UTC).isoformat(), "code_version": code_version(),
        "sources": ctx.sources,
        "stage_configs": {"build": cfg.model_dump(), **{f"build.{k}": v.model_dump(by_alias=True)
                                                        for k, v in sub.items()}},
        "license": cfg.license, "description": cfg.description,
        "annotation": annotation_summary(ctx.sources, allow_simulated),
        "exclusions": ctx.exclusions, "skipped_configs": skipped,
        "mix": {name: _mix_as_built(out[name]) for name in out if name == "sft"},
    }
    return BuildResult(cfg.version_name, out, lineage)


def annotation_summary(sources: dict[str, dict[str, Any]], allow_simulated: bool) -> dict[str, Any]:
    """Who gave the gold of a build, over all its sources: people, simulated annotators, imported labels."""
    people = simulated = simulated_rows = imported = 0
    for info in sources.values():
        who = info.get("annotators") or {}
        people = max(people, who.get("people", 0))
        simulated = max(simulated, who.get("simulated", 0))
        simulated_rows += who.get("simulated_rows", 0)
        imported += who.get("source_label_rows", 0)
    return {"people": people, "simulated": simulated, "simulated_rows": simulated_rows,
            "source_label_rows": imported, "allow_simulated": allow_simulated}


def _mix_as_built(dd: DatasetDict) -> dict[str, int]:
    """Rows per `kind` of the built sft config (curated vs mixed-in), over all splits."""
    counts: dict[str, int] = {}
    for ds in dd.values():
        for kind in ds["kind"] if "kind" in ds.column_names else []:
            counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items()))


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
