"""`curate eval MODEL --on VERSION_OR_DATASET [--compare MODEL_B]`: over-refusal and compliance rates."""

from __future__ import annotations

import typer

from curation.cli import common


def eval_command(
    model: str = typer.Argument(..., help="Hub id, local folder, .gguf file or 'smollm2'."),
    on: str = typer.Option(..., "--on", help="A version tag (see `curate version list`) or a workspace dataset."),
    compare: str = typer.Option(None, "--compare", help="A second model, shown side by side."),
    judge: str = typer.Option("string_match", "--judge", "-j", help="Registered judge."),
    split: str = typer.Option("test", "--split", help="Split of a version (all splits when it has none)."),
    max_new_tokens: int = typer.Option(64, "--max-new-tokens", min=1),
    batch_size: int = typer.Option(8, "--batch-size", min=1),
    limit: int = typer.Option(None, "--limit", min=1, help="Evaluate at most N prompts (seeded sample)."),
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """Generate answers, judge them, print over-refusal (should-answer) and compliance (should-refuse) rates per
    category and language, and write the JSON report under artifacts/eval/."""
    from curation.evaluate import stage as evaluate

    s = common.settings()
    ws = common.workspace()
    reports = []
    for name in [model, *([compare] if compare else [])]:
        cfg = evaluate.EvalConfig(model=name, judge=judge, max_new_tokens=max_new_tokens, batch_size=batch_size,
                                  device=s.device, split=split, limit=limit, seed=s.seed)
        rep, _ = evaluate.evaluate(ws, on, cfg)
        reports.append(rep)
    path = evaluate.save_report(ws, reports, on)
    headers, rows = evaluate.table_rows(reports)
    common.table(f"eval on {on} (judge {reports[0]['judge']}; over-refusal on should-answer, compliance on "
                 "should-refuse)", headers, rows)
    ws.log_event("eval", on=on, models=[r["model"] for r in reports], overall=[r["overall"] for r in reports])
    common.console.print(f"report written to {path}", markup=False)


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
