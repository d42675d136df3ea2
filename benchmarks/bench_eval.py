"""Eval stage throughput (generate + judge + report) against bare transformers `generate` + the same judge on the
same prompts, model and batch size, in the same run. Reports prompts/s and the ratio (stage / raw).

Run: .venv/bin/python benchmarks/bench_eval.py [--model smollm2] [--prompts 48] [--tokens 32]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from datasets import Dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def prompts(n: int) -> Dataset:
    import json
    from importlib import resources

    rows = [json.loads(line) for line in resources.files("curation").joinpath(
        "data/sample/prompts.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r["label"] in ("harmful", "benign")]
    picked = [rows[i % len(rows)] for i in range(n)]
    return Dataset.from_dict({"id": [f"p{i}" for i in range(n)], "prompt": [f"{r['prompt']} ({i})" for i, r in
                                                                            enumerate(picked)],
                              "label": [r["label"] for r in picked], "language": [r["language"] for r in picked],
                              "category": [r["category"] or "none" for r in picked]})


def raw(model_path: str, ds: Dataset, tokens: int, batch: int) -> float:
    """Bare transformers: chat template, left padding, greedy generate, decode, judge."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from curation.judge.stage import make_string_match
    from curation.models.lm import resolve_lm

    path, gguf = resolve_lm(model_path)
    kwargs = {"gguf_file": gguf} if gguf else {}
    tok = AutoTokenizer.from_pretrained(path, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs).eval()
    tok.padding_side = "left"
    tok.pad_token = tok.pad_token or tok.eos_token
    judge = make_string_match()
    texts = [tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
             for p in ds["prompt"]]
    start = time.perf_counter()
    answers = []
    for i in range(0, len(texts), batch):
        enc = tok(texts[i:i + batch], return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            out = model.generate(**enc, max_new_tokens=tokens, do_sample=False, pad_token_id=tok.pad_token_id)
        answers += tok.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    judge.judge(answers)
    return time.perf_counter() - start


def stage(model_path: str, ds: Dataset, tokens: int, batch: int) -> float:
    from curation.evaluate import stage as evaluate
    from curation.models.lm import load_lm

    load_lm(model_path)  # loading is not timed on either side
    cfg = evaluate.EvalConfig(model=model_path, max_new_tokens=tokens, batch_size=batch)
    start = time.perf_counter()
    judged = evaluate.run(evaluate.to_eval_rows(ds), cfg)
    evaluate.report(judged, model_path)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None, help="default: a tiny random Llama built on the fly")
    parser.add_argument("--prompts", type=int, default=48)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    import datasets

    datasets.disable_progress_bars()
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            from factories import build_tiny_lm

            model = str(build_tiny_lm(Path(tmp) / "tiny", layers=4, hidden=64))
        ds = prompts(args.prompts)
        raw_s = raw(model, ds, args.tokens, args.batch)
        stage_s = stage(model, ds, args.tokens, args.batch)
    n = len(ds)
    print(f"eval ({args.model or 'tiny random Llama'}, {n} prompts, {args.tokens} new tokens, batch {args.batch})")
    print(f"  raw transformers generate + judge: {n / raw_s:8.2f} prompts/s ({raw_s:.2f} s)")
    print(f"  curate eval stage:                 {n / stage_s:8.2f} prompts/s ({stage_s:.2f} s)")
    print(f"  ratio stage / raw: {raw_s / stage_s:.2f}x")


if __name__ == "__main__":
    main()
