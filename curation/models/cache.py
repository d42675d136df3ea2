"""One SQLite key-value cache for model outputs (embeddings, translations): re-runs recompute nothing, an
interrupted run resumes, and `with` closes the connection however the block ends."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np

from curation.core.hashing import sha

_CHUNK = 900  # below SQLite's default limit of host parameters per statement


class KeyValueCache:
    """Values keyed by a content hash in one SQLite table (WAL, safe to share with Ray worker threads)."""

    def __init__(self, path: Path, table: str, value_column: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.table, self.value_column = path, table, value_column
        self.conn = sqlite3.connect(str(path), timeout=60, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(f"CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, {value_column})")

    def get_raw(self, keys: Sequence[str]) -> dict[str, Any]:
        """The stored values of the keys that are present."""
        found: dict[str, Any] = {}
        for i in range(0, len(keys), _CHUNK):
            chunk = list(keys[i : i + _CHUNK])
            marks = ",".join("?" * len(chunk))
            found.update(self.conn.execute(
                f"SELECT key, {self.value_column} FROM {self.table} WHERE key IN ({marks})", chunk))
        return found

    def put_raw(self, items: Mapping[str, Any]) -> None:
        """Store (or replace) values in one transaction."""
        with self.conn:
            self.conn.executemany(f"INSERT OR REPLACE INTO {self.table} (key, {self.value_column}) VALUES (?, ?)",
                                  list(items.items()))

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EmbeddingCache(KeyValueCache):
    """Float32 vectors keyed by sha(model id + text)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, table="vec", value_column="data")

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        return {k: np.frombuffer(v, dtype=np.float32) for k, v in self.get_raw(keys).items()}

    def put_many(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        self.put_raw({k: np.asarray(v, dtype=np.float32).tobytes() for k, v in zip(keys, vectors, strict=True)})


class TranslationCache(KeyValueCache):
    """Translations keyed by (generation key, languages, text)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, table="tr", value_column="text")

    def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        return self.get_raw(keys)

    def put_many(self, items: Mapping[str, str]) -> None:
        self.put_raw(items)


def workspace_cache(workspace_root: Path, model_id: str) -> EmbeddingCache:
    """The shared embedding cache of a workspace, one file per model (use it in a `with` block)."""
    return EmbeddingCache(Path(workspace_root) / "cache" / "embeddings" / f"{sha(model_id)}.sqlite")


def translation_cache(workspace_root: Path) -> TranslationCache:
    """The translation cache of a workspace (use it in a `with` block)."""
    return TranslationCache(Path(workspace_root) / "cache" / "translations" / "translations.sqlite")
