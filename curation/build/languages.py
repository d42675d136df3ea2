"""Per-language lineage for multilingual builds (MORBench): annotator agreement of each gold source per language,
recorded next to the source's overall agreement so the dataset card can show them side by side."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from curation.build.context import BuildContext
from curation.core import columns as C
from curation.core.errors import InputError
from curation.core.progress import datasets_progress


def snapshot_names(gold_name: str) -> list[str]:
    """Annotation snapshots a gold dataset may come from: `<base>.annotations` (and per-language pushes'
    `<base>-<lang>.annotations` are found by the caller's language list)."""
    return [f"{gold_name.removesuffix('.gold')}.annotations"]


def language_agreement(snapshot: Any, languages_by_id: dict[str, str], name: str) -> dict[str, dict[str, Any]]:
    """qa summary (kappa, alpha, span F1) of the snapshot's records per language; languages with no submitted
    responses are left out."""
    from curation.qa.stage import run as qa_run
    from curation.qa.stage import summary

    groups: dict[str, list[int]] = {}
    for i, rid in enumerate(snapshot[C.ID]):
        if rid in languages_by_id:
            groups.setdefault(languages_by_id[rid], []).append(i)
    out = {}
    for lang, idx in sorted(groups.items()):
        try:
            with datasets_progress(False):
                out[lang] = summary(qa_run(snapshot.select(idx), name=f"{name} [{lang}]").as_dict())
        except InputError:  # nothing submitted for this language yet
            continue
    return out


def record_language_agreement(sources: Sequence[str], ctx: BuildContext) -> None:
    """Add `rows_by_language` and (when a snapshot exists) `agreement_by_language` to each source's lineage."""
    for name in sources:
        gold = ctx.load(name)
        info = ctx.sources.setdefault(name, {})
        langs = [lg or "en" for lg in gold[C.LANGUAGE]] if C.LANGUAGE in gold.column_names else ["en"] * len(gold)
        info["rows_by_language"] = {lg: langs.count(lg) for lg in sorted(set(langs))}
        by_id = dict(zip(gold[C.ID], langs, strict=True))
        candidates = snapshot_names(name) + [f"{name.removesuffix('.gold')}-{lg}.annotations" for lg in set(langs)]
        agreement: dict[str, dict[str, Any]] = {}
        for snap_name in candidates:
            if ctx.workspace.has_dataset(snap_name):
                snapshot = ctx.workspace.load_dataset(snap_name)
                if C.ANNOTATIONS in snapshot.column_names and len(snapshot):
                    agreement.update(language_agreement(snapshot, by_id, snap_name))
        if agreement:
            info["agreement_by_language"] = agreement
        calibration = calibration_by_language(gold, langs)
        if calibration:
            info["calibration_by_language"] = calibration


def calibration_by_language(ds: Any, langs: Sequence[str]) -> dict[str, str]:
    """How `p_refuse` was calibrated per language (`language`: on its own judged refusals, `shared`, `none`), from
    the rows' boundary provenance; empty when the rows were never boundary-scored."""
    import json

    if C.BOUNDARY_PROVENANCE not in ds.column_names:
        return {}
    scopes: dict[str, set[str]] = {}
    for lang, prov in zip(langs, ds[C.BOUNDARY_PROVENANCE], strict=True):
        scope = json.loads(prov).get("calibration_scope") if prov else None
        if scope:
            scopes.setdefault(lang, set()).add(scope)
    return {lang: "/".join(sorted(v)) for lang, v in sorted(scopes.items())}
