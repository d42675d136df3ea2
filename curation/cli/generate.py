"""`curate generate NAME --model M` and `curate judge NAME [--judge J]`."""

from __future__ import annotations

import inspect
import json

import typer

from . import common


def generate(
    name: str = typer.Argument(..., help="Workspace dataset (or save_to_disk folder) with a prompt column."),
    model: str = typer.Option("smollm2", "--model", "-m", help="Hub id, local folder, .gguf file or 'smollm2'."),
    out: str = typer.Option(None, "--out", "-o", help="Save under this name (default: NAME, updated in place)."),
    max_new_tokens: int = typer.Option(256, "--max-new-tokens", help="Answers cut here get finish_reason=length."),
    batch_size: int = typer.Option(8, "--batch-size"),
    sample: bool = typer.Option(False, "--sample", help="Sample instead of greedy decoding."),
    temperature: float = typer.Option(1.0, "--temperature"),
    system: str = typer.Option(None, "--system", help="System prompt (chat models)."),
    save_every: int = typer.Option(10, "--save-every", help="Checkpoint every N batches."),
    limit: int = typer.Option(None, "--limit", help="Answer a seeded random sample of N pending prompts."),
    seed: int = typer.Option(None, "--seed", help="Seed of the --limit sample (default: the `seed` setting)."),
    progress_every: int = typer.Option(None, "--progress-every", help="Off a terminal: a line every N rows."),
) -> None:
    """Answer every prompt with a local model; re-running resumes (ids already answered by MODEL are skipped)."""
    from ..generate import GenerateConfig, carry_over, pending_rows, run, truncated_count

    s = common.settings()
    cfg = GenerateConfig(model=model, max_new_tokens=max_new_tokens, batch_size=batch_size, do_sample=sample,
                         temperature=temperature, system=system, device=s.device, save_every=save_every, limit=limit,
                         seed=s.seed if seed is None else seed, progress_every=progress_every)
    ws = common.workspace()
    ds = ws.load_dataset(name)
    target = out or name.rstrip("/").split("/")[-1]
    previous = ws.load_dataset(target) if out and ws.has_dataset(target) else None
    if previous is not None:
        ds = carry_over(ds, previous)
    before = len(pending_rows(ds, model))
    result = run(ds, cfg, checkpoint=lambda partial: ws.save_dataset(partial, target))
    ws.save_dataset(result, target)
    left = len(pending_rows(result, model))
    cut = truncated_count(result)
    ws.log_event("generate", name=name, out=target, model=model, answered=before - left, pending=left, truncated=cut)
    common.console.print(f"answered {before - left} prompts with {model} ({len(ds) - before} already done, "
                         f"{left} pending; {cut} cut at --max-new-tokens {max_new_tokens}); saved '{target}' to "
                         f"{ws.dataset_path(target)}", soft_wrap=True)


def _parse_pairs(pairs: list[str], flag: str) -> dict[str, str]:
    from ..errors import InputError

    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"{flag} expects KEY=VALUE, got {pair!r}", f"e.g. {flag} LABEL_1=full_refusal")
        out[key] = value
    return out


def judge(
    name: str = typer.Argument(..., help="Workspace dataset (or save_to_disk folder) with a response column."),
    judge_name: str = typer.Option("string_match", "--judge", "-j", help="string_match, classifier or llm."),
    judge_model: str = typer.Option(None, "--judge-model", help="Classifier path (classifier) or chat model (llm)."),
    label_map: list[str] = typer.Option(None, "--label-map", help="Classifier LABEL=judge_label (repeatable)."),
    template: str = typer.Option(None, "--template", help="LLM judge prompt template (file or string)."),
    option: list[str] = typer.Option(None, "--option", help="Other judge option KEY=VALUE (JSON values)."),
    out: str = typer.Option(None, "--out", "-o", help="Save under this name (default: NAME, updated in place)."),
    engine: str = typer.Option("local", "--engine", help="local, or ray (joins RAY_ADDRESS, else a local Ray)."),
    num_proc: int = typer.Option(None, "--num-proc", help="local engine: worker processes (shards)."),
) -> None:
    """Label each response full_compliance, full_refusal or partial_refusal, with the judge's name and score."""
    from ..engine import engine_options
    from ..judge import JudgeConfig, run
    from ..registry import judges, resolve

    s = common.settings()
    options: dict[str, object] = {}
    for key, value in _parse_pairs(option, "--option").items():
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    if judge_model:
        options["model"] = judge_model
    if label_map:
        options["label_map"] = _parse_pairs(label_map, "--label-map")
    if template:
        options["template"] = template
    if "device" in inspect.signature(resolve(judges, judge_name, "judge")).parameters:
        options.setdefault("device", s.device)
    ws = common.workspace()
    ds = ws.load_dataset(name)
    result = run(ds, JudgeConfig(judge=judge_name, options=options), engine=engine_options(engine, num_proc))
    target = out or name.rstrip("/").split("/")[-1]
    ws.save_dataset(result, target)
    counts = {label: 0 for label in ("full_compliance", "full_refusal", "partial_refusal", None)}
    for label in result["judge_label"]:
        counts[label] = counts.get(label, 0) + 1
    ws.log_event("judge", name=name, out=target, judge=judge_name, counts={str(k): v for k, v in counts.items()})
    common.table(f"judge ({judge_name}) → {target}", ["full_compliance", "full_refusal", "partial_refusal",
                                                      "no response"],
                 [(counts["full_compliance"], counts["full_refusal"], counts["partial_refusal"], counts[None])])


def register(app: typer.Typer) -> None:
    app.command("generate")(generate)
    app.command("judge")(judge)
