"""Answer budget of `curate deharm`: answer a sample of de-harmed rewrites with the local model at one budget, with
and without the short-answer system prompt; share complete (finish `stop`) at that budget and at smaller ones (greedy
decoding: an answer that stopped within N tokens stops the same way under a budget of N), tokens and seconds."""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from curation.deharm.answers import SHORT_ANSWER, check_answers, generate_answers

HERE = Path(__file__).resolve().parent


def main() -> None:
    """Answers per variant with finish reasons, token counts and the stage's answer checks; written as JSON."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=Path, default=HERE / "data" / "deharm" / "blind_test_m0.jsonl")
    ap.add_argument("-n", type=int, default=16)
    ap.add_argument("--budget", type=int, default=512)
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--variants", default="short,default")
    ap.add_argument("--chunk", type=int, default=2, help="Answers generated (and saved) together.")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 avoids thrashing on shared cores)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "deharm_answers.json")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    rows = [json.loads(line)["rewrite"] for line in args.rows.read_text().splitlines()]
    sample = random.Random(5).sample(rows, min(args.n, len(rows)))
    result: dict = {"model": args.model, "budget": args.budget, "n": len(sample), "variants": {}}
    for variant in args.variants.split(","):
        t0 = time.time()
        answers = []
        for start in range(0, len(sample), args.chunk):  # written after each chunk: a killed run keeps its part
            answers += generate_answers(args.model, sample[start:start + args.chunk], args.budget,
                                        batch_size=args.chunk, system=SHORT_ANSWER if variant == "short" else None)
            done = sample[:len(answers)]
            reasons = check_answers(done, answers, [None] * len(answers), 0.5)
            stops = [a.new_tokens for a in answers if a.finish_reason == "stop"]
            result["variants"][variant] = {
                "answered": len(answers), "seconds": round(time.time() - t0, 1),
                "complete": len(stops) / len(answers),
                "complete_within": {b: sum(t <= b for t in stops) / len(answers)
                                    for b in (256, 384, 512) if b <= args.budget},
                "kept_by_checks": sum(r is None for r in reasons) / len(answers),
                "dropped": {k: reasons.count(k) for k in sorted({r for r in reasons if r})},
                "tokens": [a.new_tokens for a in answers],
                "answers": [{"rewrite": r, "finish": a.finish_reason, "tokens": a.new_tokens, "reason": why,
                             "answer": a.text[:600]} for r, a, why in zip(done, answers, reasons, strict=True)]}
            args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
            print(variant, {k: v for k, v in result["variants"][variant].items() if k != "answers"}, flush=True)

if __name__ == "__main__":
    main()
