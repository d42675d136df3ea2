"""Contextual harm model vs the plain MiniLM probe on the hand-written held-out set (issue #18).

The baseline probe is fit the README's way on `../shared/data/refusal-direction` harmful_train (260) vs 2,000
harmless_train prompts (skipped with a note when that folder is absent). Run:
`nice -n 10 python benchmarks/eval_harm_model.py [--split dev|test] [--model DIR]`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curation.models.harm.evaluate import evaluate_scorer, metrics_line  # noqa: E402

REFUSAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "refusal-direction"


def refusal_direction_sets(n_harmless: int = 2000, seed: int = 0) -> tuple[list[str], list[str]] | None:
    """harmful_train and a seeded sample of harmless_train, or None when the public data is absent."""
    for root in (REFUSAL_DIR, Path("/work/shared/data/refusal-direction")):
        if (root / "harmful_train.json").exists():
            harmful = [r["instruction"] for r in json.loads((root / "harmful_train.json").read_text())]
            harmless = [r["instruction"] for r in json.loads((root / "harmless_train.json").read_text())]
            return harmful, random.Random(seed).sample(harmless, n_harmless)
    return None


def probe_scorer(probe, encoder):
    """Wrap a Probe as `texts -> (margin, sigmoid)`."""
    def score(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        raw = probe.score_texts(texts, encoder)
        return raw, 1.0 / (1.0 + np.exp(-raw))
    return score


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="dev")
    ap.add_argument("--probe", help="a saved probe folder (contextual or plain) to evaluate next to the baseline")
    ap.add_argument("--out", help="write the figures as JSON here")
    args = ap.parse_args()
    from curation.models.embeddings import encoder_from_spec
    from curation.models.probe import Probe, fit_probe

    results = {}
    sets = refusal_direction_sets()
    if sets is None:
        print("refusal-direction data absent: baseline skipped")
    else:
        enc = encoder_from_spec("all-MiniLM-L6-v2")
        results["baseline_minilm_probe"] = evaluate_scorer(probe_scorer(fit_probe(*sets, enc), enc), args.split)
    if args.probe:
        probe = Probe.load(Path(args.probe))
        enc = encoder_from_spec(probe.model_id)
        results[f"probe:{Path(args.probe).name}"] = evaluate_scorer(probe_scorer(probe, enc), args.split)
    for name, res in results.items():
        for lang, m in res.items():
            print(f"{args.split} {name:28s} {lang:3s} n={m['n']:3d} {metrics_line(m)}")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
