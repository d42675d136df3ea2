"""Harmfulness probes per language: fit one probe per language (on that language's encoder) plus a joint one on the
multilingual encoder, save them as `<name>-<lang>` / `<name>-multilingual`, and route each row to its language's
probe (falling back to the joint probe, then the base `<name>` probe, flagged).

Used by `curate probe fit --per-language`, the boundary `probe` scorer and the triggers' probe occlusion.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from curation.core.errors import InputError
from curation.core.languages import normalize_language_code
from curation.models.embeddings import (
    EmbeddingCache,
    Encoder,
    encoder_for_language,
    encoder_from_spec,
    multilingual_model,
)
from curation.models.probe import MIN_PER_CLASS, Probe, boundary_offset, default_probe_dir, fit_probe

if TYPE_CHECKING:
    from curation.models.harm.blend import ContextualBlend

JOINT = "multilingual"
JOINT_FLAG = "joint_probe"        # no probe for the row's language: the joint multilingual probe scored it
BASE_FLAG = "base_probe"          # no language or joint probe: the base (usually English) probe scored it
TRANSFER_FLAG = "cross_lingual"   # English-only base probe: the same data's probe on the multilingual encoder scored it
SAME_SCALE_FLAG = "cross_lingual_scale"  # an English row scored by that transfer probe too, so languages compare
BLEND_FLAG = "contextual_blend"  # an English row scored by the contextual model blended with the transfer probe
_MULTILINGUAL_MARKERS = ("multilingual", "labse", "xlm", "m3", "laser", "mbert", "mt5", "nllb")


def language_probe_name(name: str, language: str) -> str:
    """Workspace name of the probe of `language` (or of the joint probe, `language="multilingual"`)."""
    return f"{name}-{language}"


def probe_language(probe: Probe) -> str | None:
    """The language a probe was fit on (`multilingual` for the joint one), when recorded."""
    return probe.meta.get("language")


def is_multilingual_encoder(model_id: str, settings: Any = None) -> bool:
    """Whether an encoder's space is shared across languages (the configured multilingual model, or a known name)."""
    from curation.models.embeddings import multilingual_model

    try:
        configured = multilingual_model(settings)
    except Exception:  # noqa: BLE001 - settings unreadable: judge by name only
        configured = ""
    return model_id == configured or any(m in model_id.lower() for m in _MULTILINGUAL_MARKERS)


def is_english_only(probe: Probe, settings: Any = None) -> bool:
    """A probe fit on English data (or data of unrecorded language) over an encoder that does not transfer."""
    return probe_language(probe) in (None, "en") and not is_multilingual_encoder(probe.model_id, settings)


def transfer_reason(base: Probe, transfer: Probe) -> str:
    """One line saying why non-English rows leave the base probe (printed and stored in the row's provenance)."""
    return (f"the probe's encoder '{base.model_id}' is English-only and its training data is English, so its scores "
            f"do not transfer; rows are scored by the same data's probe on '{transfer.model_id}'")


TRANSFER_NEIGHBOURS = 20        # k of the transfer probe's kNN part (chosen on the parallel dev split)
TRANSFER_MAX_ANCHORS = 5000     # per class: caps the kNN part's size and cost
NEAR_DUPLICATE_COSINE = 0.85    # `exclude`: training rows this close to an excluded prompt are dropped


def shipped_english_rows() -> tuple[list[str], list[str]]:
    """English rows of the shipped contrast data (`curation/data/harm`): unsafe -> harmful; safe-but-scary and plain
    -> harmless. They teach the transfer probe intent rather than harm words, which travels across languages."""
    from curation.models.harm.data import load_train

    rows = [r for r in load_train() if r.get("lang", "en") == "en"]
    return ([r["prompt"] for r in rows if r["kind"] == "unsafe"],
            [r["prompt"] for r in rows if r["kind"] != "unsafe"])


