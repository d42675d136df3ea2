"""`curate ingest SOURCE... --name NAME`."""

from __future__ import annotations

import typer

from curation.cli import common


def ingest(
    sources: list[str] = typer.Argument(..., help="Files (csv, tsv, json, jsonl, parquet), save_to_disk folders "
                                        "or Hub ids owner/name[:config][@split]."),
    name: str = typer.Option(..., "--name", "-n", help="Name of the dataset in the workspace."),
    prompt_col: str = typer.Option(None, "--prompt-col"),
    response_col: str = typer.Option(None, "--response-col"),
    label_col: str = typer.Option(None, "--label-col"),
    lang_col: str = typer.Option(None, "--lang-col"),
    category_col: str = typer.Option(None, "--category-col"),
    label: str = typer.Option(None, "--label", help="Label every row (harmful / benign)."),
    max_chars: int = typer.Option(None, "--max-chars", help="Drop prompts longer than this."),
    no_near_dedupe: bool = typer.Option(False, "--no-near-dedupe"),
    threshold: float = typer.Option(None, "--threshold", help="Near-duplicate cosine threshold."),
    language: str = typer.Option(None, "--language", help="Language of rows language id is not sure of (e.g. en)."),
    source_args: list[str] = typer.Option(None, "--source-args", help="Per-source options SOURCE:key=value[,...] "
                                          "(keys: prompt_col, response_col, label_col, lang_col, category_col, "
                                          "label, language)."),
    skip_bad_lines: bool = typer.Option(False, "--skip-bad-lines", help="Skip malformed JSON lines (counted)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace NAME even if later stages added columns."),
    engine: common.Engine = "local",
    num_proc: common.NumProc = None,
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """Read prompt sets into one normalized, deduplicated dataset."""
    from curation.core.engine import engine_options
    from curation.ingest.stage import IngestConfig, IngestReport, parse_source_args, refuse_overwrite, run

    s = common.settings()
    cfg = IngestConfig(prompt_col=prompt_col, response_col=response_col, label_col=label_col, lang_col=lang_col,
                       category_col=category_col, label=label, max_chars=max_chars or s.max_prompt_chars,
                       near_dedupe=not no_near_dedupe, near_threshold=threshold or s.near_dup_threshold,
                       embedding_model=s.embedding_model, batch_size=s.batch_size, device=s.device,
                       language=language, languages=list(s.languages), source_args=parse_source_args(source_args or []),
                       skip_bad_lines=skip_bad_lines)
    ws = common.workspace()
    refuse_overwrite(ws, name, overwrite)
    report = IngestReport()
    kept = run(sources, cfg, ws.root, engine=engine_options(engine, num_proc), report=report)
    removed = report.duplicates
    ws.save_dataset(kept, name)
    ws.save_dataset(removed, f"{name}.duplicates")
    ws.log_event("ingest", name=name, sources=sources, report=report.as_dict())
    common.table(f"ingest → {name}", ["read", "empty", "too long", "exact dup", "near dup", "contrast pairs",
                                       "label conflicts", "language uncertain", "kept"],
                 [(report.read, report.empty, report.too_long, report.exact_duplicates, report.near_duplicates,
                   report.contrast_pairs, report.label_conflicts, report.language_uncertain, report.kept)])
    if report.bad_lines_skipped:
        common.console.print(f"skipped {report.bad_lines_skipped} malformed line(s)")
    common.console.print(f"saved {report.kept} rows to {ws.dataset_path(name)}"
                         f" ({len(removed)} dropped rows — duplicates, empty, too long — in '{name}.duplicates')",
                         soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
