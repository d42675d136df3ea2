"""Translate stage: machine-translate prompts with a local model and project trigger spans onto them.

The stage itself lives in `stage.py`; this module only re-exports its public names."""

from curation.translate.stage import (
    TranslateConfig,
    clean_chat_output,
    load_translator,
    run,
    translate_dataset,
    translator_kind,
    word_vectors_fn,
)

__all__ = [
    "TranslateConfig",
    "clean_chat_output",
    "load_translator",
    "run",
    "translate_dataset",
    "translator_kind",
    "word_vectors_fn",
]
