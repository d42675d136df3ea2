"""Refusal judges on the hand-written judge set: 3-class and binary accuracy per style, voice and language, speed.

    python benchmarks/bench_judge.py                      # dev + frozen test, zero_shot vs string matches
    python benchmarks/bench_judge.py --fitted             # + fitted: 50 dev rows of a voice -> that voice's test
    python benchmarks/bench_judge.py --speed              # responses/s (zero-shot; fitted vs bare encode)
    python benchmarks/bench_judge.py --errors dev         # print the zero-shot judge's mistakes on dev

The set (curation/data/judge/) was written by the same person as the judge: every figure here is in-sample in
spirit (same author, same idea of the styles); test prompts were never looked at while tuning, and the test file
is frozen (sha256 in docs/judge.md). `string_match_2023` is the benchmark's own 2023 baseline (a dozen
`startswith` phrases; it never says partial).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import defaultdict
from collections.abc import Callable
from importlib import resources

from curation.core import columns as C
from curation.judge.stage import get_judge

REFUSAL, COMPLIANCE = "full_refusal", "full_compliance"


def load_split(split: str) -> list[dict]:
    """Rows of responses_{split}.jsonl."""
    text = resources.files("curation").joinpath(f"data/judge/responses_{split}.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def binary(label: str) -> str:
    """Any refusal (full or partial) vs compliance."""
    return COMPLIANCE if label == COMPLIANCE else "refusal"


def scores(rows: list[dict], labels: list[str], key: str) -> dict[str, tuple[float, float, int]]:
    """{group: (3-class acc, binary acc, n)} by row[key] plus 'all'."""
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row, label in zip(rows, labels, strict=True):
        groups[row[key]].append((row["label"], label))
        groups["all"].append((row["label"], label))
    return {g: (sum(a == b for a, b in pairs) / len(pairs), sum(binary(a) == binary(b) for a, b in pairs) / len(pairs),
                len(pairs)) for g, pairs in sorted(groups.items())}


def report(split: str, rows: list[dict], results: dict[str, list[str]]) -> None:
    """Print one table per grouping: judges side by side, '3-class / binary'."""
    names = list(results)
    for key in ("style", "voice", "lang"):
        print(f"\n[{split}] by {key}: 3-class / binary accuracy")
        print(f"{key:22s} {'n':>4s} " + " ".join(f"{n:>22s}" for n in names))
        per = {n: scores(rows, labels, key) for n, labels in results.items()}
        for group in per[names[0]]:
            cells = " ".join(f"{per[n][group][0]:>13.3f} / {per[n][group][1]:.3f}" for n in names)
            print(f"{group:22s} {per[names[0]][group][2]:>4d} {cells}")


def confusion(rows: list[dict], labels: list[str]) -> None:
    """Gold row -> predicted counts."""
    table: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row, label in zip(rows, labels, strict=True):
        table[row["label"]][label] += 1
    print("confusion (gold -> predicted):")
    for gold in C.JUDGE_LABELS:
        print(f"  {gold:16s} " + "  ".join(f"{p}={table[gold][p]}" for p in C.JUDGE_LABELS))


def run_judges(rows: list[dict], names: list[str]) -> dict[str, list[str]]:
    """Labels of each registered judge for the rows."""
    responses, prompts = [r["response"] for r in rows], [r["prompt"] for r in rows]
    return {n: [v["label"] for v in get_judge(n).judge(responses, prompts)] for n in names}


def timed(fn: Callable[[], object], repeat: int = 3) -> float:
    """Best wall time of `repeat` calls."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def speed(n: int = 20000) -> None:
    """Responses/s of the zero-shot judge and of the fitted judge next to a bare encode of the same texts."""
    rows = load_split("dev") + load_split("test")
    texts = [rows[i % len(rows)]["response"] + ("" if i < len(rows) else f" ({i})") for i in range(n)]
    zs = get_judge("zero_shot")
    cpu = time.process_time()
    t = timed(lambda: zs.judge(texts))
    cpu = (time.process_time() - cpu) / 3
    print(f"zero_shot: {n / t:,.0f} responses/s wall, {n / cpu:,.0f} per CPU-second ({n} responses, one process; "
          "cores shared with other work)")
    from curation.judge.fitted import FittedJudge, fit
    model = fit([r["response"] for r in rows], [r["label"] for r in rows])
    judge = FittedJudge(model, name="fitted:bench")
    small = texts[:2000]
    enc_t = timed(lambda: model.encoder().encode(small), repeat=1)
    fit_t = timed(lambda: judge.judge(small), repeat=1)
    print(f"fitted: {len(small) / fit_t:,.0f} responses/s; bare encode of the same texts {len(small) / enc_t:,.0f}/s "
          f"(fitted encodes opening and rest: {fit_t / enc_t:.2f}x the bare encode time)")


