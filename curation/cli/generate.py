"""`curate generate NAME --model M` (`curate judge` lives in cli/judge.py)."""

from __future__ import annotations

import typer

from curation.cli import common


def generate(
    name: str = typer.Argument(..., help="Workspace dataset (or save_to_disk folder) with a prompt column."),
    model: str = typer.Option("smollm2", "--model", "-m", help="Hub id, local folder, .gguf file or 'smollm2'."),
    out: common.Out = None,
    max_new_tokens: int = typer.Option(256, "--max-new-tokens", help="Answers cut here get finish_reason=length."),
    batch_size: int = typer.Option(8, "--batch-size"),
    sample: bool = typer.Option(False, "--sample", help="Sample instead of greedy decoding."),
    temperature: float = typer.Option(1.0, "--temperature"),
    system: str = typer.Option(None, "--system", help="System prompt (chat models)."),
    save_every: int = typer.Option(10, "--save-every", help="Checkpoint every N batches."),
    limit: int = typer.Option(None, "--limit", help="Answer a seeded random sample of N pending prompts."),
    seed: int = typer.Option(None, "--seed", help="Seed of the --limit sample (default: the `seed` setting)."),
    progress_every: int = typer.Option(None, "--progress-every", help="Off a terminal: a line every N rows."),
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """Answer every prompt with a local model; re-running resumes (ids already answered by MODEL are skipped)."""
    from curation.generate.stage import GenerateConfig, carry_over, pending_rows, run, truncated_count

    s = common.settings()
    cfg = GenerateConfig(model=model, max_new_tokens=max_new_tokens, batch_size=batch_size, do_sample=sample,
                         temperature=temperature, system=system, device=s.device, save_every=save_every, limit=limit,
                         seed=s.seed if seed is None else seed, progress_every=progress_every)
    ws = common.workspace()
    ds = ws.load_dataset(name)
    target = common.out_name(out, name)
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


def register(app: typer.Typer) -> None:
    app.command("generate")(generate)
