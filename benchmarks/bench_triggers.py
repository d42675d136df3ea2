"""Triggers throughput as ratios against the raw libraries doing the same work, in the same run.

Run: .venv/bin/python benchmarks/bench_triggers.py [--n 20000] [--n-attr 2000]

1. spaCy proposers (harm, identity and personal-information lexicons as PhraseMatchers on LOWER + LEMMA, syntactic
   candidates incl. phrasal verbs and whole names, learned ranking/merge/top-k) over N prompts,
   against bare `nlp.pipe` of the same prompts with the same pipeline and batch size. Goal: ratio >= 0.8.
2. Attribution (occlusion with the MiniLM probe) over the first N_ATTR prompts: building every occluded variant,
   embedding through the workspace content-hash cache and the probe margin, against bare
   `SentenceTransformer.encode` of the same (unique) texts. Cold = empty cache; warm = the rerun.
Prompts: ../shared/data/refusal-direction (harmful + harmless, unique) when present, else templated prompts.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "refusal-direction"
BATCH = 256
SPACY_PROPOSERS = ["lexicon.v1", "identity.v1", "personal_info.v1", "syntactic.v1"]


def load_prompts(n: int) -> tuple[list[str], str]:
    base: list[str] = []
    if DATA.exists():
        for name in ("harmful_train", "harmful_val", "harmless_train", "harmless_val"):
            base += [r["instruction"] for r in json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))]
        origin = "refusal-direction train+val"
    else:
        verbs = ["kill", "shoot", "crack", "exploit", "bake", "fix", "explain", "write"]
        objects = ["a Python process", "a portrait photo", "an egg", "a cache", "bread", "a bike", "a poem"]
        base = [f"How do I {v} {o} for project {i}?" for i in range(400) for v in verbs for o in objects]
        origin = "templated prompts"
    base = list(dict.fromkeys(base))
    prompts = [base[i] if i < len(base) else f"{base[i % len(base)]} ({i // len(base)})" for i in range(n)]
    return prompts, origin


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_spacy(prompts: list[str]) -> dict:
    from curation.triggers.spacy_pipelines import load_pipeline
    from curation.triggers.stage import TriggersConfig, TriggerTagger

    nlp = load_pipeline("en").nlp
    tagger = TriggerTagger(TriggersConfig(proposers=SPACY_PROPOSERS, batch_size=BATCH))
    setup = timed(lambda: tagger.tag(prompts[:BATCH]))  # builds the PhraseMatchers once (lemmatizes the lexicon)
    list(nlp.pipe(prompts[:BATCH], batch_size=BATCH))

    t_bare = t_ours = 0.0
    for i in range(0, len(prompts), 8 * BATCH):  # interleaved chunks, so load drift on a shared machine cancels out
        chunk = prompts[i : i + 8 * BATCH]
        t_bare += timed(lambda chunk=chunk: [None for _ in nlp.pipe(chunk, batch_size=BATCH)])
        t_ours += timed(lambda chunk=chunk: [tagger.tag(chunk[j : j + BATCH]) for j in range(0, len(chunk), BATCH)])
    return {"n": len(prompts), "bare_s": t_bare, "ours_s": t_ours, "setup_s": setup, "ratio": t_bare / t_ours}


def bench_attribution(prompts: list[str], workdir: Path) -> dict:
    from curation.models.embeddings import EmbeddingCache, get_encoder
    from curation.models.probe import fit_probe
    from curation.triggers.attribution import occlusion_variants, probe_score_fn
    from curation.triggers.proposers import OcclusionProposer
    from curation.triggers.stage import TriggersConfig, TriggerTagger

    encoder = get_encoder()
    probe = fit_probe(prompts[:200], prompts[-200:], encoder)  # any fitted probe: the cost does not depend on it
    with TriggerTagger(TriggersConfig(proposers=SPACY_PROPOSERS, batch_size=BATCH)) as tagger:
        rows = [r for i in range(0, len(prompts), BATCH) for r in tagger.tag_rows(prompts[i : i + BATCH])]
    cfg = TriggersConfig()
    chosen = [sorted(r.candidates.values(), key=lambda c: (-c.prior, c.start))[: cfg.max_candidates] for r in rows]
    variants = occlusion_variants([r.text for r in rows], [[(c.start, c.end) for c in cs] for cs in chosen])
    unique = list(dict.fromkeys([r.text for r in rows] + variants))
    encoder.model.encode(unique[:64], batch_size=64)  # warm-up

    cache = EmbeddingCache(workdir / "bench_cache.sqlite")
    proposer = OcclusionProposer("probe_occlusion.v1", probe_score_fn(probe, encoder, cache, cfg.embed_batch_size),
                                 cfg.max_candidates)
    t_raw = t_cold = t_warm = 0.0
    for i in range(0, len(rows), BATCH):  # interleaved per batch: bare encode, ours cold, ours warm
        batch, picks = rows[i : i + BATCH], chosen[i : i + BATCH]
        texts = list(dict.fromkeys([r.text for r in batch] + occlusion_variants(
            [r.text for r in batch], [[(c.start, c.end) for c in cs] for cs in picks])))
        t_raw += timed(lambda texts=texts: encoder.model.encode(texts, batch_size=cfg.embed_batch_size,
                                                                normalize_embeddings=True, convert_to_numpy=True,
                                                                show_progress_bar=False))
        t_cold += timed(lambda batch=batch: proposer(batch))
        t_warm += timed(lambda batch=batch: proposer(batch))
    cache.close()
    return {"prompts": len(rows), "variants": len(variants), "unique_texts": len(unique), "raw_s": t_raw,
            "cold_s": t_cold, "warm_s": t_warm, "cold_ratio": t_raw / t_cold, "warm_ratio": t_raw / t_warm}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--n-attr", type=int, default=1_000)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    prompts, origin = load_prompts(args.n)
    print(f"prompts: {len(prompts)} from {origin}; {os.cpu_count()} CPU cores; batch {BATCH}")
    s = bench_spacy(prompts)
    print(f"spaCy proposers (lexicon + syntactic + merge): {s['n'] / s['ours_s']:.0f} prompts/s vs bare nlp.pipe "
          f"{s['n'] / s['bare_s']:.0f} prompts/s -> ratio {s['ratio']:.2f} (goal >= 0.80); "
          f"one-time matcher setup {s['setup_s']:.1f}s")
    with tempfile.TemporaryDirectory() as tmp:
        a = bench_attribution(prompts[: args.n_attr], Path(tmp))
    print(f"attribution over {a['prompts']} prompts: {a['variants']} occluded variants "
          f"({a['unique_texts']} unique texts incl. the prompts)")
    print(f"  bare encode {a['unique_texts'] / a['raw_s']:.0f} texts/s; ours cold {a['unique_texts'] / a['cold_s']:.0f}"
          f" texts/s -> ratio {a['cold_ratio']:.2f}; ours warm (rerun, cached) -> ratio {a['warm_ratio']:.1f} "
          f"({a['warm_s']:.2f}s vs {a['raw_s']:.1f}s)")


if __name__ == "__main__":
    main()
