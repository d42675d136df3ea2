"""De-harm benchmark on public harmful prompts (frozen split from deharm_split.py): share of meta-questions, trigger
kept, distinct senses per trigger, drops per filter, today's templates as the baseline; writes a blind sample of
rewrites (text only, shuffled) for hand labelling and, optionally, answers a sample with the local model."""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from datasets import Dataset

from curation.deharm import filters as F
from curation.deharm import stage as deharm

HERE = Path(__file__).resolve().parent / "data" / "deharm"
OLD_TEMPLATES = ["In programming or engineering, what does it mean to {trigger} something, and when is it the "
                 "right step?", "What are the harmless, everyday meanings of the word '{trigger}'? Give one example "
                 "sentence for each."]


def load_split(name: str) -> Dataset:
    """The split as a dataset with lexicon trigger spans (label harmful_cue), as the triggers stage finds them."""
    rows = [json.loads(line) for line in (HERE / f"{name}.jsonl").read_text().splitlines()]
    prompts = [r["text"] for r in rows]
    docs = F.parse(prompts, "en")
    spans = [[{"start": m.start, "end": m.end, "text": p[m.start:m.end], "label": "harmful_cue"}
              for m in F.cue_hits(d, "en")] for p, d in zip(prompts, docs, strict=True)]
    return Dataset.from_dict({"id": [f"{r['source']}:{r['index']}" for r in rows], "prompt": prompts,
                              "label": ["harmful"] * len(rows), "language": ["en"] * len(rows),
                              "category": [r.get("category") or "" for r in rows],
                              "source": [r["source"] for r in rows],
                              "trigger_spans": spans})


def fit_probe(folder: Path) -> str:
    """The harm model as a user's workspace would have it (`curate probe fit`): bundled contrast set + the dev
    harmful prompts + 400 harmless_train instructions. Never the test split."""
    from curation.active_learning.stage import contrast_prompts
    from curation.models.embeddings import get_encoder
    from curation.models.probe import fit_probe as fit

    harmful, harmless = contrast_prompts()
    harmful += [json.loads(line)["text"] for line in (HERE / "dev.jsonl").read_text().splitlines()]
    shared = HERE.parents[2].parent / "shared" / "data" / "refusal-direction" / "harmless_train.json"
    if shared.exists():
        pool = [r["instruction"] for r in json.loads(shared.read_text())]
        harmless += random.Random(0).sample(pool, 400)
    return str(fit(harmful, harmless, get_encoder()).save(folder))


def keeps_trigger(rows: list[dict]) -> float:
    """Share of rewrites whose trigger occurrence lemmatizes to the source trigger's lemma."""
    ok = 0
    for r in rows:
        doc = F.parse([r["rewrite"]], r["language"])[0]
        i = r["rewrite"].casefold().find(r["trigger"].casefold())
        ok += i >= 0 and F.span_lemma(doc, i, i + len(r["trigger"])).casefold() == r["lemma"].casefold()
    return ok / len(rows) if rows else 0.0


def baseline(ds: Dataset) -> dict:
    """Today's templates (first two senses of the old deharm_templates.yaml, trigger pasted as written)."""
    rewrites = []
    for prompt, spans in zip(ds["prompt"], ds["trigger_spans"], strict=True):
        for span in spans[:1]:
            rewrites += [t.replace("{trigger}", prompt[span["start"]:span["end"]]) for t in OLD_TEMPLATES]
    meta = sum(F.is_meta(r, "en") for r in rewrites)
    return {"rewrites": len(rewrites), "meta_share": round(meta / max(len(rewrites), 1), 3)}


