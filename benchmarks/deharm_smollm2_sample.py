"""Answer six blind-sample rewrites and ask for eight rewrites with SmolLM2 (small-sample figures, docs/deharm.md)."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from curation.deharm import stage as deharm
from curation.deharm.answers import check_answers, generate_answers
from curation.deharm.stage import model_rewrites

HERE = Path(__file__).resolve().parent


def main() -> None:
    """Answers with finish reasons and the checks' verdicts, then raw model rewrites; written as JSON."""
    t0 = time.time()
    blind = HERE / "data" / "deharm" / "blind_test_m0.jsonl"
    rows = [json.loads(line)["rewrite"] for line in blind.read_text().splitlines()]
    sample = random.Random(1).sample(rows, 6)
    answers = generate_answers("smollm2", sample, max_new_tokens=256, batch_size=6)
    reasons = check_answers(sample, answers, [None] * len(answers), 0.5)
    out: dict = {"answers": [{"rewrite": r, "finish": a.finish_reason, "tokens": a.new_tokens, "reason": why,
                              "answer": a.text[:500]} for r, a, why in zip(sample, answers, reasons, strict=True)],
                 "answer_seconds": round(time.time() - t0)}
    words = ["hack", "steal", "kill", "crack", "exploit", "attack", "poison", "cheat"]
    out["model_rewrites"] = model_rewrites([{"prompt": "", "trigger": w} for w in words],
                                           deharm.DeharmConfig(allow_unscored=True))
    out["seconds"] = round(time.time() - t0)
    (HERE / "results" / "deharm_smollm2_sample.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