def transfer_training_set(harmful: Sequence[str], harmless: Sequence[str], shipped: bool = True,
                          exclude: Sequence[str] = (), encoder: Encoder | None = None,
                          cache: EmbeddingCache | None = None) -> tuple[list[str], list[str], dict[str, Any]]:
    """The transfer probe's training mix: the given sets, plus (with `shipped`) the shipped English contrast rows,
    de-duplicated (a text keeps its first class), minus rows within cosine 0.85 of an `exclude` prompt."""
    from curation.models.embeddings import embed

    sets = {"harmful": [t for t in harmful if t and t.strip()], "harmless": [t for t in harmless if t and t.strip()]}
    info: dict[str, Any] = {"given": [len(sets["harmful"]), len(sets["harmless"])]}
    if shipped:
        extra = shipped_english_rows()
        sets["harmful"] += extra[0]
        sets["harmless"] += extra[1]
        info["shipped_en"] = [len(extra[0]), len(extra[1])]
    seen: set[str] = set()
    for kind in ("harmful", "harmless"):
        keep = []
        for t in sets[kind]:
            key = " ".join(t.lower().split())
            if key not in seen:
                seen.add(key)
                keep.append(t)
        sets[kind] = keep
    if exclude and encoder is not None:
        held = embed(list(exclude), encoder, cache)
        dropped = 0
        for kind in ("harmful", "harmless"):
            near = (embed(sets[kind], encoder, cache) @ held.T).max(axis=1) >= NEAR_DUPLICATE_COSINE
            dropped += int(near.sum())
            sets[kind] = [t for t, n in zip(sets[kind], near, strict=True) if not n]
        info["excluded_near_duplicates"] = dropped
    info["rows"] = [len(sets["harmful"]), len(sets["harmless"])]
    return sets["harmful"], sets["harmless"], info


def fit_transfer_probe(harmful: Sequence[str], harmless: Sequence[str], workspace_root: Path, name: str = "default",
                       settings: Any = None, seed: int = 0, batch_size: int = 64, transfer_from: str = "en",
                       shipped: bool = True, exclude: Sequence[str] = (), neighbours: int = TRANSFER_NEIGHBOURS
                       ) -> tuple[str, Probe]:
    """Fit the English training data's probe on the multilingual encoder and save it as `<name>-multilingual`
    (`transfer_from: en`), the probe non-English rows are routed to when the base probe is English-only.

    Training mix: the given sets plus the shipped English contrast rows (`shipped`); score: the linear margin plus a
    kNN vote over the training prompts (`neighbours`, 0 for linear only). Both chosen on the parallel dev split
    (docs/multilingual.md): together they lift every language's Spearman with English from 0.93 to 0.96 there."""
    from curation.models.embeddings import embed
    from curation.models.probe import fit_neighbour_vote

    encoder = encoder_from_spec(multilingual_model(settings))
    given_sets = (list(harmful), list(harmless))
    with _cache(workspace_root, encoder) as cache:
        harmful, harmless, mix = transfer_training_set(harmful, harmless, shipped, exclude, encoder, cache)
        probe = fit_probe(harmful, harmless, encoder, cache, seed=seed, batch_size=batch_size)
        probe.meta["language"] = JOINT
        given = transfer_training_set(given_sets[0], given_sets[1], False, exclude, encoder, cache)
        if shipped and min(len(given[0]), len(given[1])) >= MIN_PER_CLASS:
            head = fit_probe(given[0], given[1], encoder, cache, seed=seed, batch_size=batch_size)
            probe.meta["occlusion_head"] = {"coef": [round(float(c), 6) for c in head.coef],
                                            "intercept": head.intercept, "trained_on": given[2]["rows"]}
        if neighbours > 0:
            rng = np.random.default_rng(seed)
            pos = [harmful[i] for i in sorted(rng.permutation(len(harmful))[:TRANSFER_MAX_ANCHORS])]
            neg = [harmless[i] for i in sorted(rng.permutation(len(harmless))[:TRANSFER_MAX_ANCHORS])]
            x = embed(pos + neg, encoder, cache, batch_size=batch_size)
            probe.neighbours = fit_neighbour_vote(probe, x, np.array([1] * len(pos) + [0] * len(neg)), neighbours,
                                                  seed)
    probe.meta["transfer_from"] = transfer_from
    probe.meta["languages"] = {"en": (len(harmful), len(harmless))}
    probe.meta["training_mix"] = mix
    target = language_probe_name(name, JOINT)
    probe.save(default_probe_dir(workspace_root, target))
    return target, probe


