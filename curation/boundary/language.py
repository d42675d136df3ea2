"""Boundary scoring per language: the `probe_by_language` scorer sends each row to its language's probe
(`curate probe fit --per-language`), falling back to the joint multilingual probe, flagged in the row's provenance.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from curation.core.languages import normalize_language_code
from curation.core.registry import scorers
from curation.models.probe import default_probe_dir
from curation.models.probe_routing import ProbeRouter, RoutedProbe, language_counts

ROUTE_KEYS = ("probe", "probe_language", "language_fallback", "route_reason")


@dataclass
class LanguageProbeScorer:
    """Margin of the row's language probe; uncalibrated P(refuse) is its sigmoid. `score_rows` routes by language;
    `score` (texts only) treats every text as English."""

    router: ProbeRouter
    workspace_root: Path
    batch_size: int = 64
    name: str = field(init=False)
    artifact: str = field(init=False)
    artifact_dir: Path = field(init=False)
    last_routes: list[RoutedProbe] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.name = f"probe_by_language:{self.router.name}"
        root = default_probe_dir(self.workspace_root, self.router.name).parent
        stamps = sorted(f"{p.name}:{json.loads((p / 'probe.json').read_text()).get('created', '')}"
                        for p in root.glob(f"{self.router.name}*") if (p / "probe.json").exists())
        self.artifact = "probe_by_language:" + ",".join(stamps)
        self.artifact_dir = root / f"{self.router.name}.by-language"  # where its calibration is saved

    def score_rows(self, texts: Sequence[str], languages: Sequence[str | None] | None
                   ) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """Raw scores and, per row, which probe scored it (`probe`, `probe_language`, `language_fallback`)."""
        languages = list(languages) if languages is not None else [None] * len(texts)
        scores, routes = self.router.score(list(texts), languages, self.batch_size)
        self.last_routes = routes
        return scores, [{"probe": r.name, "probe_language": r.probe.meta.get("language"),
                         "language_fallback": r.fallback, "route_reason": r.reason,
                         "encoder": r.probe.model_id} for r in routes]

    def score(self, texts: Sequence[str]) -> np.ndarray:
        return self.score_rows(texts, None)[0]

    def default_p_refuse(self, scores: np.ndarray) -> np.ndarray:
        from scipy.special import expit

        return expit(np.asarray(scores, dtype=np.float64))

    def provenance(self) -> dict[str, Any]:
        return {"scorer": "probe_by_language", "artifact": str(self.artifact_dir.parent), "probe": self.router.name,
                "cross_lingual_scale": self.router.same_scale and self.router.transfer() is not None}


@scorers.register("probe_by_language.v1")
def make_language_probe_scorer(workspace_root: Path, name: str = "default", device: str = "cpu",
                               batch_size: int = 64, cross_lingual_scale: bool = True) -> LanguageProbeScorer:
    """The probes `<name>-<lang>` / `<name>-multilingual` / `<name>` of the workspace, routed by row language; with
    `cross_lingual_scale` (default), English rows of an English-only probe use its transfer probe too."""
    router = ProbeRouter(Path(workspace_root), name, device, same_scale=cross_lingual_scale)
    return LanguageProbeScorer(router, Path(workspace_root), batch_size)


def wants_language_routing(scorer: str, path: str | None, artifact: str, workspace_root: Path,
                           per_language: bool | None) -> bool:
    """`probe` scoring switches to `probe_by_language` when asked, or (None) when language probes exist (which
    includes the cross-lingual transfer probe `curate probe fit` adds to an English-only probe)."""
    if scorer != "probe" or path or per_language is False:
        return False
    return bool(per_language) or ProbeRouter(Path(workspace_root), artifact).has_language_probes()


def language_report(raw: np.ndarray, routes: Sequence[dict[str, Any]], labels: Sequence[str | None] | None,
                    languages: Sequence[str | None]) -> dict[str, dict[str, Any]]:
    """Per language: rows, the probe(s) used, fallbacks, and AUROC against harmful/benign labels where present."""
    from curation.models.probe_routing import per_language_auroc

    langs = [normalize_language_code(lg) for lg in languages]
    stats = per_language_auroc(raw.tolist(), labels if labels is not None else [None] * len(raw), langs)
    for lang in language_counts(langs):
        idx = [i for i, lg in enumerate(langs) if lg == lang]
        stats[lang]["probes"] = sorted({routes[i]["probe"] for i in idx}) if routes else []
        stats[lang]["fallback"] = sorted({routes[i]["language_fallback"] for i in idx
                                          if routes and routes[i]["language_fallback"]})
        stats[lang]["route_reason"] = sorted({routes[i].get("route_reason") for i in idx
                                              if routes and routes[i].get("route_reason")})
    return stats
