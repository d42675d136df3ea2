"""`curate gold import NAME [SOURCE...]`: already-labelled prompts to `NAME.gold` without Argilla."""

from __future__ import annotations

import typer

from curation.cli import common

gold_app = typer.Typer(help="Gold datasets from already-labelled data.", no_args_is_help=True)


@gold_app.command("import")
def import_command(
    name: str = typer.Argument(..., help="Writes NAME.gold (and NAME, the ingested rows, when sources are given)."),
    sources: list[str] = typer.Argument(None, help="Labelled files or Hub ids; none: use workspace dataset NAME."),
    label_col: str = typer.Option(None, "--label-col", help="Column with safe/unsafe, harmful/benign, "
                                  "should_answer/should_refuse (default: auto-detected)."),
    category_col: str = typer.Option(None, "--category-col"),
    prompt_col: str = typer.Option(None, "--prompt-col"),
    lang_col: str = typer.Option(None, "--lang-col"),
    language: str = typer.Option(None, "--language", help="Language of rows language id is not sure of."),
    source_args: list[str] = typer.Option(None, "--source-args", help="Per-source options SOURCE:key=value[,...]."),
    license_: str = typer.Option(None, "--license", help="Licence of the labelled source (shown in the card)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing NAME.gold."),
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """Make gold from labels the data already has: every gold value's provenance is `source_label`."""
    from curation.core.errors import InputError
    from curation.ingest.gold import to_gold
    from curation.ingest.stage import IngestConfig, IngestReport, parse_source_args, run

    s = common.settings()
    ws = common.workspace()
    target = f"{name}.gold"
    if ws.has_dataset(target) and not overwrite:
        raise InputError(f"'{target}' already exists", "pass --overwrite to replace it")
    if sources:
        cfg = IngestConfig(prompt_col=prompt_col, label_col=label_col, lang_col=lang_col, category_col=category_col,
                           language=language, languages=list(s.languages), max_chars=s.max_prompt_chars,
                           near_threshold=s.near_dup_threshold, embedding_model=s.embedding_model,
                           batch_size=s.batch_size, device=s.device, source_args=parse_source_args(source_args or []))
        ingested = IngestReport()
        ds = run(sources, cfg, ws.root, report=ingested)
        ws.save_dataset(ds, name)
        ws.save_dataset(ingested.duplicates, f"{name}.duplicates")
        common.console.print(f"ingested {ingested.kept} rows to '{name}' ({ingested.contrast_pairs} contrast pairs, "
                             f"{ingested.label_conflicts} label conflicts)", soft_wrap=True)
    else:
        ds = ws.load_dataset(name)
    gold, report = to_gold(ds, origin=name)
    ws.save_dataset(gold, target)
    from pathlib import Path

    shown = [Path(x).name if Path(x).exists() else x for x in sources or [name]]  # no local paths in a public card
    ws.write_json(ws.artifact_dir("gold_import", name) / "import.json",
                  {"sources": shown, "license": license_, "label_col": label_col,
                   "category_col": category_col, "report": report.as_dict()})
    ws.log_event("gold.import", name=name, sources=list(sources or []), report=report.as_dict())
    common.table(f"gold import → {target}", ["rows", "gold", "unknown label", "label conflict (review)"],
                 [(report.rows, report.gold, report.unknown_label, report.label_conflicts)])
    common.console.print(f"saved '{target}' to {ws.dataset_path(target)}; build it with configs boundary, morbench, "
                         "sft or dpo (from: " + target + ")", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(gold_app, name="gold")