def occlusion_head(probe: Probe) -> Probe:
    """The linear probe trigger occlusion should use: a transfer probe's `occlusion_head` (fit on the given sets
    only, like the English base probe, so a harm word weighs alike in every language), else the probe's linear
    part (no kNN vote: a word's removal should move the score smoothly)."""
    head = probe.meta.get("occlusion_head")
    if head:
        return Probe(probe.model_id, np.asarray(head["coef"], dtype=np.float32), float(head["intercept"]),
                     {**probe.meta, "occlusion": "given sets"})
    probe.neighbours = None
    return probe


def _cache(workspace_root: Path | None, encoder: Encoder) -> AbstractContextManager[EmbeddingCache | None]:
    """The workspace's embedding cache of `encoder`, closed on exit; None inside when there is no workspace."""
    from curation.models.embeddings import workspace_cache

    return workspace_cache(workspace_root, encoder.model_id) if workspace_root else nullcontext()


def fit_language_probe(harmful: Sequence[str], harmless: Sequence[str], language: str, encoder: Encoder | None = None,
                       workspace_root: Path | None = None, settings: Any = None, seed: int = 0,
                       batch_size: int = 64) -> Probe:
    """A probe of one language on that language's encoder (`encoder_for_language`), language in its metadata."""
    lang = JOINT if language == JOINT else normalize_language_code(language)
    if encoder is None:
        encoder = encoder_from_spec(multilingual_model(settings)) if lang == JOINT else encoder_for_language(
            lang, settings)
    with _cache(workspace_root, encoder) as cache:
        probe = fit_probe(harmful, harmless, encoder, cache, seed=seed, batch_size=batch_size)
    probe.meta["language"] = lang
    return probe


@dataclass
class FitReport:
    """What `fit_per_language` saved, and which languages it skipped for too few examples."""

    fitted: dict[str, dict[str, Any]] = field(default_factory=dict)  # probe name -> language, counts, AUROC, encoder
    skipped: dict[str, tuple[int, int]] = field(default_factory=dict)  # language -> (harmful, harmless)


def fit_per_language(texts: Sequence[str], labels: Sequence[str], languages: Sequence[str | None],
                     workspace_root: Path, name: str = "default", settings: Any = None, joint: bool = True,
                     min_per_class: int = MIN_PER_CLASS, only: Sequence[str] | None = None, seed: int = 0,
                     batch_size: int = 64) -> FitReport:
    """Fit and save `<name>-<lang>` for every language with `min_per_class` harmful and harmless rows (labels
    "harmful"/"benign"; other rows ignored) and, with `joint`, `<name>-multilingual` on all of them."""
    langs = [normalize_language_code(lg) for lg in languages]
    by_lang: dict[str, dict[str, list[str]]] = {}
    for text, label, lang in zip(texts, labels, langs, strict=True):
        if label in ("harmful", "benign") and text and text.strip():
            by_lang.setdefault(lang, {"harmful": [], "benign": []})[label].append(text)
    if not by_lang:
        raise InputError("probe fit: no row is labelled harmful or benign",
                         "label the sources at ingest (--label-col) or pass --harmful and --harmless files")
    report = FitReport()
    wanted = {normalize_language_code(x) for x in only} if only else None
    for lang, sets in sorted(by_lang.items()):
        if wanted is not None and lang not in wanted:
            continue
        counts = (len(sets["harmful"]), len(sets["benign"]))
        if min(counts) < max(min_per_class, MIN_PER_CLASS):
            report.skipped[lang] = counts
            continue
        probe = fit_language_probe(sets["harmful"], sets["benign"], lang, None, workspace_root, settings, seed,
                                   batch_size)
        target = language_probe_name(name, lang)
        probe.save(default_probe_dir(workspace_root, target))
        report.fitted[target] = _summary(probe, {lang: counts})
    if joint:
        harmful = [t for s in by_lang.values() for t in s["harmful"]]
        harmless = [t for s in by_lang.values() for t in s["benign"]]
        probe = fit_language_probe(harmful, harmless, JOINT, None, workspace_root, settings, seed, batch_size)
        per_lang = {lang: (len(s["harmful"]), len(s["benign"])) for lang, s in sorted(by_lang.items())}
        probe.meta["languages"] = per_lang
        target = language_probe_name(name, JOINT)
        probe.save(default_probe_dir(workspace_root, target))
        report.fitted[target] = _summary(probe, per_lang)
    if not report.fitted:
        raise InputError(f"probe fit: no language has {max(min_per_class, MIN_PER_CLASS)} harmful and harmless "
                         f"prompts ({', '.join(f'{k}: {h}/{b}' for k, (h, b) in report.skipped.items())})",
                         "add labelled prompts, lower --min-per-class, or keep --joint")
    return report


