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

from curation import deharm
from curation.deharm import filters as F

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
    from curation.embeddings import get_encoder
    from curation.loop import contrast_prompts
    from curation.probe import fit_probe as fit

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--split", default="dev", choices=["dev", "test"])
    ap.add_argument("--per-pair", type=int, default=2)
    ap.add_argument("--model-rewrites", action="store_true", help="Also ask SmolLM2 for one rewrite per pair.")
    ap.add_argument("--answers", type=int, default=0, help="Answer this many rewrites with SmolLM2 (sample).")
    ap.add_argument("--blind", type=int, default=0, help="Write a blind sample of N rewrites to label.")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if not (HERE / f"{args.split}.jsonl").exists():
        sys.exit("run benchmarks/deharm_split.py first (needs ../shared/data/refusal-direction)")
    t0 = time.time()
    ds = load_split(args.split)
    with tempfile.TemporaryDirectory() as tmp:
        probe = fit_probe(Path(tmp) / "probe")
        cfg = deharm.DeharmConfig(probe_path=probe, model_rewrites=args.model_rewrites, answer=False,
                                  templates_per_pair=args.per_pair)
        out, report = deharm.run(ds, cfg)
        rows = list(out)
        answered = {}
        if args.answers and rows:
            sample = random.Random(1).sample(rows, min(args.answers, len(rows)))
            acfg = cfg.model_copy(update={"answer": True})
            from curation.deharm import _answer

            areport = deharm.DeharmReport()
            kept = _answer([dict(r) for r in sample], acfg, areport)
            answered = {"asked": len(sample), "kept": len(kept), "dropped": areport.answers_dropped,
                        "examples": [{"rewrite": k["rewrite"], "answer": k["answer"][:300]} for k in kept[:5]]}
    senses = report.senses_per_trigger
    covered = len(set(out["original_id"])) if len(out) else 0
    result = {
        "split": args.split, "prompts": len(ds), "pairs": report.pairs, "blocked_prompts": report.blocked,
        "prompts_with_rewrites": covered, "rewrites": len(rows),
        "meta_share": round(sum(F.is_meta(r["rewrite"], r["language"]) for r in rows) / max(len(rows), 1), 3),
        "keeps_trigger": round(keeps_trigger(rows), 3),
        "distinct_senses_per_trigger": {"triggers": len(senses),
                                        "mean": round(statistics.mean(senses.values()), 2) if senses else 0,
                                        "median": statistics.median(senses.values()) if senses else 0,
                                        "per_trigger": senses},
        "methods": {m: sum(r["method"] == m for r in rows) for m in sorted({r["method"] for r in rows})},
        "candidates": report.candidates, "dropped": report.dropped, "not_selected": report.not_selected,
        "model_rewrites_kept": report.model_rewrites, "answers": answered,
        "baseline_today": baseline(ds), "seconds": round(time.time() - t0, 1),
    }
    print(json.dumps(result, indent=1, ensure_ascii=False))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
        (args.out.with_suffix(".rows.jsonl")).write_text("".join(json.dumps(
            {k: r[k] for k in ("original_prompt", "trigger", "method", "sense", "rewrite", "p_harmful")},
            ensure_ascii=False) + "\n" for r in rows))
    if args.blind and rows:
        sample = random.Random(23).sample(rows, min(args.blind, len(rows)))
        path = HERE / f"blind_{args.split}.jsonl"
        path.write_text("".join(json.dumps({"k": i, "rewrite": r["rewrite"]}, ensure_ascii=False) + "\n"
                                for i, r in enumerate(sample)))
        print(f"blind sample: {path}")


if __name__ == "__main__":
    main()
