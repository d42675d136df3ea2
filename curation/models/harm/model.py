"""The contextual harm model: MiniLM fine-tuned on the contrast data with an ordinal head
(plain < safe-but-scary < unsafe), saved as a sentence-transformers folder in the workspace (by content hash) plus a
`Probe` whose coef/intercept are the head, so every harm-score caller (boundary `probe` scorer, `ProbeRouter`,
trigger occlusion, p_refuse) uses it unchanged through `Probe.score_texts`.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from curation.core.hashing import sha
from curation.core.workspace import atomic_dir
from curation.models.harm.data import KIND_LEVEL
from curation.models.probe import Probe, margin_to_proba, text_hashes

BASE_MODEL = "all-MiniLM-L6-v2"
PRESET = "contextual"
VERSION = 2  # bump when the training code changes what a given config produces
UNSAFE_QUANTILE = 0.35  # p_refuse = 0.5 at this quantile of the unsafe training rows' scores (dev: scary FPR <= 0.05)


@dataclass
class TrainConfig:
    """Fine-tuning settings; their hash (with the data's) names the cached model."""

    base_model: str = BASE_MODEL
    epochs: float = 2.0
    batch_size: int = 32
    lr: float = 3e-5
    head_lr: float = 3e-3
    max_seq_length: int = 64
    max_rows: int | None = None      # subsample the data (seeded), e.g. a tiny budget in tests
    time_budget_s: float | None = None  # stop early (the model records that it did)
    seed: int = 0
    threads: int = 1  # 2 threads spin-wait on a shared 2-core machine: 1 thread measured ~15x less CPU per step
    train_layers: int = 2  # top transformer layers fine-tuned; the rest stay frozen (cached once)


def models_dir(workspace_root: Path) -> Path:
    return Path(workspace_root) / "artifacts" / "models"


def content_hash(texts: Sequence[str], levels: Sequence[int], cfg: TrainConfig) -> str:
    """Hash of the training rows, their levels, the config and the code version."""
    payload = json.dumps({"v": VERSION, "cfg": asdict(cfg), "rows": sorted(zip(texts, levels, strict=True))},
                         ensure_ascii=False, default=str)
    return sha(payload)[:16]


def _levels(rows: Sequence[dict[str, Any]]) -> tuple[list[str], list[int]]:
    texts = [r["prompt"] for r in rows]
    return texts, [KIND_LEVEL[r["kind"]] for r in rows]


def sampled_rows(rows: Sequence[dict[str, Any]], cfg: TrainConfig) -> list[dict[str, Any]]:
    """The rows a fit uses: all, or a seeded sample of `cfg.max_rows` (rows already that few stay as they are)."""
    rows = list(rows)
    return random.Random(cfg.seed).sample(rows, cfg.max_rows) if cfg.max_rows and len(rows) > cfg.max_rows else rows


def train(rows: Sequence[dict[str, Any]], workspace_root: Path, cfg: TrainConfig | None = None,
          log: Any = None) -> tuple[Path, Probe, bool]:
    """Fine-tune (or reuse the cached) model on `rows` (prompt + kind); return its folder, the head as a Probe and
    whether it came from the cache."""
    cfg = cfg or TrainConfig()
    texts, levels = _levels(sampled_rows(rows, cfg))
    digest = content_hash(texts, levels, cfg)
    folder = models_dir(workspace_root) / f"harm-{PRESET}-{digest}"
    if (folder / "harm_head.json").exists():
        return folder, head_probe(folder), True
    with atomic_dir(folder) as tmp:
        meta = _fit(texts, levels, cfg, tmp, log)
        meta.update({"hash": digest, "config": asdict(cfg)})
        (tmp / "harm_head.json").write_text(json.dumps(meta, indent=2, default=str))
    return folder, head_probe(folder), False


def head_probe(folder: Path) -> Probe:
    """The trained ordinal head as a Probe over the fine-tuned encoder (decision > 0: unsafe)."""
    meta = json.loads((Path(folder) / "harm_head.json").read_text())
    coef = np.asarray(meta["coef"], dtype=np.float32)
    extra = {k: v for k, v in meta.items() if k not in ("coef", "thresholds")}
    extra.update({"preset": PRESET, "thresholds": meta["thresholds"], "model_dir": str(Path(folder).resolve())})
    return Probe(str(Path(folder).resolve()), coef, -float(meta["thresholds"][1]), extra)


def _fit(texts: list[str], levels: list[int], cfg: TrainConfig, out: Path, log: Any) -> dict[str, Any]:
    """Fine-tune the top `cfg.train_layers` transformer layers (the lower ones frozen, their outputs computed once)
    with the ordinal head; save the whole sentence-transformers model to `out`."""
    import torch
    from sentence_transformers import SentenceTransformer

    from curation.models.encoder_base import resolve_model_path

    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    start = time.monotonic()
    try:
        model = SentenceTransformer(resolve_model_path(cfg.base_model), device="cpu")
        model.max_seq_length = cfg.max_seq_length
        bert = model[0].auto_model
        layers = bert.encoder.layer
        first = max(0, len(layers) - cfg.train_layers)
        cached = _frozen_states(model, texts, first, cfg)
        for p in model.parameters():
            p.requires_grad_(False)
        top = [p for layer in layers[first:] for p in layer.parameters()]
        for p in top:
            p.requires_grad_(True)
        dim = int(bert.config.hidden_size)
        head = torch.nn.Linear(dim, 1)
        torch.nn.init.zeros_(head.weight)
        thresholds = torch.nn.Parameter(torch.tensor([-1.0, 1.0]))
        opt = torch.optim.AdamW([{"params": top, "lr": cfg.lr},
                                 {"params": [*head.parameters(), thresholds], "lr": cfg.head_lr}], weight_decay=0.01)
        y = torch.tensor(levels)
        counts = torch.bincount(y, minlength=3).clamp(min=1).float()
        weights = (len(levels) / (3 * counts))[y]  # class-balanced
        order = list(range(len(texts)))
        steps = max(1, int(cfg.epochs * len(texts) / cfg.batch_size))
        warm = max(1, steps // 10)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, 1 - s / steps))
        ks = torch.tensor([1, 2])
        step, stopped = 0, False
        for layer in layers[first:]:
            layer.train()
        while step < steps and not stopped:
            rng.shuffle(order)
            for b in range(0, len(order), cfg.batch_size):
                idx = order[b: b + cfg.batch_size]
                emb = _top_forward(bert, first, [cached[i] for i in idx])
                s = head(torch.nn.functional.normalize(emb, dim=-1)).squeeze(-1)
                logits = s.unsqueeze(1) - thresholds.unsqueeze(0)           # P(level >= k), k = 1, 2
                target = (y[idx].unsqueeze(1) >= ks).float()
                loss = (torch.nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none")
                        .mean(1) * weights[idx]).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                step += 1
                if log and step % 20 == 0:
                    log(f"step {step}/{steps} loss {loss.item():.3f}")
                if step >= steps or (cfg.time_budget_s and time.monotonic() - start > cfg.time_budget_s):
                    stopped = step < steps
                    break
        model.eval()
        model.save(str(out))
        # the SGD head is noisy after a short run: refit it (ordinal, LBFGS) on the final embeddings
        # (dev, unsafe vs safe-but-scary, en: 0.833 -> 0.858)
        coef, final_thresholds = fit_head(model.encode(texts, batch_size=64, normalize_embeddings=True), levels)
    finally:
        torch.set_num_threads(threads)
    return {"coef": coef.tolist(), "thresholds": final_thresholds,
            "n_rows": len(texts), "levels": {k: int((y == v).sum()) for k, v in KIND_LEVEL.items()},
            "trained_layers": len(layers) - first, "steps": step, "steps_planned": steps,
            "stopped_by_time_budget": stopped, "train_seconds": round(time.monotonic() - start, 1),
            "base_model": cfg.base_model, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def _frozen_states(model: Any, texts: list[str], first: int, cfg: TrainConfig) -> list[Any]:
    """Hidden states after the first `first` (frozen) layers, one unpadded [tokens, dim] tensor per text."""
    import torch

    bert = model[0].auto_model
    out: list[Any] = [None] * len(texts)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths per batch: less padding
    with torch.no_grad():
        for b in range(0, len(order), 64):
            idx = order[b: b + 64]
            enc = model[0].tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                     max_length=cfg.max_seq_length, return_tensors="pt")
            hidden = bert(**enc, output_hidden_states=True).hidden_states[first]
            for j, i in enumerate(idx):
                out[i] = hidden[j, : int(enc["attention_mask"][j].sum())].clone()
    return out


def _top_forward(bert: Any, first: int, states: list[Any]) -> Any:
    """Run the trainable top layers on padded cached states and mean-pool over the real tokens."""
    import torch

    width = max(s.shape[0] for s in states)
    hidden = torch.zeros(len(states), width, states[0].shape[1])
    mask = torch.zeros(len(states), width, dtype=torch.long)
    for j, s in enumerate(states):
        hidden[j, : s.shape[0]] = s
        mask[j, : s.shape[0]] = 1
    ext, _ = bert._create_attention_masks(attention_mask=mask, encoder_attention_mask=None, embedding_output=hidden,
                                          encoder_hidden_states=None, past_key_values=None)
    for layer in bert.encoder.layer[first:]:
        hidden = layer(hidden, attention_mask=ext)
        hidden = hidden[0] if isinstance(hidden, tuple) else hidden
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


def extra_rows(harmful: Sequence[str] = (), harmless: Sequence[str] = (),
               hard_negatives: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Rows from user sources: harmful -> unsafe; harmless -> safe-but-scary when a lexicon cue occurs, else plain;
    hard negatives (confirmed benign uses of harm words, e.g. from `curate loop`) -> safe-but-scary."""
    from curation.models.harm.data import lexicon_hits

    rows = [{"prompt": t, "kind": "unsafe", "source": "harmful"} for t in harmful if t and t.strip()]
    rows += [{"prompt": t, "kind": "scary_safe" if lexicon_hits(t, "en") else "plain", "source": "harmless"}
             for t in harmless if t and t.strip()]
    rows += [{"prompt": t, "kind": "scary_safe", "source": "hard_negative"} for t in hard_negatives
             if t and t.strip()]
    return rows


def dev_auroc(probe: Probe) -> float | None:
    """Unsafe vs safe-but-scary AUROC of `probe` on the eval dev split (never trained on): the hold-out figure."""
    from curation.models.embeddings import encoder_from_spec
    from curation.models.harm.evaluate import load_eval, metrics

    rows = load_eval("dev")
    raw = probe.score_texts([r["text"] for r in rows], encoder_from_spec(probe.model_id))
    return metrics(rows, raw, margin_to_proba(raw))["auroc_unsafe_vs_scary"]


def training_rows(harmful: Sequence[str] = (), harmless: Sequence[str] = (), hard_negatives: Sequence[str] = ()
                  ) -> list[dict[str, Any]]:
    """The rows the contextual model trains on: the shipped contrast data plus the user's extra prompts."""
    from curation.models.harm.data import load_train

    return load_train() + extra_rows(harmful, harmless, hard_negatives)


def fit_contextual_probe(workspace_root: Path, name: str = "default", harmful: Sequence[str] = (),
                         harmless: Sequence[str] = (), hard_negatives: Sequence[str] = (),
                         epochs: float | None = None, time_budget_s: float | None = None,
                         cfg: TrainConfig | None = None, holdout: bool = True) -> tuple[Probe, Path, bool]:
    """Train (or reuse) the contextual harm model on the shipped data plus extra rows; save it as probe `name`
    (`holdout`: also score the eval dev split for the hold-out AUROC)."""
    from curation.models.probe import default_probe_dir

    cfg = cfg or TrainConfig()
    if epochs is not None:
        cfg.epochs = epochs
    if time_budget_s is not None:
        cfg.time_budget_s = time_budget_s
    rows = sampled_rows(training_rows(harmful, harmless, hard_negatives), cfg)  # the rows `train` uses
    folder, probe, cached = train(rows, workspace_root, cfg)
    probe.train_hashes = text_hashes([r["prompt"] for r in rows])
    english = [r for r in rows if r.get("lang", "en") == "en"]  # the encoder is English-only
    place_decision_point(probe, _training_vectors(probe, [r["prompt"] for r in english], workspace_root),
                         [r["kind"] for r in english])
    levels = probe.meta["levels"]
    probe.meta.update({"n_harmful": levels["unsafe"], "n_harmless": levels["plain"] + levels["scary_safe"],
                       "holdout_auroc": dev_auroc(probe) if holdout else None,
                       "holdout": "eval dev split, unsafe vs safe-but-scary",
                       "extra": {"harmful": len(harmful), "harmless": len(harmless),
                                 "hard_negatives": len(hard_negatives)}})
    path = probe.save(default_probe_dir(workspace_root, name))
    return probe, path, cached


def fit_head(vectors: np.ndarray, levels: Sequence[int], sample_weight: Sequence[float] | None = None,
             l2: float = 1e-3, iters: int = 300, seed: int = 0) -> tuple[np.ndarray, list[float]]:
    """Ordinal logistic head on fixed vectors (cumulative logits, shared direction, two thresholds), class-balanced
    and optionally sample-weighted: the same model the fine-tuning trains, refit without touching the encoder."""
    import torch

    torch.manual_seed(seed)
    x = torch.as_tensor(np.asarray(vectors, dtype=np.float32))
    y = torch.as_tensor(list(levels))
    counts = torch.bincount(y, minlength=3).clamp(min=1).float()
    w = (len(y) / (3 * counts))[y]
    if sample_weight is not None:
        w = w * torch.as_tensor(list(sample_weight), dtype=torch.float32)
    coef = torch.zeros(x.shape[1], requires_grad=True)
    thresholds = torch.tensor([-1.0, 1.0], requires_grad=True)
    target = (y.unsqueeze(1) >= torch.tensor([1, 2])).float()
    opt = torch.optim.LBFGS([coef, thresholds], max_iter=iters, line_search_fn="strong_wolfe")

    def closure() -> Any:
        opt.zero_grad()
        logits = (x @ coef).unsqueeze(1) - thresholds.unsqueeze(0)
        loss = (torch.nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none").mean(1)
                * w).sum() / w.sum() + l2 * (coef ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return coef.detach().numpy().astype(np.float32), [float(t) for t in thresholds.detach()]


def refit_head(probe: Probe, rows: Sequence[dict[str, Any]], cache: Any = None) -> Probe:
    """A contextual probe whose head is refit on `rows` (prompt, kind, optional weight) over the same fine-tuned
    encoder (fast: no encoder training; the loop's refit)."""
    from curation.models.embeddings import embed, encoder_from_spec

    encoder = encoder_from_spec(probe.model_id)
    texts = [r["prompt"] for r in rows]
    vecs = embed(texts, encoder, cache)
    coef, thresholds = fit_head(vecs, [KIND_LEVEL[r["kind"]] for r in rows], [r.get("weight", 1.0) for r in rows])
    meta = {**probe.meta, "thresholds": thresholds, "head_refit_rows": len(rows),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    refit = Probe(probe.model_id, coef, -thresholds[1], meta, text_hashes(texts))
    english = np.array([r.get("lang", "en") == "en" for r in rows])
    return place_decision_point(refit, vecs[english], [r["kind"] for r, e in zip(rows, english, strict=True) if e])


def place_decision_point(probe: Probe, vectors: np.ndarray, kinds: Sequence[str],
                         quantile: float = UNSAFE_QUANTILE) -> Probe:
    """Record where boundary scoring puts `p_refuse = 0.5`: the `quantile` of the (English) unsafe training rows'
    scores (`decision_point.offset`, subtracted by `boundary_offset`). The ordinal threshold sits between the
    safe-but-scary and unsafe training rows, where 16% of held-out safe-but-scary prompts still read harmful (dev);
    this point keeps them under 0.5. The probe's own margin (trigger occlusion, de-harm) is left as it was."""
    raw = np.asarray(vectors, dtype=np.float32) @ probe.coef + probe.intercept
    unsafe = np.asarray(kinds) == "unsafe"
    if not unsafe.any():
        return probe
    probe.meta["decision_point"] = {"unsafe_quantile": quantile, "offset": float(np.quantile(raw[unsafe], quantile)),
                                    "rule": "boundary p_refuse = 0.5 at this quantile of the English unsafe training "
                                            "rows' scores"}
    return probe


def _training_vectors(probe: Probe, texts: Sequence[str], workspace_root: Path) -> np.ndarray:
    """The fine-tuned encoder's vectors of the training prompts (through the workspace embedding cache)."""
    from curation.models.embeddings import embed, encoder_from_spec, workspace_cache

    encoder = encoder_from_spec(probe.model_id)
    with workspace_cache(workspace_root, encoder.model_id) as cache:
        return embed(list(texts), encoder, cache)


def cached_model(workspace_root: Path, cfg: TrainConfig | None = None) -> Path | None:
    """The workspace's trained model for the shipped data and `cfg` (what `curate probe fit` trains), if any."""
    from curation.models.harm.data import load_train

    cfg = cfg or TrainConfig()
    texts, levels = _levels(load_train())
    folder = models_dir(workspace_root) / f"harm-{PRESET}-{content_hash(texts, levels, cfg)}"
    return folder if (folder / "harm_head.json").exists() else None
