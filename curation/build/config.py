"""Build configuration: YAML validated by pydantic; unknown keys fail with an error that names the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from curation.core.config import load_model
from curation.models.embeddings import DEFAULT_MODEL

SEMVER_HINT = "use MAJOR.MINOR.PATCH, e.g. 1.0.0"


class SourceConfig(BaseModel):
    """Common keys of every build config: where its gold comes from."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: list[str] = Field(..., alias="from", description="Gold datasets (workspace names, e.g. demo.gold).")
    skip_unresolved: bool = Field(False, description="Drop rows whose required gold is still missing, not fail.")

    @field_validator("from_", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class BuildConfig(BaseModel):
    """`build.yaml`: a name, a seed, split ratios and one entry per named config (validated by its builder)."""

    model_config = ConfigDict(extra="forbid")

    version_name: str = Field(..., pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    seed: int = 0
    splits: dict[str, float] = Field(default_factory=lambda: {"train": 0.8, "test": 0.2})
    stratify_by: list[str] = Field(default_factory=lambda: ["label", "language", "source"])
    near_dup_threshold: float = Field(0.9, gt=0, le=1, description="MiniLM cosine at which prompts share a split.")
    embedding_model: str = DEFAULT_MODEL
    license: str = "cc-by-4.0"
    description: str = ""
    configs: dict[str, dict[str, Any]]

    @field_validator("splits")
    @classmethod
    def _ratios(cls, value: dict[str, float]) -> dict[str, float]:
        if not value or any(r <= 0 for r in value.values()) or abs(sum(value.values()) - 1) > 1e-6:
            raise ValueError(f"split ratios must be positive and sum to 1, got {value}")
        return value

    @field_validator("configs")
    @classmethod
    def _some(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        if not value:
            raise ValueError("name at least one config (triggers, boundary, sft, dpo, morbench)")
        return {k: dict(v or {}) for k, v in value.items()}


def load_build_config(source: Path | dict[str, Any]) -> tuple[BuildConfig, dict[str, BaseModel]]:
    """The build config and each named config validated by its registered builder's model."""
    from curation.core.registry import builders, resolve

    where = str(source) if isinstance(source, Path) else "build config"
    cfg = load_model(source, BuildConfig, where=where)
    sub = {}
    for name, raw in cfg.configs.items():
        builder = resolve(builders, name, "build config")
        sub[name] = load_model(raw, builder.config_model, where=where, prefix=f"configs.{name}")
    return cfg, sub
