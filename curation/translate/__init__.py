"""Translate stage: machine-translate prompts with a local model and project trigger spans onto them.

The stage itself lives in `stage.py`; this module only re-exports its public names."""

from curation.translate.stage import (
    ChatTranslator,
    Seq2SeqTranslator,
    TranslateConfig,
    TranslateStats,
    Translator,
    clean_chat_output,
    language_name,
    load_translator,
    make_chat,
    make_seq2seq,
    run,
    translate_dataset,
    translate_texts,
    translator_kind,
    word_vectors_fn,
)

__all__ = [
    "ChatTranslator",
    "Seq2SeqTranslator",
    "TranslateConfig",
    "TranslateStats",
    "Translator",
    "clean_chat_output",
    "language_name",
    "load_translator",
    "make_chat",
    "make_seq2seq",
    "run",
    "translate_dataset",
    "translate_texts",
    "translator_kind",
    "word_vectors_fn",
]
