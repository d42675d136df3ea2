"""One scale for the contextual harm model and its cross-lingual transfer probe (issues #18 and #24).

The contextual model's encoder (fine-tuned MiniLM) is English-only, so non-English rows are scored by the transfer
probe on USE multilingual v3. Left alone, English rows (contextual model) and their translations (transfer probe)
are ranked by two different models. The blend puts them on one scale:

- English rows: `w * z(contextual score) + (1 - w) * z(transfer score)` (both encoders);
- other rows: `w * z(distilled contextual score) + (1 - w) * z(transfer score)`, where the distilled score is a
  ridge regression from the multilingual encoder's vectors to the contextual model's score on the English training
  rows (no labelled row in another language);
- `z` standardises each score by its class-balanced mean and pooled within-level spread on the English training
  rows (plain, safe-but-scary, unsafe weigh alike, whatever the recipe's class mix);
- the blended value is mapped to a logit whose 0 (`p_refuse = 0.5`) sits at the `unsafe_quantile` of the unsafe
  training rows' blended scores, so safe-but-scary prompts stay under 0.5 (weight and quantile chosen on the dev
  splits: docs/multilingual.md, docs/harm-model.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

BLEND_WEIGHT = 0.5       # weight of the contextual score (dev: parallel Spearman and English unsafe-vs-scary AUROC)
BLEND_UNSAFE_QUANTILE = 0.30  # p = 0.5 at this quantile of the unsafe training rows' blend (dev: scary FPR <= 0.05)
LEVELS = ("plain", "scary_safe", "unsafe")


def balanced_scale(scores: np.ndarray, kinds: Sequence[str]) -> tuple[float, float]:
    """Mean of the per-level means and pooled within-level standard deviation (levels present in `kinds`)."""
    kinds = np.asarray(kinds)
    present = [k for k in LEVELS if (kinds == k).any()]
    mean = float(np.mean([scores[kinds == k].mean() for k in present]))
    spread = float(np.sqrt(np.mean([scores[kinds == k].var() for k in present])))
    return mean, spread if spread > 1e-9 else 1.0


@dataclass
class ContextualBlend:
    """Blend parameters, stored in the transfer probe's metadata (`contextual_blend`)."""

    weight: float
    contextual: list[float]      # mean, spread of the contextual score on the English training rows
    transfer: list[float]        # mean, spread of the transfer probe's score
    distilled: list[float]       # mean, spread of the distilled contextual score
    distill_coef: list[float]    # ridge: multilingual vector -> contextual score
    distill_intercept: float
    slope: float                 # logit = slope * (blend - offset)
    offset: float
    unsafe_quantile: float
    base_created: str            # the contextual probe this blend was fit for (a refit head makes it stale)
    rows: int

    def _mix(self, first: np.ndarray, first_scale: Sequence[float], transfer: np.ndarray) -> np.ndarray:
        a = (np.asarray(first, dtype=np.float64) - first_scale[0]) / first_scale[1]
        b = (np.asarray(transfer, dtype=np.float64) - self.transfer[0]) / self.transfer[1]
        return self.slope * (self.weight * a + (1 - self.weight) * b - self.offset)

    def english(self, contextual: np.ndarray, transfer: np.ndarray) -> np.ndarray:
        """Logits of English rows from the contextual model's and the transfer probe's scores."""
        return self._mix(contextual, self.contextual, transfer)

    def distill(self, vectors: np.ndarray) -> np.ndarray:
        """The contextual score predicted from multilingual vectors."""
        return np.asarray(vectors, dtype=np.float64) @ np.asarray(self.distill_coef) + self.distill_intercept

    def other(self, vectors: np.ndarray, transfer: np.ndarray) -> np.ndarray:
        """Logits of non-English rows from their multilingual vectors and the transfer probe's scores."""
        return self._mix(self.distill(vectors), self.distilled, transfer)

    def to_meta(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_meta(cls, meta: dict[str, Any] | None) -> ContextualBlend | None:
        return cls(**meta) if meta else None


def fit_blend(contextual: np.ndarray, transfer: np.ndarray, vectors: np.ndarray, kinds: Sequence[str],
              base_created: str, weight: float = BLEND_WEIGHT, unsafe_quantile: float = BLEND_UNSAFE_QUANTILE,
              keep: np.ndarray | None = None) -> ContextualBlend:
    """Fit the blend on the English training rows: their contextual scores, transfer scores, multilingual vectors and
    kinds (`keep`: rows the distillation may use, e.g. without near-duplicates of an eval set)."""
    from sklearn.linear_model import LogisticRegression, Ridge

    kinds = np.asarray(kinds)
    keep = np.ones(len(kinds), dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
    ridge = Ridge(alpha=1.0).fit(np.asarray(vectors)[keep], np.asarray(contextual)[keep])
    distilled = ridge.predict(np.asarray(vectors))
    blend = ContextualBlend(weight, list(balanced_scale(contextual, kinds)), list(balanced_scale(transfer, kinds)),
                            list(balanced_scale(distilled, kinds)), [float(c) for c in ridge.coef_],
                            float(ridge.intercept_), 1.0, 0.0, unsafe_quantile, base_created, int(len(kinds)))
    raw = blend.english(contextual, transfer)  # slope 1, offset 0: the plain blended value
    unsafe = kinds == "unsafe"
    slope = LogisticRegression(class_weight="balanced").fit(raw[:, None], unsafe).coef_[0][0]
    blend.slope = float(max(slope, 1e-3))
    blend.offset = float(np.quantile(raw[unsafe], unsafe_quantile)) if unsafe.any() else 0.0
    return blend
