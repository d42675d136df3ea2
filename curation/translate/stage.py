"""Machine-translate prompts with a local model, project trigger spans onto the translations, back-translate and
flag low-similarity pairs for review. Translated rows link to their source row through `translated_from`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
from datasets import Dataset
from pydantic import BaseModel, ConfigDict, Field, field_validator

from curation.core import columns as C
from curation.core.errors import InputError, ModelError
from curation.core.hashing import config_hash, normalize_text, record_id, sha
from curation.core.languages import normalize_language_code
from curation.core.registry import resolve, translators
from curation.models.cache import TranslationCache, translation_cache

CHAT_TEMPLATE = "Translate the following text to {language}. Reply with the translation only.\n\n{text}"
LANGUAGE_NAMES = {
    "ar": "Arabic", "cs": "Czech", "da": "Danish", "de": "German", "el": "Greek", "en": "English", "es": "Spanish",
    "fi": "Finnish", "fr": "French", "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian", "id": "Indonesian",
    "it": "Italian", "ja": "Japanese", "ko": "Korean", "nl": "Dutch", "no": "Norwegian", "pl": "Polish",
    "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "sv": "Swedish", "th": "Thai", "tr": "Turkish",
    "uk": "Ukrainian", "vi": "Vietnamese", "zh": "Chinese",
}
# Columns that describe the source text itself and are cleared on a translated row (they must be recomputed).
CARRIED_COLUMNS = (C.SOURCE, C.SOURCE_ROW, C.CATEGORY, C.LABEL, C.META)


class TranslateConfig(BaseModel):
    """Options of the translate stage; generation options are part of the translation cache key."""

    model_config = ConfigDict(extra="forbid")

    targets: list[str] = Field(..., min_length=1, description="Target language codes (ISO 639-1: de, fr, es).")
    model: str = Field(..., description="Seq2seq translation model or chat model (folder, hub id, 'smollm2').")
    back_model: str | None = Field(None, description="Model for back-translation (default: the same model).")
    source_language: str = Field("en", description="Language of rows whose `language` is missing or unknown.")
    back_translate: bool = True
    min_similarity: float = Field(0.8, ge=0, le=1, description="Rows below this similarity get needs_review.")
    batch_size: int = Field(8, ge=1)
    max_new_tokens: int = Field(256, ge=1)
    prompt_template: str = Field(CHAT_TEMPLATE, description="Chat models: uses {language} and {text}.")
    target_prefix: str | None = Field(None, description="Seq2seq: text put before each input, e.g. '>>{tgt}<< '.")
    src_code: str | None = Field(None, description="Seq2seq: tokenizer.src_lang template, e.g. '{lang}_Latn'.")
    tgt_code: str | None = Field(None, description="Seq2seq: forced BOS token template, e.g. '__{lang}__'.")
    lang_codes: dict[str, str] = Field(default_factory=dict, description="ISO code -> the model's code ({lang}).")
    similarity_model: str | None = Field(None, description="Encoder spec for back-similarity (default multilingual).")
    align_model: str | None = Field(None, description="Encoder spec for word alignment (default multilingual).")
    align_method: Literal["itermax", "argmax"] = "itermax"
    device: str = "cpu"

    @field_validator("targets")
    @classmethod
    def _codes(cls, targets: list[str]) -> list[str]:
        cleaned = list(dict.fromkeys(t.strip().lower() for t in targets if t.strip()))
        if not cleaned:
            raise ValueError("give at least one target language, e.g. --to de,fr")
        return cleaned

    @field_validator("prompt_template")
    @classmethod
    def _template(cls, template: str) -> str:
        if "{text}" not in template:
            raise ValueError("the prompt template needs a {text} placeholder")
        return template

    def generation_key(self, model: str) -> str:
        """Hash of what changes a translation (model and generation options), for the translation cache."""
        keys = ("max_new_tokens", "prompt_template", "target_prefix", "src_code", "tgt_code", "lang_codes")
        return config_hash({"model": model, **{k: getattr(self, k) for k in keys}})


class Translator(Protocol):
    model_id: str

    def translate(self, texts: Sequence[str], src: str, tgt: str) -> list[str]:
        """Translate texts from language `src` to `tgt` (ISO codes)."""
        ...


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code.lower(), code)


class Seq2SeqTranslator:
    """Encoder-decoder translation models (MarianMT, NLLB, M2M100, T5) through AutoModelForSeq2SeqLM."""

    def __init__(self, cfg: TranslateConfig, model: str) -> None:
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model)
            self.model = AutoModelForSeq2SeqLM.from_pretrained(model).to(cfg.device).eval()
        except OSError as err:
            raise ModelError(f"cannot load translation model '{model}': {str(err).splitlines()[0][:200]}",
                             "pass a local model folder or a Hub id reachable from this machine") from None
        self.cfg, self.model_id = cfg, model

    def _code(self, template: str, lang: str) -> str:
        return template.format(lang=self.cfg.lang_codes.get(lang, lang), name=language_name(lang))

    def translate(self, texts: Sequence[str], src: str, tgt: str) -> list[str]:
        import torch

        cfg, kwargs = self.cfg, {}
        if cfg.src_code and hasattr(self.tokenizer, "src_lang"):
            self.tokenizer.src_lang = self._code(cfg.src_code, src)
        if cfg.tgt_code:
            token = self._code(cfg.tgt_code, tgt)
            token_id = self.tokenizer.convert_tokens_to_ids(token)
            if token_id is None or token_id == self.tokenizer.unk_token_id:
                raise InputError(f"the model's tokenizer has no language token '{token}'",
                                 "fix --tgt-code or --lang-codes for this model")
            kwargs["forced_bos_token_id"] = token_id
        if cfg.target_prefix:
            prefix = cfg.target_prefix.format(src=self.cfg.lang_codes.get(src, src), tgt=cfg.lang_codes.get(tgt, tgt),
                                              src_name=language_name(src), tgt_name=language_name(tgt))
            texts = [prefix + t for t in texts]
        outputs: list[str] = []
        for start in range(0, len(texts), cfg.batch_size):
            enc = self.tokenizer(list(texts[start : start + cfg.batch_size]), return_tensors="pt", padding=True,
                                 truncation=True, max_length=512).to(self.model.device)
            with torch.no_grad():
                gen = self.model.generate(**enc, max_new_tokens=cfg.max_new_tokens, do_sample=False, num_beams=1,
                                          **kwargs)
            outputs.extend(t.strip() for t in self.tokenizer.batch_decode(gen, skip_special_tokens=True))
        return outputs


class ChatTranslator:
    """Causal chat models through `curation.models.lm`, asked to translate with `prompt_template`."""

    def __init__(self, cfg: TranslateConfig, model: str) -> None:
        from curation.models.lm import load_lm

        self.lm = load_lm(model, cfg.device)
        self.cfg, self.model_id = cfg, model

    def translate(self, texts: Sequence[str], src: str, tgt: str) -> list[str]:
        import warnings

        from curation.models.lm import generate

        prompts = [self.cfg.prompt_template.format(language=language_name(tgt), text=t) for t in texts]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the no-chat-template warning is said once, at load time
            outs = generate(self.lm, prompts, max_new_tokens=self.cfg.max_new_tokens, batch_size=self.cfg.batch_size)
        return [clean_chat_output(o, t) for o, t in zip(outs, texts, strict=True)]


def clean_chat_output(text: str, source: str = "") -> str:
    """Strip the 'Translation:' label, the commentary after a one-paragraph source and wrapping quotes."""
    text = text.strip()
    if "\n\n" not in source:
        text = text.split("\n\n")[0].strip()
    for label in ("Translation:", "Traduction :", "Traduction:", "Übersetzung:", "Traducción:"):
        if text.startswith(label):
            text = text[len(label) :].strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'«»“”":
        text = text[1:-1].strip()
    return text


@translators.register("seq2seq.v1")
def make_seq2seq(cfg: TranslateConfig, model: str) -> Translator:
    return Seq2SeqTranslator(cfg, model)


@translators.register("chat.v1")
def make_chat(cfg: TranslateConfig, model: str) -> Translator:
    return ChatTranslator(cfg, model)


def translator_kind(model: str) -> str:
    """'seq2seq.v1' for encoder-decoder configs, else 'chat.v1' (GGUF short names and files are chat models)."""
    from curation.models.lm import resolve_lm

    path, gguf = resolve_lm(model)
    if gguf:
        return "chat.v1"
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(path)
    except (OSError, ValueError) as err:
        raise ModelError(f"cannot read the config of model '{model}': {str(err).splitlines()[0][:200]}",
                         "pass a local model folder, a Hub id reachable from this machine, or 'smollm2'") from None
    return "seq2seq.v1" if getattr(config, "is_encoder_decoder", False) else "chat.v1"


def load_translator(cfg: TranslateConfig, model: str) -> Translator:
    return resolve(translators, translator_kind(model), "translator")(cfg, model)


@dataclass
class TranslateStats:
    """What a run did, for the CLI summary and the workspace log."""

    source_rows: int = 0
    translated_rows: int = 0
    skipped_existing: int = 0
    model_calls: int = 0
    cached: int = 0
    needs_review: int = 0
    empty: int = 0
    spans_projected: int = 0
    spans_dropped: int = 0


def translate_texts(
    texts: Sequence[str], src: str, tgt: str, translator: Translator, cache: TranslationCache | None, key: str,
    stats: TranslateStats, chunk: int = 32, desc: str = "translate",
) -> list[str]:
    """Translate unique texts once, reading and filling the cache after every chunk (resumable)."""
    from tqdm.auto import tqdm

    keys = [sha(f"{key}\x00{src}\x00{tgt}\x00{t}", 32) for t in texts]
    known = cache.get_many(list(dict.fromkeys(keys))) if cache else {}
    todo = {k: t for k, t in zip(keys, texts, strict=True) if k not in known}
    stats.cached += len(set(keys)) - len(todo)
    items = list(todo.items())
    for start in tqdm(range(0, len(items), chunk), desc=f"{desc} {src}->{tgt}", disable=len(items) <= chunk,
                      leave=False):
        part = items[start : start + chunk]
        outs = translator.translate([t for _, t in part], src, tgt)
        stats.model_calls += len(part)
        fresh = {k: o for (k, _), o in zip(part, outs, strict=True)}
        if cache:
            cache.put_many(fresh)
        known.update(fresh)
    return [known[k] for k in keys]


def word_vectors_fn(encoder: Any, cache: Any = None) -> Any:
    """Word vectors for alignment: contextual when the encoder offers them, else each word embedded on its own."""
    from curation.models.embeddings import embed

    if hasattr(encoder, "word_vectors"):
        return encoder.word_vectors

    def vectors(text: str, spans: Sequence[tuple[int, int]]) -> np.ndarray:
        return embed([text[a:b] for a, b in spans], encoder, cache)

    return vectors


def _row_language(row: dict[str, Any], default: str) -> str:
    return normalize_language_code(str(row.get(C.LANGUAGE) or ""), default)


def _parse_spans(value: Any) -> tuple[list[dict[str, Any]], bool]:
    """Spans as a list of dicts, and whether the column stores them as a JSON string."""
    if value is None:
        return [], False
    if isinstance(value, str):
        return (json.loads(value) if value.strip() else []), True
    return list(value), False


def translate_dataset(ds: Dataset, cfg: TranslateConfig, workspace_root: Path) -> tuple[Dataset, TranslateStats]:
    """Return the rows of `ds` plus one translated row per (source row, target language) not yet translated.

    Reads: id, prompt, language (optional), trigger_spans (optional). Adds: translated_from, translation_model,
    back_translation, back_similarity, needs_review, spans_dropped (null / False / 0 on source rows)."""
    from curation.core.config import default_settings
    from curation.models.embeddings import embed, encoder_from_spec, multilingual_model, workspace_cache

    missing = [c for c in (C.ID, C.PROMPT) if c not in ds.column_names]
    if missing:
        raise InputError(f"translate: dataset lacks column(s) {', '.join(missing)} (has: {', '.join(ds.column_names)})",
                         "run `curate ingest` first, which adds id and prompt")
    stats = TranslateStats()
    rows = ds.to_list()
    sources = [r for r in rows if not r.get(C.TRANSLATED_FROM)]
    done = {(r[C.TRANSLATED_FROM], r.get(C.LANGUAGE)) for r in rows if r.get(C.TRANSLATED_FROM)}
    stats.source_rows = len(sources)
    jobs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in sources:
        src = _row_language(row, cfg.source_language)
        for tgt in cfg.targets:
            if tgt == src:
                continue
            if (row[C.ID], tgt) in done:
                stats.skipped_existing += 1
                continue
            jobs.setdefault((src, tgt), []).append(row)
    new_rows: list[dict[str, Any]] = []
    if jobs:
        new_rows = _translate_jobs(jobs, cfg, Path(workspace_root), ds.column_names, stats,
                                   {r[C.ID] for r in rows})
    settings = default_settings()
    if new_rows:
        sim_spec = cfg.similarity_model or multilingual_model(settings)
        encoder = encoder_from_spec(sim_spec, cfg.device)
        with workspace_cache(Path(workspace_root), encoder.model_id) as emb_cache:
            left = embed([r.pop("_compare_left") for r in new_rows], encoder, emb_cache)
            right = embed([r.pop("_compare_right") for r in new_rows], encoder, emb_cache)
        for row, score in zip(new_rows, np.sum(left * right, axis=1), strict=True):
            row[C.BACK_SIMILARITY] = round(float(score), 4)
            row[C.NEEDS_REVIEW] = bool(row[C.NEEDS_REVIEW] or score < cfg.min_similarity)
        stats.needs_review = sum(r[C.NEEDS_REVIEW] for r in new_rows)
    defaults = {C.TRANSLATED_FROM: None, C.TRANSLATION_MODEL: None, C.BACK_TRANSLATION: None,
                C.BACK_SIMILARITY: None, C.NEEDS_REVIEW: False, C.SPANS_DROPPED: 0}
    out_rows = [{**r, **{k: v for k, v in defaults.items() if k not in r}} for r in rows] + new_rows
    out = Dataset.from_list(out_rows)
    for name, feature in ds.features.items():  # keep the input's column types (ClassLabel, nested structs)
        if name in out.column_names and out.features[name] != feature:
            try:
                out = out.cast_column(name, feature)
            except (TypeError, ValueError):
                pass
    return out, stats


def _translate_jobs(
    jobs: dict[tuple[str, str], list[dict[str, Any]]], cfg: TranslateConfig, workspace_root: Path,
    column_names: Sequence[str], stats: TranslateStats, taken_ids: set[str],
) -> list[dict[str, Any]]:
    """Translate (and back-translate) every job, project spans; similarity inputs are left in `_compare_*` keys."""
    from curation.core.config import default_settings
    from curation.models.embeddings import encoder_from_spec, multilingual_model, workspace_cache

    translator = load_translator(cfg, cfg.model)
    back_translator = load_translator(cfg, cfg.back_model) if cfg.back_model and cfg.back_translate else translator
    key, back_key = cfg.generation_key(cfg.model), cfg.generation_key(cfg.back_model or cfg.model)
    new_rows: list[dict[str, Any]] = []
    with ExitStack() as caches:
        cache = caches.enter_context(translation_cache(workspace_root))
        vectors = None
        if C.TRIGGER_SPANS in column_names:  # spans are projected by word alignment on the multilingual encoder
            align_encoder = encoder_from_spec(cfg.align_model or multilingual_model(default_settings()), cfg.device)
            vectors = word_vectors_fn(align_encoder, caches.enter_context(
                workspace_cache(workspace_root, align_encoder.model_id)))
        for (src, tgt), group in jobs.items():
            prompts = [r[C.PROMPT] for r in group]
            translations = translate_texts(prompts, src, tgt, translator, cache, key, stats)
            backs: list[str | None] = [None] * len(group)
            if cfg.back_translate:
                backs = list(translate_texts(translations, tgt, src, back_translator, cache, back_key, stats,
                                             desc="back-translate"))
            for row, text, back in zip(group, translations, backs, strict=True):
                new_rows.append(_translated_row(row, text, back, tgt, cfg, column_names, taken_ids, vectors, stats))
    stats.translated_rows = len(new_rows)
    return new_rows


def _translated_row(
    row: dict[str, Any], text: str, back: str | None, tgt: str, cfg: TranslateConfig, column_names: Sequence[str],
    taken_ids: set[str], vectors: Any, stats: TranslateStats,
) -> dict[str, Any]:
    """One translated row: a fresh content-hash id, carried label columns, cleared stale ones, projected spans."""
    new_id = record_id(text)
    if new_id in taken_ids:  # the model copied its input, or two sources gave one text: keep ids unique
        new_id = sha(f"{row[C.ID]}\x00{tgt}\x00{normalize_text(text)}")
    taken_ids.add(new_id)
    out: dict[str, Any] = {c: (row.get(c) if c in CARRIED_COLUMNS else None) for c in column_names}
    empty = not text.strip()
    stats.empty += empty
    out.update({
        C.ID: new_id, C.PROMPT: text, C.LANGUAGE: tgt, C.TRANSLATED_FROM: row[C.ID],
        C.TRANSLATION_MODEL: cfg.model, C.BACK_TRANSLATION: back, C.NEEDS_REVIEW: empty, C.SPANS_DROPPED: 0,
        "_compare_left": row[C.PROMPT], "_compare_right": back if back is not None else text,
    })
    if C.TRIGGER_SPANS in column_names:
        spans, as_json = _parse_spans(row.get(C.TRIGGER_SPANS))
        projected, dropped = ([], len(spans)) if empty else _project(spans, row[C.PROMPT], text, vectors, cfg)
        stats.spans_projected += len(projected)
        stats.spans_dropped += dropped
        out[C.TRIGGER_SPANS] = json.dumps(projected) if as_json else projected
        out[C.SPANS_DROPPED] = dropped
    return out


def _project(spans: list[dict[str, Any]], src: str, tgt: str, vectors: Any, cfg: TranslateConfig
             ) -> tuple[list[dict[str, Any]], int]:
    from curation.models.align import project_spans

    return project_spans(spans, src, tgt, vectors, cfg.align_method)


def run(ds: Dataset, cfg: TranslateConfig, workspace_root: Path) -> Dataset:
    """Source rows plus translated rows (see `translate_dataset`); logs the run's counts to the workspace."""
    from curation.core.workspace import Workspace

    out, stats = translate_dataset(ds, cfg, workspace_root)
    Workspace(workspace_root).log_event("translate", model=cfg.model, targets=cfg.targets, **asdict(stats))
    return out
