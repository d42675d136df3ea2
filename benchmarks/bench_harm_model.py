"""Scoring throughput of the contextual harm model vs the plain MiniLM probe and bare `encode`, in the same run.

The contextual model is MiniLM with fine-tuned top layers and a linear (ordinal) head, so scoring is one encode plus
a dot product: its ratio to bare encode of the same model should stay >= 0.9, and its prompts/s are reported next to
the plain probe's. Needs a trained model: `curate probe fit --preset contextual` in WORKSPACE (default: the current
one). Run: python benchmarks/bench_harm_model.py [--n 2000] [--workspace DIR] [--probe default]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # factories.py: the synthetic corpus generator

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "refusal-direction"


def _timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workspace", default=os.environ.get("CURATE_WORKSPACE", "."))
    parser.add_argument("--probe", default="default")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repeats; the fastest of each is kept")
    args = parser.parse_args()

    from factories import seed_prompts, synthesize

    from curation.models.embeddings import encoder_from_spec
    from curation.models.harm.data import contrast_rows
    from curation.models.probe import Probe, default_probe_dir, fit_probe

    contextual = Probe.load(default_probe_dir(Path(args.workspace), args.probe))
    if contextual.meta.get("preset") != "contextual":
        raise SystemExit(f"probe '{args.probe}' is not the contextual model: run `curate probe fit` first")
    prompts = [r["prompt"] for r in synthesize(args.n, seed_prompts(SHARED if SHARED.exists() else None))]
    minilm = encoder_from_spec("all-MiniLM-L6-v2")
    tuned = encoder_from_spec(contextual.model_id)
    rows = contrast_rows()
    plain = fit_probe([r["prompt"] for r in rows if r["kind"] == "unsafe"],
                      [r["prompt"] for r in rows if r["kind"] != "unsafe"], minilm)
    for enc in (minilm, tuned):
        enc.encode(prompts[:64])  # warm-up
    bs = args.batch_size
    runs: dict[str, list[float]] = {"bare_minilm": [], "plain": [], "bare_tuned": [], "ctx": []}
    for _ in range(args.rounds):  # interleaved, so load from other jobs hits every method alike
        runs["bare_minilm"].append(_timed(minilm.encode, prompts, bs))
        runs["plain"].append(_timed(lambda: plain.score_texts(prompts, minilm, batch_size=bs)))
        runs["bare_tuned"].append(_timed(tuned.encode, prompts, bs))
        runs["ctx"].append(_timed(lambda: contextual.score_texts(prompts, tuned, batch_size=bs)))
    t_bare_minilm, t_plain, t_bare_tuned, t_ctx = (min(runs[k]) for k in ("bare_minilm", "plain", "bare_tuned",
                                                                          "ctx"))
    n = len(prompts)
    print(f"{n} prompts, batch {bs}, {os.cpu_count()} cores, fastest of {args.rounds} interleaved rounds "
          "(shared with other work: compare ratios)")
    print(f"  bare encode MiniLM            {t_bare_minilm:6.1f} s {n / t_bare_minilm:6.0f} prompts/s")
    print(f"  plain probe (MiniLM)          {t_plain:6.1f} s {n / t_plain:6.0f} prompts/s  "
          f"ratio to bare {t_bare_minilm / t_plain:.2f}")
    print(f"  bare encode fine-tuned        {t_bare_tuned:6.1f} s {n / t_bare_tuned:6.0f} prompts/s")
    print(f"  contextual harm model         {t_ctx:6.1f} s {n / t_ctx:6.0f} prompts/s  "
          f"ratio to bare {t_bare_tuned / t_ctx:.2f}, to the plain probe {t_plain / t_ctx:.2f}")


if __name__ == "__main__":
    main()
