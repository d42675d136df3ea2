"""`curate probe fit`: the harmfulness probe shared by triggers and boundary scoring (one, or one per language)."""

from __future__ import annotations

import typer

from curation.cli import common

probe_app = typer.Typer(help="Fit and inspect the embedding harmfulness probe.", no_args_is_help=True)


@probe_app.command("fit")
def fit(
    harmful: list[str] = typer.Option(None, "--harmful", help="Source(s) of harmful prompts."),
    harmless: list[str] = typer.Option(None, "--harmless", help="Source(s) of harmless prompts."),
    labelled: list[str] = typer.Option(None, "--labelled",
                                       help="Source(s) with a harmful/benign label column (with --per-language)."),
    name: str = typer.Option("default", "--name", help="Probe name in the workspace."),
    language: str = typer.Option(None, "--language",
                                 help="Fit on this language's encoder and save as NAME-LANG (language recorded)."),
    per_language: bool = typer.Option(False, "--per-language",
                                      help="One probe per language present (NAME-fr, ...) plus a joint one."),
    joint: bool = typer.Option(True, "--joint/--no-joint", help="--per-language: also fit NAME-multilingual."),
    min_per_class: int = typer.Option(5, "--min-per-class", help="--per-language: skip smaller languages."),
    prompt_col: str = typer.Option(None, "--prompt-col"),
    max_per_class: int = typer.Option(None, "--max-per-class", help="Subsample each class (seeded)."),
    cross_lingual: bool = typer.Option(True, "--cross-lingual/--no-cross-lingual",
                                       help="English data on an English-only encoder: also fit NAME-multilingual "
                                            "(same data, multilingual encoder) for non-English rows."),
    preset: str = typer.Option(None, "--preset",
                               help="contextual: fine-tune MiniLM on the shipped contrast data (curation/data/harm) "
                                    "plus any --harmful/--harmless sources; the default when no source is given."),
    epochs: float = typer.Option(None, "--epochs", help="--preset contextual: training epochs."),
    time_budget: float = typer.Option(None, "--time-budget", help="--preset contextual: stop training after "
                                                                  "this many seconds (recorded in the probe)."),
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """Fit the harmfulness probe: the contextual harm model (default), or a logistic-regression probe on frozen
    sentence embeddings of --harmful vs --harmless prompts."""
    from curation.core.errors import InputError

    s = common.settings()
    ws = common.workspace()
    if preset or (not harmful and not harmless and not labelled and not per_language and not language):
        if preset not in (None, "contextual"):
            raise InputError(f"unknown probe preset '{preset}'", "use --preset contextual, or give --harmful and "
                             "--harmless for a plain probe")
        return _fit_contextual(harmful, harmless, name, prompt_col, max_per_class, epochs, time_budget,
                               cross_lingual)
    if per_language:
        if language:
            raise InputError("--per-language and --language cannot be combined",
                             "use --language for one language, --per-language for every language in the data")
        return _fit_per_language(harmful, harmless, labelled, name, joint, min_per_class, prompt_col, max_per_class)
    if not harmful or not harmless:
        raise InputError("probe fit needs --harmful and --harmless sources",
                         "pass both, or --per-language --labelled SRC with a harmful/benign label column")
    from curation.ingest.stage import sample_prompts
    from curation.models.embeddings import get_encoder, workspace_cache
    from curation.models.probe import default_probe_dir, fit_probe
    from curation.models.probe_routing import fit_language_probe, language_probe_name

    texts = {kind: sample_prompts(srcs, prompt_col, max_per_class, s.seed)["prompt"]
             for kind, srcs in (("harmful", harmful), ("harmless", harmless))}
    if language:
        probe = fit_language_probe(texts["harmful"], texts["harmless"], language, workspace_root=ws.root,
                                   settings=s, seed=s.seed, batch_size=s.batch_size)
        name = language_probe_name(name, probe.meta["language"])
    else:
        encoder = get_encoder(s.embedding_model, device=s.device)
        probe = fit_probe(texts["harmful"], texts["harmless"], encoder, workspace_cache(ws.root, encoder.model_id),
                          seed=s.seed, batch_size=s.batch_size)
    probe.meta["sources"] = {"harmful": harmful, "harmless": harmless}
    path = probe.save(default_probe_dir(ws.root, name))
    lang = f" ({probe.meta['language']}, encoder {probe.model_id})" if language else ""
    common.console.print(f"probe '{name}'{lang} saved to {path}: {probe.meta['n_harmful']} harmful, "
                         f"{probe.meta['n_harmless']} harmless, hold-out AUROC {probe.meta['holdout_auroc']:.3f}")
    if cross_lingual and not language:
        from curation.models.probe_fitting import fit_english_transfer

        fit = fit_english_transfer(list(texts["harmful"]), list(texts["harmless"]), probe, path, ws.root, name, s)
        if fit:
            common.console.print(f"cross-lingual: '{probe.model_id}' is English-only, so the same English data "
                                 f"(plus the shipped English contrast rows, {fit.probe.meta['training_mix']['rows']} "
                                 f"harmful/harmless) was also fit on '{fit.probe.model_id}' as '{fit.target}' "
                                 f"(hold-out AUROC {fit.probe.meta['holdout_auroc']:.3f}); `boundary score` and the "
                                 "triggers route "
                                 "non-English rows to it (--no-cross-lingual to skip)", markup=False)


def _fit_contextual(harmful: list[str] | None, harmless: list[str] | None, name: str, prompt_col: str | None,
                    max_per_class: int | None, epochs: float | None, time_budget: float | None,
                    cross_lingual: bool = True) -> None:
    """`--preset contextual`: the fine-tuned harm model (cached by content hash) saved as probe NAME, and (unless
    --no-cross-lingual) the same rows' probe on the multilingual encoder for non-English rows."""
    from curation.ingest.stage import sample_prompts
    from curation.models.harm.model import fit_contextual_probe
    from curation.models.probe_fitting import fit_contextual_transfer

    s = common.settings()
    ws = common.workspace()
    extra = {kind: list(sample_prompts(srcs, prompt_col, max_per_class, s.seed)["prompt"]) if srcs else []
             for kind, srcs in (("harmful", harmful), ("harmless", harmless))}
    with common.console.status("training the contextual harm model (cached by content hash)"):
        probe, path, cached = fit_contextual_probe(ws.root, name, extra["harmful"], extra["harmless"],
                                                   epochs=epochs, time_budget_s=time_budget)
    m = probe.meta
    how = "reused from the cache" if cached else f"trained in {m.get('train_seconds')} s"
    common.console.print(f"probe '{name}' (contextual harm model, {how}) saved to {path}: {m['n_rows']} rows "
                         f"{m['levels']}, hold-out AUROC {m['holdout_auroc']:.3f}"
                         + (" — stopped by the time budget" if m.get("stopped_by_time_budget") else ""),
                         markup=False)
    ws.log_event("probe.fit", name=name, preset="contextual", model=m.get("model_dir"), cached=cached)
    if cross_lingual:
        fit = fit_contextual_transfer(extra["harmful"], extra["harmless"], ws.root, name, s)
        w = (fit.probe.meta.get("contextual_blend") or {}).get("weight", 0)
        common.console.print(f"cross-lingual: the contextual model's encoder is English-only, so non-English rows are "
                             f"scored by the same rows' probe on '{fit.probe.model_id}' ('{fit.target}', hold-out "
                             f"AUROC {fit.probe.meta['holdout_auroc']:.3f}) blended with the contextual score "
                             f"distilled onto that encoder; English rows by {w:g} x the contextual model + {1 - w:g} x "
                             f"that probe, so every language is on one scale "
                             "(`boundary score --english-scale`: English rows on the contextual model alone; "
                             "--no-cross-lingual to skip)", markup=False)


def _fit_per_language(harmful: list[str] | None, harmless: list[str] | None, labelled: list[str] | None, name: str,
                      joint: bool, min_per_class: int, prompt_col: str | None, max_per_class: int | None) -> None:
    from datasets import concatenate_datasets

    from curation.core.errors import InputError
    from curation.ingest.stage import sample_prompts
    from curation.models.probe_fitting import languages_or_detected
    from curation.models.probe_routing import fit_per_language

    s = common.settings()
    ws = common.workspace()
    parts = [sample_prompts(srcs, prompt_col, max_per_class, s.seed, label) for srcs, label in
             ((harmful, "harmful"), (harmless, "benign"), (labelled, None)) if srcs]
    if not parts:
        raise InputError("probe fit --per-language needs sources",
                         "pass --labelled SRC (harmful/benign label column) or --harmful X --harmless Y")
    ds = concatenate_datasets(parts) if len(parts) > 1 else parts[0]
    report = fit_per_language(ds["prompt"], ds["label"], languages_or_detected(ds), ws.root, name, s, joint,
                              min_per_class, seed=s.seed, batch_size=s.batch_size)
    rows = [(probe, info["language"], info["encoder"],
             ", ".join(f"{lg} {h}/{b}" for lg, (h, b) in info["counts"].items()), info["holdout_auroc"])
            for probe, info in report.fitted.items()]
    common.table("language probes (harmful/harmless per language)",
                 ["probe", "language", "encoder", "examples", "hold-out AUROC"], rows)
    for lang, (h, b) in report.skipped.items():
        common.console.print(f"skipped '{lang}': {h} harmful / {b} harmless is below --min-per-class "
                             f"{min_per_class} (its rows use the joint probe)", markup=False)
    ws.log_event("probe.fit", name=name, per_language=True, fitted=report.fitted, skipped=report.skipped)


def register(app: typer.Typer) -> None:
    app.add_typer(probe_app, name="probe")
