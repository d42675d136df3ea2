"""A simulated `curate loop` round on the hand-written eval set (issue #18, point 4).

The dev split plays one round of confirmed annotations: its unsafe prompts are confirmed harmful, its
safe-but-scary prompts become hard negatives (as `benign_homonym` spans / `should_refuse: no` would make them), its
plain prompts are confirmed benign. `loop.refit_probe` (the loop's own refit) then refits the probe, and the frozen
test split is scored before and after. Done for the contextual model (head refit on its fine-tuned encoder) and the
plain MiniLM probe (contrast set + the same annotations).
Run: python benchmarks/eval_harm_loop.py --workspace WS (with `curate probe fit` done in WS).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curation.models.harm.evaluate import load_eval, metrics, metrics_line  # noqa: E402


def _test_metrics(probe, encoder) -> dict:
    rows = load_eval("test")
    from curation.models.probe import boundary_offset

    raw = probe.score_texts([r["text"] for r in rows], encoder) - boundary_offset(probe)  # boundary's 0.5 point
    p = 1.0 / (1.0 + np.exp(-raw))
    return {lang or "all": metrics(rows, raw, p, lang) for lang in (None, "en", "fr")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workspace", required=True)
    ap.add_argument("--probe", default="default")
    ap.add_argument("--out")
    args = ap.parse_args()
    from curation.active_learning.stage import LoopConfig, contrast_prompts, refit_probe
    from curation.models.embeddings import encoder_from_spec
    from curation.models.probe import Probe, default_probe_dir, fit_probe

    dev = load_eval("dev")
    confirmed = {r["id"]: (r["text"], r["kind"] == "unsafe") for r in dev if r["kind"] in ("unsafe", "plain")}
    hard = [r["text"] for r in dev if r["kind"] == "scary_safe"]
    cfg = LoopConfig()
    out = {}
    ctx = Probe.load(default_probe_dir(Path(args.workspace), args.probe))
    tuned = encoder_from_spec(ctx.model_id)
    minilm = encoder_from_spec("all-MiniLM-L6-v2")
    plain = fit_probe(*contrast_prompts(), minilm)
    out["contextual"] = {"before": _test_metrics(ctx, tuned),
                         "after": _test_metrics(refit_probe(confirmed, cfg, tuned, None, hard, ctx), tuned)}
    out["plain_probe"] = {"before": _test_metrics(plain, minilm),
                          "after": _test_metrics(refit_probe(confirmed, cfg, minilm, None, hard, None), minilm)}
    for name, res in out.items():
        for when, by_lang in res.items():
            for lang, m in by_lang.items():
                print(f"test {name:12s} {when:6s} {lang:3s} {metrics_line(m)}")
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
