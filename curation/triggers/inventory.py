"""Corpus inventory of triggers: lemmatized trigger counts, share of prompts, refusal lift (when responses were
judged) and clusters of triggers by embedding (scikit-learn agglomerative clustering on cosine distance)."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from datasets import Dataset, Features, Sequence, Value
from pydantic import BaseModel, ConfigDict, Field

from curation.core import columns as C
from curation.core.errors import InputError
from curation.core.plotting import save_figure
from curation.models.embeddings import DEFAULT_MODEL
from curation.triggers.combine import BENIGN_HOMONYM, HARMFUL_CUE
from curation.triggers.spacy_pipelines import group_by_language, load_pipeline

REFUSAL_LABELS = ("full_refusal", "partial_refusal")
INVENTORY_FEATURES = Features({
    "trigger": Value("string"), "count": Value("int64"), "prompts": Value("int64"), "share": Value("float64"),
    "harmful_cue": Value("int64"), "benign_homonym": Value("int64"), "mean_score": Value("float64"),
    "refusal_rate_with": Value("float64"), "refusal_rate_without": Value("float64"), "lift": Value("float64"),
    "forms": Sequence(Value("string")), "cluster": Value("int64"), "cluster_name": Value("string"),
})


class InventoryConfig(BaseModel):
    """Options of `curate triggers inventory`."""

    model_config = ConfigDict(extra="forbid")

    labels: list[str] = Field(default_factory=lambda: [HARMFUL_CUE, BENIGN_HOMONYM],
                              description="Span labels counted as triggers.")
    min_count: int = Field(1, ge=1, description="Drop triggers seen fewer times.")
    cluster_distance: float = Field(0.45, gt=0, le=2, description="Cosine distance that joins two clusters.")
    embedding_model: str = DEFAULT_MODEL
    device: str = "cpu"


def lemmatize(prompts: list[str], spans: list[list[dict]], languages: list[str]) -> list[list[str]]:
    """Lower-cased lemma of each span, lemmatized in its prompt's context (tagger + lemmatizer of its language)."""
    out: list[list[str]] = [[] for _ in prompts]
    for lang, idx in group_by_language(languages).items():
        idx = [i for i in idx if spans[i]]
        pipeline = load_pipeline(lang)
        with pipeline.nlp.select_pipes(enable=list(pipeline.lemma_pipes)):
            docs = pipeline.nlp.pipe((prompts[i] for i in idx), batch_size=256)
            for i, doc in zip(idx, docs, strict=True):
                for s in spans[i]:
                    span = doc.char_span(s["start"], s["end"], alignment_mode="expand")
                    words = [(t.lemma_ or t.text).lower() for t in (span or []) if not t.is_punct and not t.is_space]
                    out[i].append(" ".join(words) or s["text"].lower())
    return out


def cluster_triggers(triggers: list[str], counts: list[int], cfg: InventoryConfig,
                     workspace_root: Path | None = None) -> tuple[list[int], list[str]]:
    """Cluster ids (by descending cluster size) and names (the most frequent member) of each trigger."""
    if not triggers:
        return [], []
    if len(triggers) == 1:
        return [0], [triggers[0]]
    from sklearn.cluster import AgglomerativeClustering

    from curation.models.embeddings import embed, encoder_from_spec, workspace_cache

    encoder = encoder_from_spec(cfg.embedding_model, cfg.device)
    cache = workspace_cache(workspace_root, encoder.model_id) if workspace_root else None
    try:
        vectors = embed(triggers, encoder, cache)
    finally:
        if cache:
            cache.close()
    raw = AgglomerativeClustering(n_clusters=None, distance_threshold=cfg.cluster_distance, metric="cosine",
                                  linkage="average").fit_predict(vectors)
    size = Counter()
    for label, count in zip(raw, counts, strict=True):
        size[label] += count
    renumber = {label: i for i, (label, _) in enumerate(sorted(size.items(), key=lambda kv: (-kv[1], kv[0])))}
    names: dict[int, tuple[int, str]] = {}
    for trig, label, count in zip(triggers, raw, counts, strict=True):
        best = names.get(label)
        if best is None or (count, -len(trig)) > (best[0], -len(best[1])):
            names[label] = (count, trig)
    return [renumber[label] for label in raw], [names[label][1] for label in raw]


