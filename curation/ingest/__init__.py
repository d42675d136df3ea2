"""Ingest stage: read prompt sources, normalize, identify the language, drop bad rows, dedupe.

The stage itself lives in `stage.py`; this module only re-exports its public names."""

from curation.ingest.stage import (
    CONTRAST_OF,
    LABEL_CONFLICT,
    LANGUAGE_UNCERTAIN,
    IngestConfig,
    IngestReport,
    LanguageBatch,
    load_prompts,
    parse_source_args,
    refuse_overwrite,
    run,
    sample_prompts,
)

__all__ = [
    "CONTRAST_OF",
    "IngestConfig",
    "IngestReport",
    "LABEL_CONFLICT",
    "LANGUAGE_UNCERTAIN",
    "LanguageBatch",
    "load_prompts",
    "parse_source_args",
    "refuse_overwrite",
    "run",
    "sample_prompts",
]
