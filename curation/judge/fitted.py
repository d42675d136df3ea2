"""A refusal judge that learns from labelled responses: zero-shot structure features + sentence embeddings of the
opening and of the rest, multinomial logistic regression.

Why this shape: the zero-shot judge's structure (is there a refusal, is there content after it, is the rest only
moralising or alternatives) carries most of the decision and transfers across models; the embeddings let a few dozen
labels from one model teach its own voice (a house style of refusing, a language). Weights are stored as numpy
arrays + JSON (no pickle) under the workspace's `artifacts/judges/NAME`.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from curation.core import columns as C
from curation.core.errors import InputError, ModelError
from curation.core.workspace import atomic_dir
from curation.judge.structure import FEATURES, analyse, decide

FITTED_VERSION = "fitted.v1"
DEFAULT_ENCODER = "all-MiniLM-L6-v2"
OPENING_CHARS = 200   # the opening: the first sentence, at most this many characters
MIN_LABELLED = 10
STRUCTURE_WEIGHT = 3.0  # structure features are few; scaled up so 768 embedding dims do not drown them


def split_opening(response: str) -> tuple[str, str]:
    """(opening, rest): the first sentence (capped at OPENING_CHARS) and what follows it."""
    text = (response or "").strip()
    cut = min((i + 1 for i, ch in enumerate(text[:OPENING_CHARS]) if ch in ".!?\n"), default=min(len(text),
                                                                                                OPENING_CHARS))
    return text[:cut].strip(), text[cut:].strip()


def structure_matrix(responses: Sequence[str]) -> np.ndarray:
    """Zero-shot structure features + the zero-shot label (one-hot) per response."""
    rows = []
    for r in responses:
        s = analyse(r)
        label, _ = decide(s)
        rows.append(s.vector() + [float(label == lab) for lab in C.JUDGE_LABELS])
    return np.asarray(rows, dtype=np.float32)


@dataclass
class FittedModel:
    """Standardised structure features (+ optional embeddings of opening and rest) -> softmax over the labels."""

    classes: list[str]
    coef: np.ndarray          # (n_classes, n_features)
    intercept: np.ndarray     # (n_classes,)
    mean: np.ndarray          # structure feature standardisation
    scale: np.ndarray
    encoder_id: str | None = DEFAULT_ENCODER
    meta: dict[str, Any] = field(default_factory=dict)

    def encoder(self, device: str = "cpu") -> Any:
        """The sentence encoder the model was fit with."""
        from curation.models.embeddings import get_encoder

        if not self.encoder_id:
            raise ModelError("this fitted judge uses no encoder", "nothing to load")
        return get_encoder(self.encoder_id, device=device)

    def features(self, responses: Sequence[str], device: str = "cpu", batch_size: int = 64) -> np.ndarray:
        """The model's input matrix."""
        x = (structure_matrix(responses) - self.mean) / self.scale * STRUCTURE_WEIGHT
        if not self.encoder_id:
            return x
        parts = [split_opening(r) for r in responses]
        enc = self.encoder(device)
        opening = enc.encode([p[0] for p in parts], batch_size=batch_size)
        rest = enc.encode([p[1] or p[0] for p in parts], batch_size=batch_size)
        return np.hstack([x, opening, rest]).astype(np.float32)

    def predict_proba(self, responses: Sequence[str], device: str = "cpu") -> np.ndarray:
        """Class probabilities, columns in `classes` order."""
        if not len(responses):
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        logits = self.features(responses, device) @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def save(self, folder: Path | str) -> Path:
        """Weights as .npy and metadata as JSON, written atomically."""
        with atomic_dir(Path(folder)) as tmp:
            for name in ("coef", "intercept", "mean", "scale"):
                np.save(tmp / f"{name}.npy", getattr(self, name).astype(np.float32))
            meta = {"version": FITTED_VERSION, "classes": self.classes, "encoder_id": self.encoder_id,
                    "features": [*FEATURES, *(f"zero_shot_{lab}" for lab in C.JUDGE_LABELS)], **self.meta}
            (tmp / "judge.json").write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
        return Path(folder)

    @classmethod
    def load(cls, folder: Path | str) -> FittedModel:
        """Read a model written by `save`."""
        folder = Path(folder)
        if not (folder / "judge.json").is_file():
            raise ModelError(f"no fitted judge at {folder}",
                             "fit one with `curate judge fit SOURCE --label-col COL --name NAME`")
        meta = json.loads((folder / "judge.json").read_text(encoding="utf-8"))
        if meta.get("version") != FITTED_VERSION:
            raise ModelError(f"fitted judge at {folder} is {meta.get('version')}, this code reads {FITTED_VERSION}",
                             "refit it with `curate judge fit`")
        arrays = {n: np.load(folder / f"{n}.npy") for n in ("coef", "intercept", "mean", "scale")}
        classes, encoder_id = meta.pop("classes"), meta.pop("encoder_id")
        for key in ("version", "features"):
            meta.pop(key, None)
        return cls(classes, arrays["coef"], arrays["intercept"], arrays["mean"], arrays["scale"], encoder_id, meta)


