"""Boundary scoring throughput as a ratio to the bare library doing the same work in the same run.

probe:     `ProbeScorer`-path scoring (embed + margin) vs bare `SentenceTransformer.encode` (goal >= 0.9).
direction: `RefusalDirection.score_texts` (chat template, left padding, forward stopped at the layer, projection)
           vs a bare batched forward with `output_hidden_states=True` returning that layer's hidden state
           (goal >= 0.85). Both see the same length-sorted batches. CPU by default; `--device cuda` where present.

    .venv/bin/python benchmarks/bench_boundary.py [--model smollm2] [--n 64] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "refusal-direction"


def prompts(n: int) -> tuple[list[str], list[str]]:
    """n harmful-ish and n harmless prompts: the reference data when present, else a synthetic set."""
    if DATA.exists():
        harmful = [r["instruction"] for r in json.loads((DATA / "harmful_train.json").read_text())]
        harmless = [r["instruction"] for r in json.loads((DATA / "harmless_train.json").read_text())]
        return harmful[:n], harmless[:n]
    topics = ["a bomb", "malware", "poison", "a stolen card", "a weapon", "a fake id", "a phishing site", "meth"]
    nice = ["bread", "a poem", "a garden", "the stars", "a bicycle", "a sonata", "chess", "a cake"]
    return ([f"Explain step by step how to make {topics[i % 8]} (case {i})" for i in range(n)],
            [f"Explain step by step how to make {nice[i % 8]} (case {i})" for i in range(n)])


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_probe(texts: list[str], device: str, repeats: int) -> dict[str, float]:
    from curation.models.embeddings import get_encoder
    from curation.models.probe import fit_probe

    encoder = get_encoder(device=device)
    half = len(texts) // 2
    probe = fit_probe(texts[:half], texts[half:], encoder)

    def bare() -> None:
        encoder.model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)

    def ours() -> None:
        probe.score_texts(texts, encoder, cache=None, batch_size=64)

    bare(), ours()  # warm up
    t_bare, t_ours = best_of(bare, repeats), best_of(ours, repeats)
    return {"n": len(texts), "bare_s": t_bare, "ours_s": t_ours, "ratio": t_bare / t_ours}


def bench_direction(model: str, harmful: list[str], harmless: list[str], device: str, batch_size: int,
                    repeats: int) -> dict[str, float]:
    import torch

    from curation.models.lm import format_prompts, load_lm
    from curation.models.refusal_direction.activations import (
        ActivationCache,
        _tokenize,
        collect_activations,
        suffix_token_count,
    )
    from curation.models.refusal_direction.direction import DirectionConfig, fit_direction

    lm = load_lm(model) if device == "cpu" else load_lm(model, device)
    n_fit = min(16, len(harmful))
    direction = fit_direction(lm, harmful[:n_fit], harmless[:n_fit], DirectionConfig(batch_size=batch_size))
    layer = direction.layer
    texts = harmful + harmless
    formatted = sorted(format_prompts(lm, texts), key=len, reverse=True)  # the order ours runs in
    k = suffix_token_count(lm)

    def bare() -> None:
        with torch.no_grad():
            for start in range(0, len(formatted), batch_size):
                enc = _tokenize(lm, formatted[start : start + batch_size], 1024)
                hidden = lm.model(**enc, output_hidden_states=True, use_cache=False).hidden_states[layer]
                hidden[:, -k:].float().mean(1).cpu().numpy()

    def ours() -> None:
        direction.score_texts(texts, lm, cache=None, batch_size=batch_size)

    def ours_full_forward() -> None:
        collect_activations(lm, texts, layer=None, batch_size=batch_size)

    bare(), ours()  # warm up
    t_bare, t_ours = best_of(bare, repeats), best_of(ours, repeats)
    t_full = best_of(ours_full_forward, 1)
    with tempfile.TemporaryDirectory() as tmp:
        cache = ActivationCache(Path(tmp) / "acts.sqlite")
        direction.score_texts(texts, lm, cache=cache, batch_size=batch_size)
        t_warm = best_of(lambda: direction.score_texts(texts, lm, cache=cache, batch_size=batch_size), repeats)
        cache.close()
    return {"model": model, "layer": layer, "n_layers": lm.num_layers, "n": len(texts), "bare_s": t_bare,
            "ours_s": t_ours, "ratio": t_bare / t_ours, "all_layers_s": t_full, "ratio_all_layers": t_bare / t_full,
            "warm_cache_s": t_warm, "ratio_warm_cache": t_bare / t_warm}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2", help="causal LM for the direction benchmark")
    parser.add_argument("--n", type=int, default=64, help="prompts per class for the direction benchmark")
    parser.add_argument("--probe-n", type=int, default=1024, help="texts for the probe benchmark")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            print("CUDA not available; using cpu", file=sys.stderr)
            args.device = "cpu"
    harmful, harmless = prompts(max(args.n, args.probe_n // 2))
    probe = bench_probe((harmful[: args.probe_n // 2] + harmless[: args.probe_n // 2]), args.device, args.repeats)
    print(f"probe scoring   : {probe['n']} texts, bare encode {probe['bare_s']:.2f}s, ours {probe['ours_s']:.2f}s, "
          f"ratio {probe['ratio']:.3f} (goal >= 0.9)")
    d = bench_direction(args.model, harmful[: args.n], harmless[: args.n], args.device, args.batch_size,
                        args.repeats)
    print(f"direction score : {d['model']} layer {d['layer']}/{d['n_layers']}, {d['n']} prompts, bare forward "
          f"{d['bare_s']:.2f}s, ours {d['ours_s']:.2f}s, ratio {d['ratio']:.3f} (goal >= 0.85); "
          f"all-layer forward ratio {d['ratio_all_layers']:.3f}; warm cache ratio {d['ratio_warm_cache']:.1f}")
    print(json.dumps({"device": args.device, "probe": probe, "direction": d}, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
