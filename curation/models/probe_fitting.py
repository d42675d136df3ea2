"""Harm-probe fitting from prompt sources: the sampling, language and cross-lingual transfer steps that `curate probe
fit` and `curate boundary fit-direction` drive (the CLI only parses options and prints)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datasets import Dataset

from curation.models.probe import Probe


@dataclass
class TransferFit:
    """A probe fit on the multilingual encoder for non-English rows: its probe name and the probe."""

    target: str
    probe: Probe


def languages_or_detected(ds: Dataset) -> list[str]:
    """The `language` column, with empty cells filled by language identification (lingua)."""
    from curation.models.langid import detect_languages

    langs = list(ds["language"])
    missing = [i for i, lang in enumerate(langs) if not lang]
    for i, lang in zip(missing, detect_languages([ds["prompt"][i] for i in missing]) if missing else [], strict=True):
        langs[i] = lang
    return langs


def contrast_language(texts: Sequence[str]) -> str:
    """The language of a contrast set (lingua; 90% of its prompts), or 'multilingual' when it mixes languages."""
    from curation.models.langid import detect_languages
    from curation.models.probe_routing import JOINT, language_counts

    counts = language_counts(detect_languages(list(texts[:500])))
    top, n = next(iter(counts.items()), (JOINT, 0))
    return top if n >= 0.9 * sum(counts.values()) else JOINT


def fit_english_transfer(harmful: list[str], harmless: list[str], probe: Probe, path: Path, workspace_root: Path,
                         name: str, settings: Any) -> TransferFit | None:
    """English data on an English-only encoder: record the probe as English and fit the same data on the
    multilingual encoder (`NAME-multilingual`), which non-English rows are routed to (its scores transfer across
    languages; the English encoder's do not). None when the data is not English or the encoder is multilingual."""
    from curation.models.langid import detect_languages
    from curation.models.probe_routing import fit_transfer_probe, is_english_only, language_counts

    counts = language_counts(detect_languages((harmful + harmless)[:500]))
    english = counts.get("en", 0) >= 0.7 * sum(counts.values())  # short prompts are sometimes misread
    if not english or not is_english_only(probe, settings):
        return None
    probe.meta["language"] = "en"
    probe.save(path)
    target, transfer = fit_transfer_probe(harmful, harmless, workspace_root, name, settings, settings.seed,
                                          settings.batch_size)
    return TransferFit(target, transfer)


def fit_contextual_transfer(harmful: list[str], harmless: list[str], workspace_root: Path, name: str,
                            settings: Any, exclude: Sequence[str] = ()) -> TransferFit:
    """The contextual harm model's encoder is English-only: fit its training rows (shipped contrast data plus the
    extra `harmful`/`harmless` prompts, English rows only) on the multilingual encoder for non-English rows, and the
    blend that puts the contextual model and that probe on one scale (`curation.models.harm.blend`), stored in the
    transfer probe (`exclude`: prompts whose near-duplicates neither may train on, e.g. an eval set)."""
    from curation.models.harm.model import training_rows
    from curation.models.probe_routing import fit_transfer_probe

    rows = [r for r in training_rows(harmful, harmless) if r.get("lang", "en") == "en"]  # English rows only
    unsafe = [r["prompt"] for r in rows if r["kind"] == "unsafe"]
    safe = [r["prompt"] for r in rows if r["kind"] != "unsafe"]
    target, transfer = fit_transfer_probe(unsafe, safe, workspace_root, name, settings, settings.seed,
                                          settings.batch_size, transfer_from="contextual", exclude=exclude)
    fit_contextual_blend(rows, transfer, workspace_root, name, target, exclude)
    return TransferFit(target, transfer)


def fit_contextual_blend(rows: Sequence[dict[str, Any]], transfer: Probe, workspace_root: Path, name: str,
                         target: str, exclude: Sequence[str] = ()) -> None:
    """Fit the contextual/transfer blend on the English training `rows` (prompt, kind) and save it in the transfer
    probe `target` (`contextual_blend`)."""
    import numpy as np

    from curation.models.embeddings import embed, encoder_from_spec, workspace_cache
    from curation.models.harm.blend import fit_blend
    from curation.models.probe import default_probe_dir
    from curation.models.probe_routing import NEAR_DUPLICATE_COSINE

    base = Probe.load(default_probe_dir(workspace_root, name))
    texts = [r["prompt"] for r in rows]
    encoder = encoder_from_spec(transfer.model_id)
    with workspace_cache(workspace_root, encoder.model_id) as cache:
        vectors = embed(texts, encoder, cache)
        held = embed(list(exclude), encoder, cache) if exclude else None
    keep = (vectors @ held.T).max(axis=1) < NEAR_DUPLICATE_COSINE if held is not None else None
    contextual_encoder = encoder_from_spec(base.model_id)
    with workspace_cache(workspace_root, contextual_encoder.model_id) as cache:
        contextual = base.score_texts(texts, contextual_encoder, cache)
    blend = fit_blend(np.asarray(contextual), transfer.decision(vectors), vectors, [r["kind"] for r in rows],
                      str(base.meta.get("created", "")), keep=keep)
    transfer.meta["contextual_blend"] = blend.to_meta()
    transfer.save(default_probe_dir(workspace_root, target))


def refresh_contextual_blend(workspace_root: Path, name: str = "default") -> bool:
    """Refit the blend for a contextual probe whose head changed (the loop's refit), on the shipped English rows, so
    English rows and their translations stay on one scale; False when the workspace has no blend to refresh."""
    from curation.models.harm.model import training_rows
    from curation.models.probe import default_probe_dir
    from curation.models.probe_routing import JOINT, language_probe_name

    target = language_probe_name(name, JOINT)
    folder = default_probe_dir(workspace_root, target)
    if not (folder / "probe.json").exists():
        return False
    transfer = Probe.load(folder)
    if not transfer.meta.get("contextual_blend"):
        return False
    rows = [r for r in training_rows() if r.get("lang", "en") == "en"]
    fit_contextual_blend(rows, transfer, workspace_root, name, target)
    return True