def _summary(probe: Probe, counts: dict[str, tuple[int, int]]) -> dict[str, Any]:
    return {"language": probe.meta["language"], "encoder": probe.model_id, "counts": counts,
            "holdout_auroc": probe.meta.get("holdout_auroc")}


class BlendedProbe:
    """The contextual model and its transfer probe on one scale (`ContextualBlend`): English rows need both encoders,
    other rows only the multilingual one (the contextual score distilled onto it)."""

    def __init__(self, base: Probe, transfer: Probe, blend: ContextualBlend, english: bool) -> None:
        self.base, self.transfer, self.blend, self.english = base, transfer, blend, english
        self.model_id = f"{base.model_id} + {transfer.model_id}" if english else transfer.model_id
        self.meta = {"language": "en" if english else JOINT, "blend_weight": blend.weight,
                     "created": transfer.meta.get("created")}

    def score(self, texts: Sequence[str], router: ProbeRouter, batch_size: int = 64) -> np.ndarray:
        """Blended logits of `texts` (> 0 reads harmful)."""
        vectors = router.vectors(self.transfer, texts, batch_size)
        transfer = self.transfer.decision(vectors)
        if not self.english:
            return self.blend.other(vectors, transfer)
        return self.blend.english(self.base.decision(router.vectors(self.base, texts, batch_size)), transfer)

    def in_sample(self, texts: Sequence[str]) -> np.ndarray:
        """Rows among either model's training prompts."""
        return self.base.in_sample(texts) | self.transfer.in_sample(texts)


@dataclass
class RoutedProbe:
    """The probe a language's rows are scored with, and the flag saying it is a fallback (None when not)."""

    name: str
    probe: Probe | BlendedProbe
    fallback: str | None = None
    reason: str | None = None  # why the row left its language's (or the base) probe, when it did


