"""Executors for the heavy stages: the same batch class runs in-process (`datasets.Dataset.map`, optionally sharded
with `num_proc`) or on Ray Data (`map_batches` with an actor pool), so no stage has a second implementation.

A batch class is built once per worker with keyword arguments (`batch_cls(**kwargs)`: it loads its models there)
and is called on `dict[str, list]` batches, returning the new columns as `dict[str, list]`.
`map_stage(ds, batch_cls, kwargs, engine="ray")` reads `RAY_ADDRESS` to join a cluster (a local Ray otherwise).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from datasets import Dataset, Features
from pydantic import BaseModel, ConfigDict, Field, field_validator

from curation.core.errors import InputError, ServiceError
from curation.core.progress import datasets_progress, is_long
from curation.core.registry import engines, resolve

__all__ = ["EngineConfig", "engines", "map_stage", "ENGINES", "ensure_ray"]

ENGINES = ("local", "ray")
ROW_INDEX = "__curate_row__"


class BatchFn(Protocol):
    def __call__(self, batch: dict[str, list]) -> dict[str, list]: ...


class EngineConfig(BaseModel):
    """How a stage is executed: in-process (optionally `num_proc` shards) or on Ray (`concurrency` actors)."""

    model_config = ConfigDict(extra="forbid")

    engine: str = Field("local", description="local or ray.")
    num_proc: int | None = Field(None, ge=1, description="local: worker processes for Dataset.map.")
    concurrency: int | None = Field(None, ge=1, description="ray: actors per stage (default: the CPUs Ray has).")
    num_gpus: float = Field(0.0, ge=0, description="ray: GPUs per actor (use with device=cuda).")
    scratch: str | None = Field(None, description="ray: folder for the parquet output (shared storage on a "
                                                  "multi-node cluster); default a temp folder.")

    @field_validator("engine")
    @classmethod
    def _known(cls, name: str) -> str:
        if name not in engines:  # `local` is an alias of `local.v1`
            raise ValueError(f"unknown engine '{name}'; known engines: {', '.join(engines.names())}")
        return name


class LazyBatch:
    """Picklable stand-in that builds the batch object in the worker that first calls it (num_proc shards)."""

    def __init__(self, batch_cls: type, kwargs: dict[str, Any]) -> None:
        self.batch_cls, self.kwargs, self._fn = batch_cls, kwargs, None

    def __getstate__(self) -> dict[str, Any]:
        return {"batch_cls": self.batch_cls, "kwargs": self.kwargs, "_fn": None}

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        if self._fn is None:
            self._fn = self.batch_cls(**self.kwargs)
        return self._fn(batch)


def map_stage(ds: Dataset, batch_cls: type, kwargs: dict[str, Any], *, engine: str | EngineConfig = "local",
              batch_size: int = 256, features: Features | None = None, fingerprint: str | None = None,
              desc: str = "", instance: BatchFn | None = None, show_progress: bool | None = None,
              reuse_cache: bool | None = None) -> Dataset:
    """`ds` plus the columns `batch_cls(**kwargs)` returns for each batch, in the same row order on every engine.

    `instance` is an already-built object the local engine may reuse (so a caller that loaded it keeps its state).
    `fingerprint` names the result (no hashing of loaded models); `reuse_cache` (default: when fingerprinted) lets
    the local engine reuse a `datasets` cache file of the same fingerprint.
    """
    cfg = engine if isinstance(engine, EngineConfig) else EngineConfig(engine=engine)
    run = resolve(engines, cfg.engine, "engine")
    progress = is_long(len(ds)) if show_progress is None else show_progress
    return run(ds, batch_cls, kwargs, cfg, batch_size=batch_size, features=features, fingerprint=fingerprint,
               desc=desc, instance=instance, show_progress=progress,
               reuse_cache=fingerprint is not None if reuse_cache is None else reuse_cache)


@engines.register("local.v1")
def run_local(ds: Dataset, batch_cls: type, kwargs: dict[str, Any], cfg: EngineConfig, *, batch_size: int,
              features: Features | None, fingerprint: str | None, desc: str, instance: BatchFn | None,
              show_progress: bool, reuse_cache: bool) -> Dataset:
    """`Dataset.map(batched=True)`; with num_proc > 1 each shard process builds its own batch object."""
    shards = cfg.num_proc if cfg.num_proc and cfg.num_proc > 1 and len(ds) > batch_size else None
    fn: Callable[[dict[str, list]], dict[str, list]]
    if shards:
        fn = LazyBatch(batch_cls, kwargs)
    else:
        fn = instance if instance is not None else batch_cls(**kwargs)
    with datasets_progress(show_progress):
        return ds.map(fn, batched=True, batch_size=batch_size, features=features, new_fingerprint=fingerprint,
                      num_proc=shards, desc=desc or None, load_from_cache_file=reuse_cache)


def ensure_ray(num_cpus: int | None = None) -> Any:
    """Join the cluster at RAY_ADDRESS, or start a local Ray (once per process); return the `ray` module."""
    try:
        import ray
    except ImportError:
        raise InputError("the ray engine needs Ray Data", "pip install 'refusal-curation[scale]' (ray[data])") from None
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS") or None
        try:
            ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False,
                     log_to_driver=False, ignore_reinit_error=True, logging_level="WARNING")
        except ConnectionError as err:
            raise ServiceError(f"cannot reach the Ray cluster at RAY_ADDRESS={address}: {str(err)[:160]}",
                               "start it with `ray start --head` or unset RAY_ADDRESS for a local Ray") from None
    return ray


class _RayAdapter:
    """Ray actor: builds the batch object once, converts Arrow batches to/from `dict[str, list]`."""

    def __init__(self, batch_cls: type, kwargs: dict[str, Any], keep: list[str]) -> None:
        self.fn = LazyBatch(batch_cls, kwargs)  # built on the thread that calls it (sqlite, spaCy state)
        self.keep = keep

    def __call__(self, table: Any) -> Any:
        import pyarrow as pa

        batch = table.to_pydict()
        new = self.fn({k: v for k, v in batch.items() if k != ROW_INDEX})
        out = {k: batch[k] for k in self.keep if k not in new}
        out.update(new)
        return pa.Table.from_pydict(out)


@engines.register("ray.v1")
def run_ray(ds: Dataset, batch_cls: type, kwargs: dict[str, Any], cfg: EngineConfig, *, batch_size: int,
            features: Features | None, fingerprint: str | None, desc: str, instance: BatchFn | None,
            show_progress: bool, reuse_cache: bool) -> Dataset:
    """Ray Data `map_batches` over an actor pool; the output is written as parquet and read back by `datasets`."""
    ray = ensure_ray()
    import ray.data as ray_data

    context = ray_data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = show_progress
    ray_cpus = int(ray.cluster_resources().get("CPU", 1))
    concurrency = cfg.concurrency or max(1, ray_cpus)
    indexed = ds.add_column(ROW_INDEX, list(range(len(ds))))
    blocks = max(1, min(-(-len(ds) // batch_size), max(concurrency * 2, -(-len(ds) // (batch_size * 8)))))
    source = ray_data.from_huggingface(indexed, override_num_blocks=blocks)  # enough blocks to feed every actor
    mapped = source.map_batches(_RayAdapter, fn_constructor_kwargs={"batch_cls": batch_cls, "kwargs": kwargs,
                                                                     "keep": [*ds.column_names, ROW_INDEX]},
                                batch_size=batch_size, batch_format="pyarrow", concurrency=concurrency,
                                num_gpus=cfg.num_gpus or None, num_cpus=1)
    scratch = Path(cfg.scratch) if cfg.scratch else None
    with tempfile.TemporaryDirectory(prefix="curate-ray-", dir=scratch) as tmp:
        mapped.write_parquet(str(Path(tmp) / "out"))
        files = sorted(str(p) for p in (Path(tmp) / "out").glob("*.parquet"))
        if not files:
            return ds.map(instance or batch_cls(**kwargs), batched=True, features=features)  # empty input
        read_features = None
        if features is not None:
            read_features = features.copy()
            read_features[ROW_INDEX] = indexed.features[ROW_INDEX]
        with datasets_progress(False):
            out = Dataset.from_parquet(files, features=read_features, cache_dir=str(Path(tmp) / "cache"),
                                       keep_in_memory=True)
        rows = out[ROW_INDEX]
        if any(b < a for a, b in zip(rows, rows[1:], strict=False)):
            out = out.sort(ROW_INDEX).flatten_indices()
        out = out.remove_columns(ROW_INDEX)
    order = [c for c in (features or out.features) if c in out.column_names]
    return out.select_columns(order) if order != out.column_names else out


def engine_options(engine: str = "local", num_proc: int | None = None, concurrency: int | None = None
                   ) -> EngineConfig:
    """The EngineConfig of the `--engine/--num-proc/--concurrency` CLI options (RAY_ADDRESS picks the cluster)."""
    return EngineConfig(engine=engine, num_proc=num_proc, concurrency=concurrency)