def inventory(ds: Dataset, cfg: InventoryConfig | None = None, workspace_root: Path | str | None = None) -> Dataset:
    """One row per lemmatized trigger, most frequent first. Reads trigger_spans (+ judge_label, language)."""
    cfg = cfg or InventoryConfig()
    if C.TRIGGER_SPANS not in ds.column_names:
        raise InputError(f"triggers inventory: the dataset has no '{C.TRIGGER_SPANS}' column",
                         "run `curate triggers DATASET` first")
    n = len(ds)
    langs = ds[C.LANGUAGE] if C.LANGUAGE in ds.column_names else ["en"] * n
    judged = ds[C.JUDGE_LABEL] if C.JUDGE_LABEL in ds.column_names else [None] * n
    refused = [None if j is None or j == "" else j in REFUSAL_LABELS for j in judged]
    kept = [[s for s in (row or []) if s["label"] in cfg.labels] for row in ds[C.TRIGGER_SPANS]]
    lemmas = lemmatize(ds[C.PROMPT], kept, langs)
    stats: dict[str, dict] = defaultdict(lambda: {"count": 0, "rows": set(), HARMFUL_CUE: 0, BENIGN_HOMONYM: 0,
                                                  "scores": [], "forms": Counter()})
    for row, (row_spans, row_lemmas) in enumerate(zip(kept, lemmas, strict=True)):
        for span, lemma in zip(row_spans, row_lemmas, strict=True):
            s = stats[lemma]
            s["count"] += 1
            s["rows"].add(row)
            s[span["label"]] = s.get(span["label"], 0) + 1
            s["scores"].append(span["score"])
            s["forms"][span["text"]] += 1
    judged_rows = [i for i, r in enumerate(refused) if r is not None]
    total_refused = sum(bool(refused[i]) for i in judged_rows)
    records = []
    for trig, s in stats.items():
        if s["count"] < cfg.min_count:
            continue
        with_rows = [i for i in s["rows"] if refused[i] is not None]
        rate_with = rate_without = lift = None
        if with_rows and len(with_rows) < len(judged_rows):
            refused_with = sum(bool(refused[i]) for i in with_rows)
            rate_with = refused_with / len(with_rows)
            rate_without = (total_refused - refused_with) / (len(judged_rows) - len(with_rows))
            lift = rate_with / rate_without if rate_without > 0 else None
        records.append({"trigger": trig, "count": s["count"], "prompts": len(s["rows"]), "share": len(s["rows"]) / n,
                        HARMFUL_CUE: s[HARMFUL_CUE], BENIGN_HOMONYM: s[BENIGN_HOMONYM],
                        "mean_score": float(np.mean(s["scores"])), "refusal_rate_with": rate_with,
                        "refusal_rate_without": rate_without, "lift": lift,
                        "forms": [f for f, _ in s["forms"].most_common(5)]})
    records.sort(key=lambda r: (-r["count"], r["trigger"]))
    root = Path(workspace_root) if workspace_root else None
    clusters, names = cluster_triggers([r["trigger"] for r in records], [r["count"] for r in records], cfg, root)
    for record, cluster, name in zip(records, clusters, names, strict=True):
        record["cluster"], record["cluster_name"] = cluster, name
    columns = {k: [r[k] for r in records] for k in INVENTORY_FEATURES}
    return Dataset.from_dict(columns, features=INVENTORY_FEATURES)


def plot_inventory(inv: Dataset, path: Path | str, top: int = 25, title: str = "refusal triggers") -> Path:
    """A PNG bar chart of the most frequent triggers (harmful vs benign uses; lift beside when judged)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = inv.select(range(min(top, len(inv))))
    names = rows["trigger"][::-1]
    harmful, benign = np.array(rows[HARMFUL_CUE][::-1]), np.array(rows[BENIGN_HOMONYM][::-1])
    lifts = [x if x is not None else np.nan for x in rows["lift"][::-1]]
    has_lift = any(not np.isnan(x) for x in lifts)
    fig, axes = plt.subplots(1, 2 if has_lift else 1, figsize=(11 if has_lift else 7, 1.0 + 0.32 * max(1, len(names))),
                             squeeze=False, sharey=True)
    ax = axes[0][0]
    ax.barh(names, harmful, color="#c0392b", label="harmful_cue")
    ax.barh(names, benign, left=harmful, color="#2980b9", label="benign_homonym")
    ax.set_xlabel("spans")
    ax.set_title(title)
    ax.legend(loc="lower right")
    if has_lift:
        axes[0][1].barh(names, lifts, color="#7f8c8d")
        axes[0][1].axvline(1.0, color="black", linewidth=0.8)
        axes[0][1].set_xlabel("refusal lift (rate with / without)")
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)
