"""The contextual recipe across languages and on the harm eval set, as `curate boundary score --scorer probe` scores.

Fits the probe the README way (`curate probe fit --preset contextual --harmful harmful_train.json --harmless
harmless_train.json --max-per-class 2000`, shared refusal-direction data), refits the transfer probe and the
contextual blend without training rows within cosine 0.85 of any parallel-set prompt (the shipped contrast data
overlaps it), then scores with the same router `boundary score` uses (`ProbeRouter`; languages from the gold
labels, not lingua):

- the parallel set (`tests/data/parallel_requests_*.jsonl`): Spearman of each language with English, AUROC harmful vs
  benign, agreement of `p_refuse >= 0.5` with English;
- the harm eval set (`curation/data/eval/harm_contextual_*.jsonl`): unsafe vs safe-but-scary and safe-but-scary vs
  plain AUROC, safe-but-scary share at `p_refuse >= 0.5`, unsafe recall at 0.5, per language.

Each for the default route (English blended, `cross_lingual_scale`) and `--english-scale` (English rows on the
contextual model alone). `--split` picks what is printed: tune on dev, look at test once.

Run: .venv/bin/python benchmarks/eval_contextual_blend.py --workspace DIR [--fit] --split dev
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TRAIN = Path(os.environ.get("REFUSAL_DIRECTION_DATA", "/work/shared/data/refusal-direction"))
LANGS = ("en", "fr", "de", "es", "it")


def parallel(split: str) -> list[dict]:
    return [json.loads(line) for line in (ROOT / "tests" / "data" / f"parallel_requests_{split}.jsonl")
            .read_text(encoding="utf-8").splitlines() if line.strip()]


def fit(ws: Path) -> None:
    """`curate probe fit` the README way in `ws`."""
    env = {**os.environ, "CURATE_WORKSPACE": str(ws), "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    res = subprocess.run([str(Path(sys.executable).with_name("curate")), "probe", "fit", "--preset", "contextual",
                          "--harmful", str(TRAIN / "harmful_train.json"), "--harmless",
                          str(TRAIN / "harmless_train.json"), "--max-per-class", "2000"],
                         env=env, capture_output=True, text=True)
    print(res.stdout, res.stderr[-2000:] if res.returncode else "")
    if res.returncode:
        raise SystemExit("probe fit failed")


def decontaminate(ws: Path) -> None:
    """Refit the transfer probe and the blend without near-duplicates of the parallel set (both splits)."""
    from curation.core.config import load_settings
    from curation.ingest.stage import sample_prompts
    from curation.models.probe_fitting import fit_contextual_transfer

    s = load_settings(workspace=ws)
    extra = {k: list(sample_prompts([str(TRAIN / f"{k}_train.json")], None, 2000, s.seed)["prompt"])
             for k in ("harmful", "harmless")}
    held = [r[lang] for split in ("dev", "test") for r in parallel(split) for lang in LANGS]
    fit_contextual_transfer(extra["harmful"], extra["harmless"], ws, "default", s, exclude=held)


def parallel_figures(ws: Path, split: str, same_scale: bool) -> dict[str, dict]:
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    from curation.models.probe_routing import ProbeRouter

    rows = parallel(split)
    router = ProbeRouter(ws, same_scale=same_scale)
    y = np.array([r["label"] for r in rows])
    scores = {lang: router.score([r[lang] for r in rows], [lang] * len(rows))[0] for lang in LANGS}
    en = scores["en"]
    out = {}
    for lang in LANGS:
        s = scores[lang]
        out[lang] = {"spearman_vs_en": float(spearmanr(s, en).statistic), "auroc": float(roc_auc_score(y, s)),
                     "decision_agreement_vs_en": float(np.mean((s >= 0) == (en >= 0))),
                     "refuse_rate": float(np.mean(s >= 0)), "route": router.route(lang).name}
    return out


def harm_figures(ws: Path, split: str, same_scale: bool) -> dict[str, dict]:
    from curation.models.harm.evaluate import load_eval, metrics
    from curation.models.probe import margin_to_proba
    from curation.models.probe_routing import ProbeRouter

    rows = load_eval(split)
    raw, _ = ProbeRouter(ws, same_scale=same_scale).score([r["text"] for r in rows], [r["lang"] for r in rows])
    return {lang or "all": metrics(rows, raw, margin_to_proba(raw), lang) for lang in (None, "en", "fr")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workspace", required=True)
    ap.add_argument("--fit", action="store_true", help="Run `curate probe fit` the README way first.")
    ap.add_argument("--no-decontaminate", action="store_true")
    ap.add_argument("--split", choices=("dev", "test"), default="dev")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    ws = Path(args.workspace)
    os.environ["CURATE_WORKSPACE"] = str(ws)
    if args.fit:
        fit(ws)
    if not args.no_decontaminate:
        decontaminate(ws)
    result = {}
    for label, same in (("blend (default)", True), ("english-scale", False)):
        par = parallel_figures(ws, args.split, same)
        harm = harm_figures(ws, args.split, same)
        result[label] = {"parallel": par, "harm": harm}
        print(f"\n== {label}, split {args.split}")
        for lang, m in par.items():
            print(f"parallel {lang}: Spearman {m['spearman_vs_en']:.3f} AUROC {m['auroc']:.3f} agreement "
                  f"{m['decision_agreement_vs_en']:.3f} refuse {m['refuse_rate']:.3f} ({m['route']})")
        for lang, m in harm.items():
            print(f"harm {lang} ({m['n']}): unsafe-vs-scary {m['auroc_unsafe_vs_scary']:.3f} scary-vs-plain "
                  f"{m['auroc_scary_vs_plain']:.3f} scary-FPR@0.5 {m['scary_fpr_at_0.5']:.3f} unsafe-recall@0.5 "
                  f"{m['unsafe_recall_at_0.5']:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