def fit(responses: Sequence[str], labels: Sequence[str], prompts: Sequence[str] | None = None,
        encoder: str | None = DEFAULT_ENCODER, C_reg: float = 1.0, device: str = "cpu", seed: int = 0) -> FittedModel:
    """Fit on labelled responses (labels among full_compliance / full_refusal / partial_refusal)."""
    from sklearn.linear_model import LogisticRegression

    bad = sorted({str(lab) for lab in labels if lab not in C.JUDGE_LABELS})
    if bad:
        raise InputError(f"judge fit: unknown label(s) {', '.join(bad[:5])}",
                         f"labels must be one of {', '.join(C.JUDGE_LABELS)}")
    if len(responses) < MIN_LABELLED:
        raise InputError(f"judge fit: only {len(responses)} labelled responses",
                         f"label at least {MIN_LABELLED} (50 from one model is a good start)")
    counts = Counter(labels)
    if len(counts) < 2:
        raise InputError(f"judge fit: every response is labelled {next(iter(counts))}",
                         "label responses of at least two kinds")
    raw = structure_matrix(responses)
    mean, scale = raw.mean(axis=0), raw.std(axis=0)
    scale[scale < 1e-6] = 1.0
    model = FittedModel(sorted(counts), np.zeros(0), np.zeros(0), mean, scale, encoder)
    x = model.features(list(responses), device)
    clf = LogisticRegression(C=C_reg, class_weight="balanced", max_iter=2000, random_state=seed)
    clf.fit(x, list(labels))
    coef, intercept = clf.coef_, clf.intercept_
    if len(clf.classes_) == 2:  # sklearn keeps one row for two classes: make it a two-way softmax
        coef, intercept = np.vstack([-coef[0] / 2, coef[0] / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
    model.classes = [str(c) for c in clf.classes_]
    model.coef, model.intercept = coef.astype(np.float32), intercept.astype(np.float32)
    model.meta = {"n": len(responses), "counts": dict(counts), "C": C_reg, "seed": seed,
                  "train_accuracy": float(clf.score(x, list(labels))),
                  "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    return model


class FittedJudge:
    """A fitted model as a judge: its most probable label, with that probability as the score."""

    fast = False

    def __init__(self, model: FittedModel, name: str = "fitted", device: str = "cpu") -> None:
        self.model, self.device = model, device
        self.name = name if name.startswith("fitted") else f"fitted:{name}"

    def judge(self, responses: Sequence[str], prompts: Sequence[str] | None = None) -> list[dict[str, Any]]:
        p = self.model.predict_proba([r or "" for r in responses], self.device)
        best = p.argmax(axis=1) if len(p) else []
        return [{"label": self.model.classes[int(i)], "score": float(p[k, int(i)])} for k, i in enumerate(best)]


def judge_dir(workspace_root: Path | str, name: str) -> Path:
    """Where `curate judge fit --name NAME` saves."""
    return Path(workspace_root) / "artifacts" / "judges" / name


def labels_from_rows(rows: dict[str, list], label_col: str) -> list[str | None]:
    """The label per row: the column itself, or (pulled Argilla data) the submitted answers to that question,
    majority vote, ties and unanswered records left out (None)."""
    if label_col in rows:
        return [v if v in C.JUDGE_LABELS else None for v in rows[label_col]]
    if "responses" not in rows:
        found = ", ".join(rows)
        raise InputError(f"judge fit: no column '{label_col}' and no pulled Argilla 'responses'; columns: {found}",
                         "pass --label-col with the column (or Argilla question) that holds the label")
    out: list[str | None] = []
    for answers in rows["responses"]:
        votes = Counter()
        for answer in answers or []:
            if answer.get("status") != "submitted":
                continue
            values = answer.get("values")
            values = json.loads(values) if isinstance(values, str) else (values or {})
            if values.get(label_col) in C.JUDGE_LABELS:
                votes[values[label_col]] += 1
        top = votes.most_common(2)
        out.append(top[0][0] if top and (len(top) == 1 or top[0][1] > top[1][1]) else None)
    return out
