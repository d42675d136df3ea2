"""Ingest stage: read prompt sources, normalize, identify the language, drop bad rows, dedupe.

The stage itself lives in `stage.py`; this module only re-exports its public names."""

from curation.ingest.stage import (
    CONTRAST_OF,
    LABEL_CONFLICT,
    LANGUAGE_UNCERTAIN,
    IngestConfig,
    IngestReport,
    load_prompts,
    parse_source_args,
    run,
)

__all__ = [
    "CONTRAST_OF",
    "IngestConfig",
    "IngestReport",
    "LABEL_CONFLICT",
    "LANGUAGE_UNCERTAIN",
    "load_prompts",
    "parse_source_args",
    "run",
]