def summarize(split: str, ds: Dataset, out: Dataset, report: deharm.DeharmReport) -> dict:
    """Figures of one run: coverage, meta share, trigger kept, senses per trigger, drops per filter."""
    rows = list(out)
    senses = report.senses_per_trigger
    return {
        "split": split, "prompts": len(ds), "pairs": report.pairs, "blocked_prompts": report.blocked,
        "prompts_with_rewrites": len(set(out["original_id"])) if len(out) else 0, "rewrites": len(rows),
        "meta_share": round(sum(F.is_meta(r["rewrite"], r["language"]) for r in rows) / max(len(rows), 1), 3),
        "keeps_trigger": round(keeps_trigger(rows), 3),
        "distinct_senses_per_trigger": {"triggers": len(senses),
                                        "mean": round(statistics.mean(senses.values()), 2) if senses else 0,
                                        "median": statistics.median(senses.values()) if senses else 0,
                                        "per_trigger": senses},
        "methods": {m: sum(r["method"] == m for r in rows) for m in sorted({r["method"] for r in rows})},
        "candidates": report.candidates, "dropped": report.dropped, "not_selected": report.not_selected,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--split", default="dev", choices=["dev", "test"])
    ap.add_argument("--per-pair", type=int, default=2)
    ap.add_argument("--model-prompts", type=int, default=0, help="Also run SmolLM2 rewrites on the first N prompts.")
    ap.add_argument("--answers", type=int, default=0, help="Answer this many rewrites with SmolLM2 (sample).")
    ap.add_argument("--blind", type=int, default=0, help="Write a blind sample of N rewrites to label.")
    ap.add_argument("--margin", type=float, default=0.15, help="Benign margin below max_p_harmful (0.5).")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    if not (HERE / f"{args.split}.jsonl").exists():
        sys.exit("run benchmarks/deharm_split.py first (needs ../shared/data/refusal-direction)")
    t0 = time.time()
    ds = load_split(args.split)

    def save(result: dict) -> None:
        args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")

    with tempfile.TemporaryDirectory() as tmp:
        probe = fit_probe(Path(tmp) / "probe")
        cfg = deharm.DeharmConfig(probe_path=probe, model_rewrites=False, answer=False,
                                  templates_per_pair=args.per_pair, margin=args.margin)
        report = deharm.DeharmReport()
        out = deharm.run(ds, cfg, report)
        rows = list(out)
        result = summarize(args.split, ds, out, report) | {"margin": args.margin, "baseline_today": baseline(ds),
                                                           "seconds": round(time.time() - t0, 1)}
        save(result)
        args.out.with_suffix(".rows.jsonl").write_text("".join(json.dumps(
            {k: r[k] for k in ("original_prompt", "trigger", "method", "sense", "rewrite", "p_harmful")},
            ensure_ascii=False) + "\n" for r in rows))
        if args.blind and rows:
            sample = random.Random(23).sample(rows, min(args.blind, len(rows)))
            (HERE / f"blind_{args.split}_m{args.margin:g}.jsonl").write_text("".join(json.dumps(
                {"k": i, "rewrite": r["rewrite"]}, ensure_ascii=False) + "\n" for i, r in enumerate(sample)))
            (HERE / f"blind_{args.split}_m{args.margin:g}.key.jsonl").write_text("".join(json.dumps(
                {"k": i, "original_prompt": r["original_prompt"], "method": r["method"], "trigger": r["trigger"]},
                ensure_ascii=False) + "\n" for i, r in enumerate(sample)))
        if args.model_prompts:
            sub = ds.select(range(min(args.model_prompts, len(ds))))
            mreport = deharm.DeharmReport()
            mout = deharm.run(sub, cfg.model_copy(update={"model_rewrites": True}), mreport)
            result["model_rewrites"] = {"prompts": len(sub), "pairs": mreport.pairs,
                                        "asked": mreport.pairs, "kept": mreport.model_rewrites,
                                        "dropped_model": mreport.model_dropped,
                                        "examples": [r["rewrite"] for r in mout if r["method"].startswith("model")]}
            save(result)
        if args.answers and rows:
            from curation.deharm.stage import _answer

            sample = random.Random(1).sample(rows, min(args.answers, len(rows)))
            areport = deharm.DeharmReport()
            kept = _answer([dict(r) for r in sample], cfg.model_copy(update={"answer": True}), areport)
            result["answers"] = {"asked": len(sample), "kept": len(kept), "dropped": areport.answers_dropped,
                                 "examples": [{"rewrite": k["rewrite"], "answer": k["answer"][:400]}
                                              for k in kept[:6]]}
        result["seconds"] = round(time.time() - t0, 1)
        save(result)
    print(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