class ProbeRouter:
    """Routes rows to `<name>-<lang>`, else (English) `<name>`, else `<name>-multilingual`, else `<name>`.

    When `<name>` is English-only and `<name>-multilingual` is its transfer probe (`curate probe fit` fits both),
    non-English rows are flagged `cross_lingual`; with `same_scale`, English rows are scored by the transfer probe
    too (flag `cross_lingual_scale`), so a request and its translation sit on one scale."""

    def __init__(self, workspace_root: Path, name: str = "default", device: str = "cpu", same_scale: bool = False,
                 linear_only: bool = False) -> None:
        self.workspace_root = Path(workspace_root)
        self.name = name
        self.device = device
        self.same_scale = same_scale
        self.linear_only = linear_only  # trigger occlusion: a transfer probe's occlusion head (linear, given sets)
        self._probes: dict[str, Probe | None] = {}
        self._blends: dict[str, BlendedProbe | None] = {}
        self._encoders: dict[str, Encoder] = {}

    def _load(self, probe_name: str) -> Probe | None:
        if probe_name not in self._probes:
            folder = default_probe_dir(self.workspace_root, probe_name)
            probe = Probe.load(folder) if (folder / "probe.json").exists() else None
            if probe is not None and self.linear_only:
                probe = occlusion_head(probe)
            self._probes[probe_name] = probe
        return self._probes[probe_name]

    def has_language_probes(self) -> bool:
        """Whether any `<name>-<lang>` or joint probe exists (else plain single-probe scoring is the same)."""
        root = default_probe_dir(self.workspace_root, self.name).parent
        return root.is_dir() and any((p / "probe.json").exists() for p in root.glob(f"{self.name}-*"))

    def transfer(self) -> tuple[Probe, Probe] | None:
        """(English-only base probe, its transfer probe on the multilingual encoder), when both exist."""
        base, joint = self._load(self.name), self._load(language_probe_name(self.name, JOINT))
        if base is None or joint is None or not joint.meta.get("transfer_from") or not is_english_only(base):
            return None
        return base, joint

    def blend(self) -> tuple[Probe, Probe, ContextualBlend] | None:
        """(contextual base probe, transfer probe, their blend) when the transfer probe holds a blend fit for this
        base probe (`curate probe fit --preset contextual`); None for trigger occlusion (`linear_only`), other
        probes, or a blend made stale by a refit of the base probe's head."""
        from curation.models.harm.blend import ContextualBlend

        pair = None if self.linear_only else self.transfer()
        if pair is None or pair[0].meta.get("preset") != "contextual":
            return None
        blend = ContextualBlend.from_meta(pair[1].meta.get("contextual_blend"))
        if blend is None or blend.base_created != pair[0].meta.get("created"):
            return None
        return pair[0], pair[1], blend

    def _blended(self, english: bool) -> BlendedProbe | None:
        key = "en" if english else "other"
        if key not in self._blends:
            found = self.blend()
            self._blends[key] = BlendedProbe(*found, english) if found else None
        return self._blends[key]

    def route(self, language: str | None) -> RoutedProbe:
        lang = normalize_language_code(language)
        joint_name = language_probe_name(self.name, JOINT)
        pair = self.transfer()
        own = self._load(language_probe_name(self.name, lang)) is not None
        blended = None if own else self._blended(lang == "en")
        if blended is not None and (lang != "en" or self.same_scale):
            w = blended.blend.weight
            if lang == "en":
                return RoutedProbe(f"{self.name}+{joint_name}", blended, BLEND_FLAG,
                                   f"English rows: {w:g} x the contextual model + {1 - w:g} x the cross-lingual "
                                   "probe (standardised), the scale the other languages are scored on")
            return RoutedProbe(joint_name, blended, TRANSFER_FLAG,
                               transfer_reason(*pair) + f", blended with the contextual model's score distilled onto "
                               f"that encoder (weight {w:g}), the scale English rows are scored on")
        if (lang == "en" and self.same_scale and pair and pair[0].meta.get("preset") != "contextual"
                and self._load(language_probe_name(self.name, "en")) is None):  # the contextual model keeps English
            return RoutedProbe(joint_name, pair[1], SAME_SCALE_FLAG,
                               "English rows use the cross-lingual probe too (same scale as the other languages)")
        order = [(language_probe_name(self.name, lang), None)]
        if lang == "en":
            order.append((self.name, None))
        order += [(joint_name, JOINT_FLAG), (self.name, BASE_FLAG)]
        for probe_name, flag in order:
            probe = self._load(probe_name)
            if probe is not None:
                reason = None
                if flag == BASE_FLAG and probe_language(probe) in (lang, JOINT):
                    flag = None  # the base probe was itself fit on this language (or jointly)
                elif flag == BASE_FLAG and is_english_only(probe):
                    reason = ("no probe for this language and none that transfers: the English-only probe scored "
                              "it (refit with `curate probe fit` to add the cross-lingual one)")
                elif flag == JOINT_FLAG and pair is not None:
                    flag, reason = TRANSFER_FLAG, transfer_reason(*pair)
                return RoutedProbe(probe_name, probe, flag, reason)
        raise InputError(f"no harmfulness probe '{self.name}' (nor '{language_probe_name(self.name, lang)}') in "
                         f"{self.workspace_root}", "fit one with `curate probe fit --harmful X --harmless Y` "
                         "(add --per-language for one probe per language)")

    def encoder(self, probe: Probe) -> Encoder:
        """The encoder of `probe` (loaded once per router)."""
        if probe.model_id not in self._encoders:
            self._encoders[probe.model_id] = encoder_from_spec(probe.model_id, self.device)
        return self._encoders[probe.model_id]

    def vectors(self, probe: Probe, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """`texts` embedded by `probe`'s encoder, through the workspace's embedding cache."""
        from curation.models.embeddings import embed

        encoder = self.encoder(probe)
        with _cache(self.workspace_root, encoder) as cache:
            return embed(list(texts), encoder, cache, batch_size=batch_size)

    def groups(self, languages: Sequence[str | None]) -> dict[str, tuple[RoutedProbe, list[int]]]:
        """Probe name -> (routed probe, row indices), so each probe scores its rows in one batch."""
        out: dict[str, tuple[RoutedProbe, list[int]]] = {}
        routes: dict[str, RoutedProbe] = {}
        for i, language in enumerate(languages):
            lang = normalize_language_code(language)
            if lang not in routes:
                routes[lang] = self.route(lang)
            routed = routes[lang]
            key = f"{routed.name}|{routed.fallback or ''}"
            out.setdefault(key, (routed, []))[1].append(i)
        return out

    def score(self, texts: Sequence[str], languages: Sequence[str | None], batch_size: int = 64
              ) -> tuple[np.ndarray, list[RoutedProbe]]:
        """Probe margin of every text by its language's probe (one batched encode per probe, whatever the languages
        routed to it) and the route each row took."""
        scores = np.zeros(len(texts), dtype=np.float64)
        routes: dict[str, RoutedProbe] = {}
        used: list[RoutedProbe] = []
        by_probe: dict[str, list[int]] = {}
        for i, language in enumerate(languages):
            lang = normalize_language_code(language)
            if lang not in routes:
                routes[lang] = self.route(lang)
            used.append(routes[lang])
            by_probe.setdefault(routes[lang].name, []).append(i)
        for idx in by_probe.values():
            probe = used[idx[0]].probe
            if isinstance(probe, BlendedProbe):
                scores[idx] = probe.score([texts[i] for i in idx], self, batch_size)
                continue
            scores[idx] = probe.decision(self.vectors(probe, [texts[i] for i in idx], batch_size))
            if not self.linear_only:  # boundary scoring: the probe's recorded p_refuse = 0.5 point
                scores[idx] -= boundary_offset(probe)
        return scores, used


def language_counts(languages: Sequence[str | None]) -> dict[str, int]:
    return dict(Counter(normalize_language_code(lg) for lg in languages).most_common())


def per_language_auroc(scores: Sequence[float], labels: Sequence[str | None], languages: Sequence[str | None]
                       ) -> dict[str, dict[str, Any]]:
    """AUROC of `scores` against harmful/benign labels per language (None where a language has one class)."""
    from sklearn.metrics import roc_auc_score

    out: dict[str, dict[str, Any]] = {}
    langs = [normalize_language_code(lg) for lg in languages]
    for lang in sorted(set(langs)):
        idx = [i for i, lg in enumerate(langs) if lg == lang and labels[i] in ("harmful", "benign")]
        y = [labels[i] == "harmful" for i in idx]
        n_pos = sum(y)
        auroc = float(roc_auc_score(y, [scores[i] for i in idx])) if 0 < n_pos < len(y) else None
        out[lang] = {"rows": sum(1 for lg in langs if lg == lang), "harmful": n_pos, "benign": len(y) - n_pos,
                     "auroc": auroc}
    return out
