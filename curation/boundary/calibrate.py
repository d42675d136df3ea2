"""Calibration: a logistic map from a scorer's score to P(refuse), fit on observed refusals (`judge_label`)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from curation.core import columns as C
from curation.core.errors import InputError
from curation.core.workspace import atomic_write_text

REFUSAL_LABELS = ("full_refusal", "partial_refusal")
MIN_PER_CLASS = 3
CALIBRATION_FILE = "calibration.json"


def refusal_targets(judge_labels: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """(row mask of labelled rows, 1 = refused / 0 = complied) from `judge_label` values."""
    mask = np.array([lab in C.JUDGE_LABELS for lab in judge_labels], dtype=bool)
    refused = np.array([lab in REFUSAL_LABELS for lab in judge_labels], dtype=np.int64)
    return mask, refused[mask]


@dataclass
class Calibration:
    """P(refuse) = sigmoid(coef * score + intercept); `threshold` is the score where P(refuse) = 0.5."""

    coef: float
    intercept: float
    artifact: str
    n: int = 0
    n_refused: int = 0
    auroc: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def threshold(self) -> float:
        return float(-self.intercept / self.coef) if self.coef else float("nan")

    def p_refuse(self, scores: np.ndarray) -> np.ndarray:
        from scipy.special import expit

        return expit(self.coef * np.asarray(scores, dtype=np.float64) + self.intercept)

    def save(self, folder: Path | str, language: str | None = None) -> Path:
        path = Path(folder) / calibration_file(language)
        atomic_write_text(path, json.dumps({**asdict(self), "threshold": self.threshold}, indent=2) + "\n")
        return path

    @classmethod
    def load(cls, folder: Path | str, artifact: str, language: str | None = None) -> Calibration | None:
        """The saved calibration of this scorer artifact (of one language, when given), or None (also when it
        belongs to another artifact)."""
        path = Path(folder) / calibration_file(language)
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        data.pop("threshold", None)
        cal = cls(**data)
        return cal if cal.artifact == artifact else None


def fit_calibration(scores: np.ndarray, judge_labels: Sequence[str | None], artifact: str) -> Calibration:
    """Fit a logistic regression score -> refused on the rows that carry a judge label."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    mask, y = refusal_targets(judge_labels)
    x = np.asarray(scores, dtype=np.float64)[mask]
    n_ref, n_comp = int(y.sum()), int(len(y) - y.sum())
    if n_ref < MIN_PER_CLASS or n_comp < MIN_PER_CLASS:
        raise InputError(f"calibration needs refusals and compliances: found {n_ref} refused, {n_comp} complied "
                         f"among {len(y)} judged rows",
                         f"judge at least {MIN_PER_CLASS} of each (`curate judge NAME`), or pass --no-calibrate")
    if not np.isfinite(x).all():
        raise InputError("calibration scores hold NaN or inf", "rescore the dataset")
    scale = float(x.std()) or 1.0
    clf = LogisticRegression(C=1e4, max_iter=1000).fit((x / scale)[:, None], y)
    return Calibration(coef=float(clf.coef_[0, 0] / scale), intercept=float(clf.intercept_[0]), artifact=artifact,
                       n=len(y), n_refused=n_ref, auroc=float(roc_auc_score(y, x)),
                       meta={"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})


def calibration_file(language: str | None = None) -> str:
    """`calibration.json` (shared) or `calibration.<lang>.json` (one language's)."""
    return f"calibration.{language}.json" if language else CALIBRATION_FILE


def judged_languages(judge_labels: Sequence[str | None], languages: Sequence[str], min_per_class: int = MIN_PER_CLASS
                     ) -> list[str]:
    """Languages with at least `min_per_class` judged refusals and compliances (enough for their own calibration)."""
    counts: dict[str, list[int]] = {}
    for lab, lang in zip(judge_labels, languages, strict=True):
        if lab in C.JUDGE_LABELS:
            counts.setdefault(lang, [0, 0])[0 if lab in REFUSAL_LABELS else 1] += 1
    return sorted(lang for lang, (ref, comp) in counts.items() if min(ref, comp) >= min_per_class)


def fit_language_calibrations(scores: np.ndarray, judge_labels: Sequence[str | None], languages: Sequence[str],
                              artifact: str) -> dict[str, Calibration]:
    """One calibration per language that has enough judged refusals and compliances of its own."""
    out = {}
    for lang in judged_languages(judge_labels, languages):
        idx = [i for i, lg in enumerate(languages) if lg == lang]
        cal = fit_calibration(np.asarray(scores, dtype=np.float64)[idx], [judge_labels[i] for i in idx], artifact)
        cal.meta["language"] = lang
        out[lang] = cal
    return out


def in_band(p_refuse: np.ndarray, width: float) -> np.ndarray:
    """Rows whose P(refuse) lies within 0.5 +- width."""
    return np.abs(np.asarray(p_refuse) - 0.5) <= width
