"""Scale: ingest -> near-dedupe -> triggers -> boundary score (probe) -> judge on N synthesized prompts.

Prompts are recombined deterministically (prefix / template / suffix) from ../shared/data/refusal-direction when
present, else from the shipped contrast sets, with synthesized responses for the judge. Each stage runs in a fresh
spawned process (as a CLI call would), reading the previous stage's saved dataset, so its wall time and peak RSS
(ru_maxrss) are its own; model loading is included. The growth exponent is the log-log slope of time against N.
`--ray N` also runs judge, boundary score and triggers on N rows with the local engine and on a local Ray
(num_cpus=2) and reports the ratio (single-process time / Ray time; > 1 means Ray is faster).

Defaults are the corpus-scale configuration of the README: `--encoder onnx-int8:all-MiniLM-L6-v2` and
`--triggers scale` (configs/triggers-scale.yaml); `--triggers full` runs the default `curate triggers` config.

Run: .venv/bin/python benchmarks/bench_scale_1m.py [--sizes 10000 100000 1000000] [--trigger-cap N] [--ray 3000]
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # factories.py: the synthetic corpus generator

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "refusal-direction"
STAGES = ("ingest", "near-dedupe", "triggers", "boundary", "judge")
# triggers at corpus scale: the lexicon proposer on spaCy's tokenizer + lookup lemmas (no tagger, parser or
# occlusion encodes); "full" is the default `curate triggers` configuration.
TRIGGER_PRESETS: dict[str, dict] = {
    "scale": yaml.safe_load((Path(__file__).resolve().parents[1] / "configs" / "triggers-scale.yaml").read_text()),
    "full": {}}
OPTS = {"encoder": "onnx-int8:all-MiniLM-L6-v2", "triggers": "scale"}  # set from the command line


def _stage(stage: str, root: str, n: int, trigger_cap: int, engine: str, queue: mp.Queue,
           opts: dict) -> None:
    """Run one stage in this (spawned) process and put (seconds, peak RSS MiB, rows, note) on the queue."""
    from curation.core.workspace import Workspace

    ws = Workspace(Path(root))
    note = ""
    if engine == "ray":
        from curation.core.engine import ensure_ray

        ensure_ray(num_cpus=2)
    start = time.perf_counter()
    if stage == "ingest":
        from curation.ingest.stage import IngestConfig, IngestReport, run

        report = IngestReport()
        kept = run([str(Path(root) / "synth.jsonl")], IngestConfig(near_dedupe=False), ws.root, engine, report=report)
        ws.save_dataset(kept, "ingested")
        rows, note = len(kept), f"{report.exact_duplicates} exact duplicates"
    elif stage == "near-dedupe":
        from curation.core import columns as C
        from curation.ingest.dedupe import near_duplicates
        from curation.ingest.stage import IngestConfig, _embed_prompts

        ds = ws.load_dataset("ingested")
        vectors = _embed_prompts(ds.select_columns([C.PROMPT]), IngestConfig(embedding_model=opts["encoder"]), ws.root,
                                 engine)
        dropped = {d.index for d in near_duplicates(vectors, 0.95)}
        kept = ds.select([i for i in range(len(ds)) if i not in dropped])
        ws.save_dataset(kept, "deduped")
        rows, note = len(kept), f"{len(dropped)} near duplicates"
    elif stage == "triggers":
        from curation.triggers.stage import TriggersConfig, run

        ds = ws.load_dataset("deduped")
        available = len(ds)
        ds = ds.select(range(min(available, trigger_cap)))
        out = run(ds, TriggersConfig(**TRIGGER_PRESETS[opts["triggers"]]), ws.root, show_progress=False, engine=engine)
        ws.save_dataset(out, "triggers")
        rows = len(out)
        note = f"on the first {rows} rows" if rows < available else ""
    elif stage == "boundary":
        from curation.boundary.stage import BoundaryConfig, score_with_report

        out, report = score_with_report(ws.load_dataset("deduped"), BoundaryConfig(scorer="probe"), ws.root,
                                        engine=engine)
        ws.save_dataset(out, "scored")
        rows, note = len(out), f"label AUROC {report.label_auroc:.3f}" if report.label_auroc else ""
    elif stage == "judge":
        from curation.judge.stage import JudgeConfig, run

        out = run(ws.load_dataset("scored"), JudgeConfig(), engine=engine)
        ws.save_dataset(out, "judged")
        rows = len(out)
    else:
        raise ValueError(stage)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if engine == "ray":
        import ray

        ray.shutdown()
    queue.put((seconds, peak, rows, note))


def run_stage(stage: str, root: Path, n: int, trigger_cap: int, engine: str = "local") -> tuple[float, float, int,
                                                                                                  str]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_stage, args=(stage, str(root), n, trigger_cap, engine, queue, dict(OPTS)))
    proc.start()
    proc.join()
    if proc.exitcode != 0:
        raise SystemExit(f"stage {stage} failed (exit {proc.exitcode})")
    return queue.get()


def prepare(root: Path, n: int) -> None:
    """Synthesize the corpus and fit the probe (not timed: `curate probe fit` is a one-off)."""
    from factories import seed_prompts, write_jsonl

    from curation.models.embeddings import get_encoder, workspace_cache
    from curation.models.probe import default_probe_dir, fit_probe

    seeds = seed_prompts(SHARED if SHARED.exists() else None)
    write_jsonl(root / "synth.jsonl", n, seeds)
    encoder = get_encoder(OPTS["encoder"])
    harmful = [t for t, lab in seeds if lab == "harmful"][:500]
    harmless = [t for t, lab in seeds if lab != "harmful"][:500]
    probe = fit_probe(harmful, harmless, encoder, None)
    probe.save(default_probe_dir(root))
    workspace_cache(root, encoder.model_id).close()


def slope(xs: list[float], ys: list[float]) -> float | None:
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if x > 0 and y > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    den = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / den if den else None


def scale(sizes: list[int], trigger_cap: int) -> dict[int, dict[str, tuple[float, float, int, str]]]:
    results: dict[int, dict[str, tuple[float, float, int, str]]] = {}
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
            root = Path(tmp)
            prepare(root, n)
            results[n] = {}
            for stage in STAGES:
                results[n][stage] = run_stage(stage, root, n, trigger_cap)
                s, peak, rows, note = results[n][stage]
                print(f"n={n:>8} {stage:<12} {s:9.1f} s  peak {peak:7.0f} MiB  rows {rows:>8}  "
                      f"{rows / s:8.0f} rows/s  {note}", flush=True)
    return results


def ray_compare(n: int) -> dict[str, tuple[float, float]]:
    """(single-process seconds, Ray seconds) per stage on n rows, each with a cold embedding cache."""
    out: dict[str, tuple[float, float]] = {}
    times: dict[str, dict[str, float]] = {"local": {}, "ray": {}}
    for engine in ("local", "ray"):
        with tempfile.TemporaryDirectory(prefix=f"bench-ray-{engine}-") as tmp:
            root = Path(tmp)
            prepare(root, n)
            for stage in ("ingest", "near-dedupe", "triggers", "boundary", "judge"):
                if stage == "ingest":  # input for the rest, same on both sides
                    run_stage(stage, root, n, n, "local")
                    continue
                seconds, *_ = run_stage(stage, root, n, n, engine)
                times[engine][stage] = seconds
                print(f"ray compare n={n} {engine:<5} {stage:<12} {seconds:8.1f} s", flush=True)
    for stage in times["local"]:
        out[stage] = (times["local"][stage], times["ray"][stage])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--trigger-cap", type=int, default=10_000, help="triggers run on at most this many rows")
    parser.add_argument("--ray", type=int, default=0, help="compare local vs Ray on this many rows (0: skip)")
    parser.add_argument("--encoder", default=OPTS["encoder"], help="encoder spec of near-dedupe and the probe")
    parser.add_argument("--triggers", choices=sorted(TRIGGER_PRESETS), default=OPTS["triggers"])
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    OPTS.update(encoder=args.encoder, triggers=args.triggers)
    results = scale(args.sizes, args.trigger_cap) if args.sizes else {}
    sizes = sorted(results)
    report: dict[str, object] = {"results": {str(n): r for n, r in results.items()}}
    if len(sizes) >= 2:
        print("\ngrowth exponent (log-log slope of seconds vs rows):")
        exps = {}
        for stage in STAGES:
            rows = [results[n][stage][2] for n in sizes]
            exps[stage] = slope([float(r) for r in rows], [results[n][stage][0] for n in sizes])
            print(f"  {stage:<12} {exps[stage]:.2f}" if exps[stage] is not None else f"  {stage:<12} -")
        total = [sum(results[n][s][0] for s in STAGES if s != "triggers") for n in sizes]
        exps["total_without_triggers"] = slope([float(n) for n in sizes], total)
        big, n0 = 1_000_000, sizes[-1]
        per_stage = {}
        for stage in STAGES:
            seconds, _, rows0, _ = results[n0][stage]
            factor = big / n0
            if stage == "triggers":  # capped: scale by the rows it would see (the deduped rows) at 1M
                factor *= results[n0]["near-dedupe"][2] / max(rows0, 1)
            e = exps[stage] if exps[stage] is not None and exps[stage] > 1.0 else 1.0
            per_stage[stage] = seconds * factor ** e
        print("extrapolated 1M seconds per stage (exponent >= 1):",
              {k: round(v) for k, v in per_stage.items()}, "total", round(sum(per_stage.values())))
        report.update(exponents=exps, extrapolated_1m=per_stage)
    if args.ray:
        comparison = ray_compare(args.ray)
        print(f"\nlocal Ray (num_cpus=2) vs single process on {args.ray} rows (ratio = local s / Ray s):")
        for stage, (local_s, ray_s) in comparison.items():
            print(f"  {stage:<12} local {local_s:7.1f} s   ray {ray_s:7.1f} s   ratio {local_s / ray_s:.2f}")
        report["ray"] = comparison
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
