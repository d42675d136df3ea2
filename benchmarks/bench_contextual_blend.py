"""Throughput of the contextual recipe's blended scoring vs bare encoding with the same encoders.

English rows need both encoders (fine-tuned MiniLM + USE multilingual), other rows USE only. Given a workspace where
`curate probe fit --preset contextual` ran, scores N English and N non-English prompts of the parallel set (repeated
to N) through `ProbeRouter(same_scale=True).score` with a cold embedding cache (a fresh copy of the probes each
round), against bare `encode` of the same texts with the same encoders plus one dot product; rounds alternate, best
of `--rounds` each.

Run: .venv/bin/python benchmarks/bench_contextual_blend.py --workspace DIR [--n 400] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def texts(n: int) -> tuple[list[str], list[str]]:
    """Up to `n` unique English prompts (parallel set + harm eval set) and `n` unique non-English ones."""
    from curation.models.harm.evaluate import load_eval

    rows = [json.loads(line) for split in ("dev", "test") for line in
            (ROOT / "tests" / "data" / f"parallel_requests_{split}.jsonl").read_text(encoding="utf-8").splitlines()]
    harm = load_eval("dev") + load_eval("test")
    en = list(dict.fromkeys([r["en"] for r in rows] + [r["text"] for r in harm if r["lang"] == "en"]))
    other = list(dict.fromkeys([r[lang] for r in rows for lang in ("fr", "de", "es", "it")]))
    return en[:n], other[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workspace", required=True)
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from curation.models.embeddings import encoder_from_spec
    from curation.models.probe import Probe, default_probe_dir
    from curation.models.probe_routing import ProbeRouter

    src = Path(args.workspace)
    base = Probe.load(default_probe_dir(src, "default"))
    transfer = Probe.load(default_probe_dir(src, "default-multilingual"))
    en, other = texts(args.n)
    minilm, use = encoder_from_spec(base.model_id), encoder_from_spec(transfer.model_id)
    minilm.encode(en[:8]), use.encode(en[:8])  # load both models outside the timing
    best = {"ours_en": np.inf, "bare_en": np.inf, "ours_other": np.inf, "bare_other": np.inf}
    for _ in range(args.rounds):
        t = time.perf_counter()
        _ = minilm.encode(en) @ base.coef, use.encode(en) @ transfer.coef
        best["bare_en"] = min(best["bare_en"], time.perf_counter() - t)
        t = time.perf_counter()
        _ = use.encode(other) @ transfer.coef
        best["bare_other"] = min(best["bare_other"], time.perf_counter() - t)
        with tempfile.TemporaryDirectory() as tmp:
            ws = Path(tmp)
            shutil.copytree(src / "artifacts" / "probes", ws / "artifacts" / "probes")
            router = ProbeRouter(ws, same_scale=True)
            router._encoders = {base.model_id: minilm, transfer.model_id: use}
            t = time.perf_counter()
            router.score(en, ["en"] * len(en))
            best["ours_en"] = min(best["ours_en"], time.perf_counter() - t)
            t = time.perf_counter()
            router.score(other, ["fr"] * len(other))
            best["ours_other"] = min(best["ours_other"], time.perf_counter() - t)
    for part in ("en", "other"):
        ours, bare = best[f"ours_{part}"], best[f"bare_{part}"]
        n = len(en) if part == "en" else len(other)
        print(f"{part} ({n} prompts): ours {n / ours:.0f} prompts/s, bare encode {n / bare:.0f} prompts/s, "
              f"ratio {bare / ours:.2f}")


if __name__ == "__main__":
    main()
