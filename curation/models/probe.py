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
    neighbours: NeighbourVote | None = None  # optional kNN part (the cross-lingual transfer probe, issue #24)

    def decision(self, vectors: np.ndarray) -> np.ndarray:
        """Signed margin: > 0 reads harmful, < 0 harmless."""
        margin = vectors @ self.coef + self.intercept
        return margin if self.neighbours is None else self.neighbours.combine(margin, vectors)

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
            if self.neighbours is not None:
                meta["neighbours"] = self.neighbours.save(tmp / "neighbours.npz")
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
        vote = meta.pop("neighbours", None)
        vote = NeighbourVote.load(folder / "neighbours.npz", vote) if vote else None
        return cls(meta.pop("model_id"), coef, float(meta.pop("intercept")), meta, hashes, vote)

    def in_sample(self, texts: Sequence[str]) -> np.ndarray:
        """Which texts were among the probe's training prompts (all False when the probe did not record them)."""
        if self.train_hashes is None or not len(texts):
            return np.zeros(len(texts), dtype=bool)
        return np.isin(text_hashes(texts), self.train_hashes)


def boundary_offset(probe: Probe) -> float:
    """What boundary scoring subtracts from the probe's margin so `p_refuse = 0.5` sits where the probe recorded it
    (`decision_point`, the contextual harm model); 0 for other probes."""
    return float((probe.meta.get("decision_point") or {}).get("offset", 0.0))


@dataclass
class NeighbourVote:
    """kNN part of a probe: mean cosine to the k nearest harmful minus the k nearest harmless training prompts, added
    to the linear margin (both standardised) and mapped back to a logit by a fitted Platt line. On an encoder trained
    to rank translations together, similarity to training prompts is what transfers across languages best."""

    harmful: np.ndarray   # (n, d) unit vectors of the harmful training prompts (float16 on disk)
    harmless: np.ndarray
    k: int
    scale: list[float]    # linear mean, linear std, vote mean, vote std, Platt slope, Platt intercept

    def vote(self, vectors: np.ndarray, chunk: int = 2048) -> np.ndarray:
        """Mean cosine to the k nearest harmful minus the k nearest harmless anchors, per row."""
        out = np.zeros(len(vectors), dtype=np.float64)
        for i in range(0, len(vectors), chunk):
            v = np.asarray(vectors[i:i + chunk], dtype=np.float32)
            out[i:i + chunk] = _top_k_mean(v @ self.harmful.T, self.k) - _top_k_mean(v @ self.harmless.T, self.k)
        return out

    def combine(self, margin: np.ndarray, vectors: np.ndarray, vote: np.ndarray | None = None) -> np.ndarray:
        """Logit of (standardised linear margin + standardised vote)."""
        lm, ls, vm, vs, a, b = self.scale
        vote = self.vote(vectors) if vote is None else vote
        return a * ((np.asarray(margin, dtype=np.float64) - lm) / ls + (vote - vm) / vs) + b

    def save(self, path: Path) -> dict[str, Any]:
        np.savez(path, harmful=self.harmful.astype(np.float16), harmless=self.harmless.astype(np.float16))
        return {"k": self.k, "scale": [float(x) for x in self.scale], "anchors": [len(self.harmful),
                                                                                  len(self.harmless)]}

    @classmethod
    def load(cls, path: Path, meta: dict[str, Any]) -> NeighbourVote:
        with np.load(path) as z:
            return cls(z["harmful"].astype(np.float32), z["harmless"].astype(np.float32), int(meta["k"]),
                       list(meta["scale"]))


def _top_k_mean(sims: np.ndarray, k: int) -> np.ndarray:
    k = min(k, sims.shape[1])
    return np.partition(sims, sims.shape[1] - k, axis=1)[:, -k:].mean(axis=1)


def fit_neighbour_vote(probe: Probe, x: np.ndarray, y: np.ndarray, k: int = 20, seed: int = 0) -> NeighbourVote:
    """The kNN part for `probe` from its training vectors: each training row's vote leaves the row itself out, and a
    class-balanced Platt line maps the summed standardised scores to a logit (so `p >= 0.5` keeps its meaning)."""
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y).astype(bool)
    pos, neg = x[y], x[~y]
    k = max(1, min(k, len(pos) - 1, len(neg) - 1))
    own = np.where(y, np.cumsum(y) - 1, np.cumsum(~y) - 1)  # each row's index among its own class's anchors
    vote = np.zeros(len(x), dtype=np.float64)
    for i in range(0, len(x), 2048):
        rows = np.arange(i, min(i + 2048, len(x)))
        sp, sn = x[rows] @ pos.T, x[rows] @ neg.T
        local, hp = np.arange(len(rows)), y[rows]
        sp[local[hp], own[rows][hp]] = -np.inf  # leave the row itself out
        sn[local[~hp], own[rows][~hp]] = -np.inf
        vote[rows] = _top_k_mean(sp, k) - _top_k_mean(sn, k)
    margin = x @ probe.coef + probe.intercept
    scale = [float(margin.mean()), float(margin.std() or 1.0), float(vote.mean()), float(vote.std() or 1.0)]
    summed = (margin - scale[0]) / scale[1] + (vote - scale[2]) / scale[3]
    platt = LogisticRegression(class_weight="balanced", random_state=seed).fit(summed[:, None], y)
    return NeighbourVote(pos, neg, k, [*scale, float(platt.coef_[0][0]), float(platt.intercept_[0])])


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


CONTRAST_DIR = "data/contrast"


def contrast_prompts() -> tuple[list[str], list[str]]:
    """The built-in contrast set (harmful, harmless), shipped with the package: the demo's plain probe, the loop's
    refit and the triggers' span-model refit train on it."""
    from importlib import resources

    out = []
    for name in ("harmful", "harmless"):
        text = resources.files("curation").joinpath(f"{CONTRAST_DIR}/{name}.jsonl").read_text(encoding="utf-8")
        out.append([json.loads(line)["prompt"] for line in text.splitlines() if line.strip()])
    return out[0], out[1]


def default_probe_dir(workspace_root: Path, name: str = "default") -> Path:
    return Path(workspace_root) / "artifacts" / "probes" / name
