"""Harmfulness probe: sentence embeddings + logistic regression fit on harmful vs harmless contrast sets.

Shared by the trigger stage (occlusion attribution) and the boundary stage (`probe` scorer).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from curation.core.errors import InputError, ModelError
from curation.core.workspace import atomic_dir
from curation.models.embeddings import EmbeddingCache, Encoder, embed

MIN_PER_CLASS = 5


def margin_to_proba(margins: np.ndarray | Sequence[float]) -> np.ndarray:
    """A probe's signed margin as a probability of refusal (the logistic link every margin-based score uses)."""
    return 1.0 / (1.0 + np.exp(-np.asarray(margins)))


@dataclass
class Probe:
    """A linear harmfulness probe over one encoder's embedding space."""

    model_id: str
    coef: np.ndarray
    intercept: float
    meta: dict[str, Any] = field(default_factory=dict)
    train_hashes: np.ndarray | None = None  # uint64 hashes of the training prompts (in-sample checks)

    def decision(self, vectors: np.ndarray) -> np.ndarray:
        """Signed margin: > 0 reads harmful, < 0 harmless."""
        return vectors @ self.coef + self.intercept

    def proba(self, vectors: np.ndarray) -> np.ndarray:
        """Probability of refusal for each vector."""
        return margin_to_proba(self.decision(vectors))

    def score_texts(
        self, texts: Sequence[str], encoder: Encoder, cache: EmbeddingCache | None = None, batch_size: int = 64
    ) -> np.ndarray:
        self.check_encoder(encoder)
        return self.decision(embed(texts, encoder, cache, batch_size=batch_size))

    def check_encoder(self, encoder: Encoder) -> None:
        if encoder.model_id != self.model_id:
            raise ModelError(
                f"probe was fit on encoder '{self.model_id}', not '{encoder.model_id}'",
                "refit with `curate probe fit` for this encoder",
            )

    def save(self, folder: Path) -> Path:
        """Write weights (npy) and metadata (json) atomically."""
        with atomic_dir(Path(folder)) as tmp:
            np.save(tmp / "coef.npy", self.coef.astype(np.float32))
            if self.train_hashes is not None:
                np.save(tmp / "train_hashes.npy", np.unique(self.train_hashes.astype(np.uint64)))
            meta = {"model_id": self.model_id, "intercept": self.intercept, **self.meta}
            (tmp / "probe.json").write_text(json.dumps(meta, indent=2, default=str))
        return Path(folder)

    @classmethod
    def load(cls, folder: Path) -> Probe:
        folder = Path(folder)
        if not (folder / "probe.json").exists():
            raise ModelError(f"no probe at {folder}", "fit one with `curate probe fit --harmful X --harmless Y`")
        meta = json.loads((folder / "probe.json").read_text())
        coef = np.load(folder / "coef.npy")
        hashes = np.load(folder / "train_hashes.npy") if (folder / "train_hashes.npy").exists() else None
        return cls(meta.pop("model_id"), coef, float(meta.pop("intercept")), meta, hashes)

    def in_sample(self, texts: Sequence[str]) -> np.ndarray:
        """Which texts were among the probe's training prompts (all False when the probe did not record them)."""
        if self.train_hashes is None or not len(texts):
            return np.zeros(len(texts), dtype=bool)
        return np.isin(text_hashes(texts), self.train_hashes)


def text_hashes(texts: Sequence[str]) -> np.ndarray:
    """64-bit content hashes of whitespace-normalised prompts (what `Probe.in_sample` compares)."""
    import hashlib

    return np.array([int.from_bytes(hashlib.sha256(" ".join((t or "").split()).encode("utf-8")).digest()[:8],
                                    "little") for t in texts], dtype=np.uint64)


def fit_probe(
    harmful: Sequence[str],
    harmless: Sequence[str],
    encoder: Encoder,
    cache: EmbeddingCache | None = None,
    C: float = 1.0,
    seed: int = 0,
    batch_size: int = 64,
) -> Probe:
    """Fit a class-balanced logistic regression (harmful = 1) on the two contrast sets."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    harmful = [t for t in harmful if t and t.strip()]
    harmless = [t for t in harmless if t and t.strip()]
    if len(harmful) < MIN_PER_CLASS or len(harmless) < MIN_PER_CLASS:
        raise InputError(
            f"contrast sets too small or one-sided: {len(harmful)} harmful, {len(harmless)} harmless prompts",
            f"give at least {MIN_PER_CLASS} non-empty prompts of each class",
        )
    texts = list(harmful) + list(harmless)
    y = np.array([1] * len(harmful) + [0] * len(harmless))
    x = embed(texts, encoder, cache, batch_size=batch_size)
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)
    clf = LogisticRegression(C=C, class_weight="balanced", max_iter=2000, random_state=seed)
    clf.fit(x_tr, y_tr)
    holdout_auroc = float(roc_auc_score(y_va, clf.decision_function(x_va)))
    clf.fit(x, y)  # final probe uses every example
    meta = {
        "n_harmful": len(harmful), "n_harmless": len(harmless), "C": C, "seed": seed,
        "holdout_auroc": holdout_auroc, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return Probe(encoder.model_id, clf.coef_[0].astype(np.float32), float(clf.intercept_[0]), meta,
                 text_hashes(texts))


def default_probe_dir(workspace_root: Path, name: str = "default") -> Path:
    return Path(workspace_root) / "artifacts" / "probes" / name
