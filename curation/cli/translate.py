"""`curate translate`: machine-translate a dataset's prompts, keeping trigger spans aligned and flagging weak pairs."""

from __future__ import annotations

from pathlib import Path

import typer

from curation.cli import common


def translate(
    dataset: str = typer.Argument(..., help="Workspace dataset name or a save_to_disk folder."),
    to: str = typer.Option(..., "--to", help="Target languages, comma-separated (de,fr,es)."),
    model: str = typer.Option(..., "--model", help="Seq2seq translation model or chat model (folder, id, smollm2)."),
    name: str = typer.Option(None, "--name", help="Output dataset name (default: DATASET-translated)."),
    back_model: str = typer.Option(None, "--back-model", help="Model for back-translation (default: --model)."),
    source_language: str = typer.Option("en", "--source-language", help="Language of rows without one."),
    min_similarity: float = typer.Option(0.8, "--min-similarity", help="Flag needs_review below this."),
    no_back_translate: bool = typer.Option(False, "--no-back-translate", help="Compare source with translation."),
    src_code: str = typer.Option(None, "--src", help="Seq2seq source language code template, e.g. '{lang}_Latn'."),
    tgt_code: str = typer.Option(None, "--tgt", help="Seq2seq target language token template, e.g. '__{lang}__'."),
    target_prefix: str = typer.Option(None, "--target-prefix", help="Seq2seq input prefix, e.g. '>>{tgt}<< '."),
    batch_size: int = typer.Option(8, "--batch-size"),
    max_new_tokens: int = typer.Option(256, "--max-new-tokens"),
    config: Path = typer.Option(None, "--config", help="YAML file with TranslateConfig fields (flags win)."),
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """Translate every prompt of DATASET into each --to language; save source + translated rows as a new dataset."""
    from curation.core.config import load_model
    from curation.translate.stage import TranslateConfig, translate_dataset

    s = common.settings()
    ws = common.workspace()
    flags = {"targets": to.split(","), "model": model, "back_model": back_model, "source_language": source_language,
             "min_similarity": min_similarity, "back_translate": not no_back_translate, "src_code": src_code,
             "tgt_code": tgt_code, "target_prefix": target_prefix, "batch_size": batch_size,
             "max_new_tokens": max_new_tokens, "device": s.device}
    cfg = load_model(config or {}, TranslateConfig, where=str(config) if config else "translate options",
                     overrides=flags, hint="fix the flag or the --config file")
    ds = ws.load_dataset(dataset)
    out, stats = translate_dataset(ds, cfg, ws.root)
    out_name = name or f"{Path(dataset).name}-translated"
    path = ws.save_dataset(out, out_name)
    ws.log_event("translate", dataset=dataset, output=out_name, model=cfg.model, targets=cfg.targets,
                 **stats.__dict__)
    common.table(f"translate -> '{out_name}' ({len(out)} rows, {path})", ["what", "count"], [
        ("source rows", stats.source_rows), ("translated rows", stats.translated_rows),
        ("already translated (skipped)", stats.skipped_existing), ("model calls", stats.model_calls),
        ("from cache", stats.cached), ("needs review", stats.needs_review), ("empty translations", stats.empty),
        ("trigger spans projected", stats.spans_projected), ("trigger spans dropped", stats.spans_dropped),
    ])


def register(app: typer.Typer) -> None:
    app.command("translate")(translate)