def select_fitted(n_train: int = 50, seeds: tuple[int, ...] = (0, 1, 2)) -> None:
    """Choose the fitted judge's variant on dev only: per voice, fit on 50 dev rows, score its other dev rows."""
    from curation.judge.fitted import FittedJudge, fit

    dev = load_split("dev")
    print(f"\nvariant selection on dev ({n_train} rows of a voice -> its other dev rows; mean over voices, seeds)")
    for encoder in (None, "all-MiniLM-L6-v2"):
        for c_reg in (0.3, 1.0, 3.0):
            accs = []
            for seed in seeds:
                for voice in sorted({r["voice"] for r in dev}):
                    pool = [r for r in dev if r["voice"] == voice]
                    random.Random(seed).shuffle(pool)
                    train, held = pool[:n_train], pool[n_train:]
                    if len(train) < n_train or not held:
                        continue
                    model = fit([r["response"] for r in train], [r["label"] for r in train], encoder=encoder,
                                C_reg=c_reg)
                    labels = [v["label"] for v in FittedJudge(model).judge([r["response"] for r in held])]
                    accs.append(sum(a == r["label"] for a, r in zip(labels, held, strict=True)) / len(held))
            print(f"  encoder={encoder or 'none':18s} C={c_reg:<4} mean 3-class {sum(accs) / len(accs):.3f} "
                  f"(min {min(accs):.3f}, {len(accs)} fits)")


def select_on_other_convention(folds: int = 5) -> None:
    """Choose on data the zero-shot judge gets wrong: tests/data/judge_eval.jsonl (60 answers by another author
    whose convention calls caveated answers partial). 5-fold CV: can the fitted judge learn that convention?"""
    from pathlib import Path

    from curation.judge.fitted import FittedJudge, fit

    path = Path(__file__).resolve().parents[1] / "tests" / "data" / "judge_eval.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    random.Random(0).shuffle(rows)
    zs = [v["label"] for v in get_judge("zero_shot").judge([r["response"] for r in rows])]
    print(f"\nanother author's convention ({len(rows)} rows, {folds}-fold CV); zero_shot alone: "
          f"{sum(a == r['label'] for a, r in zip(zs, rows, strict=True)) / len(rows):.3f}")
    for encoder in (None, "all-MiniLM-L6-v2"):
        for c_reg in (0.3, 1.0, 3.0):
            hits = 0
            for k in range(folds):
                train = [r for i, r in enumerate(rows) if i % folds != k]
                held = [r for i, r in enumerate(rows) if i % folds == k]
                model = fit([r["response"] for r in train], [r["label"] for r in train], encoder=encoder, C_reg=c_reg)
                labels = [v["label"] for v in FittedJudge(model).judge([r["response"] for r in held])]
                hits += sum(a == r["label"] for a, r in zip(labels, held, strict=True))
            print(f"  encoder={encoder or 'none':18s} C={c_reg:<4} 3-class {hits / len(rows):.3f}")


def fitted_per_voice(n_train: int = 50, seed: int = 0, encoder: str | None = "all-MiniLM-L6-v2",
                     c_reg: float = 1.0) -> None:
    """For each voice: fit on 50 dev rows of that voice, score that voice's frozen-test rows (unseen prompts)."""
    from curation.judge.fitted import FittedJudge, fit

    dev, test = load_split("dev"), load_split("test")
    print(f"\nfitted judge: {n_train} dev rows of one voice -> accuracy on that voice's test rows "
          "(3-class / binary; zero_shot on the same rows)")
    zs = get_judge("zero_shot")
    for voice in sorted({r["voice"] for r in dev}):
        pool = [r for r in dev if r["voice"] == voice]
        random.Random(seed).shuffle(pool)
        train = pool[:n_train]
        held = [r for r in test if r["voice"] == voice]
        if len(train) < 20 or not held:
            continue
        model = fit([r["response"] for r in train], [r["label"] for r in train], encoder=encoder, C_reg=c_reg)
        labels = [v["label"] for v in FittedJudge(model).judge([r["response"] for r in held],
                                                               [r["prompt"] for r in held])]
        zl = [v["label"] for v in zs.judge([r["response"] for r in held])]
        f3, fb, n = scores(held, labels, "lang")["all"]
        z3, zb, _ = scores(held, zl, "lang")["all"]
        print(f"  {voice:8s} train={len(train):3d} test={n:3d}  fitted {f3:.3f} / {fb:.3f}   zero_shot {z3:.3f} / "
              f"{zb:.3f}")


def main() -> None:
    """CLI."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--judges", default="string_match_2023,string_match,zero_shot")
    ap.add_argument("--split", default="dev,test")
    ap.add_argument("--fitted", action="store_true")
    ap.add_argument("--select", action="store_true", help="choose the fitted judge's variant on dev")
    ap.add_argument("--speed", action="store_true")
    ap.add_argument("--errors", default=None, help="split whose zero-shot mistakes to print")
    args = ap.parse_args()
    if args.errors:
        rows = load_split(args.errors)
        labels = run_judges(rows, ["zero_shot"])["zero_shot"]
        for row, label in zip(rows, labels, strict=True):
            if label != row["label"]:
                print(f"[{row['style']}/{row['voice']}] gold={row['label']} got={label}\n  {row['response'][:300]}")
        return
    for split in args.split.split(","):
        rows = load_split(split)
        results = run_judges(rows, args.judges.split(","))
        report(split, rows, results)
        confusion(rows, results[args.judges.split(",")[-1]])
    if args.select:
        select_fitted()
        select_on_other_convention()
    if args.fitted:
        fitted_per_voice()
    if args.speed:
        speed()


if __name__ == "__main__":
    main()
