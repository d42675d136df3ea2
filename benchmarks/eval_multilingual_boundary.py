"""Cross-language agreement of `curate boundary score --scorer probe` on the hand-written parallel set
(`tests/data/parallel_requests_{dev,test}.jsonl`: the same 210 requests in en/fr/de/es/it).

The README way, through the CLI: `curate probe fit --harmful harmful_train.json --harmless harmless_train.json
--max-per-class 2000` (the shared refusal-direction training data, English only), then per language
`curate ingest` + `curate boundary score --scorer probe`. Reports per language: language-id accuracy, Spearman of
`boundary_score` with the English original, AUROC (harmful vs benign), agreement of `p_refuse >= 0.5` decisions with
English, and the `scorer` the rows got.

Run: .venv/bin/python benchmarks/eval_multilingual_boundary.py [--json OUT] [--workspace DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
TRAIN = Path(os.environ.get("REFUSAL_DIRECTION_DATA", "/work/shared/data/refusal-direction"))
LANGS = ("en", "fr", "de", "es", "it")


def load_parallel(split: str) -> list[dict]:
    """Rows of the frozen parallel set (dev, test or both)."""
    splits = ("dev", "test") if split == "all" else (split,)
    return [json.loads(line) for s in splits
            for line in (DATA / f"parallel_requests_{s}.jsonl").read_text(encoding="utf-8").splitlines()]


def curate(ws: Path, *args: str) -> str:
    """Run the `curate` CLI in workspace `ws`; fail loudly."""
    env = {**os.environ, "CURATE_WORKSPACE": str(ws), "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "curation.cli", *args] if (ROOT / "curation" / "cli" / "__main__.py").exists() \
        else [str(Path(sys.executable).with_name("curate")), *args]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"curate {' '.join(args)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return res.stdout


def metrics(rows: list[dict], scored: dict[str, dict[str, dict]]) -> dict[str, dict]:
    """Per language: language id, Spearman with English, AUROC, p_refuse>=0.5 agreement with English, scorers."""
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    ids = [r["id"] for r in rows]
    y = np.array([r["label"] for r in rows])
    en = np.array([scored["en"][i]["boundary_score"] for i in ids])
    en_dec = np.array([scored["en"][i]["p_refuse"] >= 0.5 for i in ids])
    out = {}
    for lang in LANGS:
        s = np.array([scored[lang][i]["boundary_score"] for i in ids])
        dec = np.array([scored[lang][i]["p_refuse"] >= 0.5 for i in ids])
        out[lang] = {
            "rows": len(ids),
            "language_id_right": float(np.mean([scored[lang][i]["language"] == lang for i in ids])),
            "spearman_vs_en": float(spearmanr(s, en).statistic),
            "auroc": float(roc_auc_score(y, s)),
            "decision_agreement_vs_en": float(np.mean(dec == en_dec)),
            "refuse_rate": float(dec.mean()),
            "scorers": dict(Counter(scored[lang][i]["scorer"] for i in ids)),
        }
    return out


def decontaminate(ws: Path, rows: list[dict]) -> dict:
    """Refit the transfer probe exactly as `probe fit` did, minus training rows within cosine 0.85 of any prompt of
    the parallel set (the shipped contrast data shares some prompts with it, so the figures would be in-sample)."""
    os.environ["CURATE_WORKSPACE"] = str(ws)
    from curation.core.config import load_settings
    from curation.ingest.stage import sample_prompts
    from curation.models.probe_routing import fit_transfer_probe

    s = load_settings(workspace=ws)
    texts = {kind: list(sample_prompts([str(TRAIN / f"{kind}_train.json")], None, 2000, s.seed)["prompt"])
             for kind in ("harmful", "harmless")}
    _, probe = fit_transfer_probe(texts["harmful"], texts["harmless"], ws, "default", s, s.seed, s.batch_size,
                                  exclude=[r[lang] for r in rows for lang in LANGS])
    return probe.meta["training_mix"]


def run(ws: Path | None = None, fit: bool = True, clean: bool = True) -> dict[str, dict[str, dict]]:
    """Fit the probe the README way (unless `fit` is False; with `clean`, the transfer probe decontaminated against
    the parallel set), ingest + score every language of both splits once; figures per split (dev, test), all rows."""
    rows = load_parallel("all")
    ws = ws or Path(tempfile.mkdtemp(prefix="ml-boundary-"))
    if fit:
        print(curate(ws, "probe", "fit", "--harmful", str(TRAIN / "harmful_train.json"), "--harmless",
                     str(TRAIN / "harmless_train.json"), "--max-per-class", "2000"))
        if clean:
            print("transfer probe refit without near-duplicates of the parallel set:", decontaminate(ws, rows))
    from curation.core.workspace import Workspace

    scored: dict[str, dict[str, dict]] = {}
    for lang in LANGS:
        src = ws / f"parallel_{lang}.jsonl"
        src.write_text("".join(json.dumps({"prompt": r[lang], "label": "harmful" if r["label"] else "benign",
                                           "pid": r["id"]}, ensure_ascii=False) + "\n" for r in rows),
                       encoding="utf-8")
        name = f"parallel_{lang}"
        curate(ws, "ingest", str(src), "--name", name, "--no-near-dedupe")
        out = curate(ws, "boundary", "score", name, "--scorer", "probe")
        ds = Workspace(ws).load_dataset(name)
        by_prompt = {r[lang]: r["id"] for r in rows}
        scored[lang] = {by_prompt[row["prompt"]]: {k: row[k] for k in ("boundary_score", "p_refuse", "scorer",
                                                                         "language", "boundary_provenance")}
                        for row in ds}
        scored[lang]["_stdout"] = out  # type: ignore[assignment]
    for lang in LANGS:
        print(scored[lang].pop("_stdout"))  # the routing table of each language
    dev = {r["id"] for r in load_parallel("dev")}
    return {"dev": metrics([r for r in rows if r["id"] in dev], scored),
            "test": metrics([r for r in rows if r["id"] not in dev], scored), "all": metrics(rows, scored)}


def table(result: dict[str, dict]) -> str:
    lines = ["| language | language id right | Spearman vs en | AUROC | p_refuse>=0.5 agreement vs en | scorer |",
             "|---|---|---|---|---|---|"]
    for lang, m in result.items():
        scorers = ", ".join(f"{k} ({v})" for k, v in m["scorers"].items())
        lines.append(f"| {lang} | {m['language_id_right']:.3f} | {m['spearman_vs_en']:.3f} | {m['auroc']:.3f} | "
                     f"{m['decision_agreement_vs_en']:.3f} | {scorers} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", default=None, help="Write the figures here.")
    ap.add_argument("--workspace", default=None, help="Reuse this workspace (keeps the embedding cache).")
    ap.add_argument("--no-decontaminate", action="store_true",
                    help="Keep shipped training rows that near-duplicate the parallel set (in-sample figures).")
    args = ap.parse_args()
    if not (TRAIN / "harmful_train.json").exists():
        raise SystemExit(f"no training data at {TRAIN} (set REFUSAL_DIRECTION_DATA)")
    result = run(Path(args.workspace) if args.workspace else None, clean=not args.no_decontaminate)
    for split, figures in result.items():
        print(f"\nsplit: {split}")
        print(table(figures))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
