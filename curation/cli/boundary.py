"""`curate boundary fit-direction|score|select|generate`: prompts near a model's refusal boundary."""

from __future__ import annotations

from pathlib import Path

import typer

from curation.cli import common

boundary_app = typer.Typer(help="Score, select and mine prompts near a model's refusal boundary.",
                           no_args_is_help=True)


@boundary_app.command("fit-direction")
def fit_direction_cmd(
    model: str = typer.Option("smollm2", "--model", "-m", help="Hub id, local folder, .gguf file or 'smollm2'."),
    harmful: list[str] = typer.Option(..., "--harmful", help="Source(s) of harmful prompts."),
    harmless: list[str] = typer.Option(..., "--harmless", help="Source(s) of harmless prompts."),
    harmful_val: list[str] = typer.Option(None, "--harmful-val", help="Validation harmful prompts (else a split)."),
    harmless_val: list[str] = typer.Option(None, "--harmless-val", help="Validation harmless prompts."),
    name: str = typer.Option("default", "--name", help="Direction name in the workspace."),
    max_per_class: int = typer.Option(None, "--max-per-class", help="Subsample each set (seeded)."),
    layer: int = typer.Option(None, "--layer", help="Use this layer instead of selecting one."),
    select_by: str = typer.Option("auroc", "--select-by", help="auroc or effect_size."),
    ablation_check: bool = typer.Option(False, "--ablation-check",
                                        help="Also pick the layer whose ablation removes most refusals."),
    position: str = typer.Option("mean", "--position", help="mean or last of the post-instruction tokens."),
    batch_size: int = typer.Option(16, "--batch-size"),
    device: common.Device = None,
    language: str = typer.Option(None, "--language",
                                 help="Language of the contrast sets (recorded; default: detected or 'multilingual')."),
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """Fit the refusal direction of MODEL (difference of means per layer) and save it as a safetensors artifact."""
    from curation.ingest.stage import sample_prompts
    from curation.judge.stage import is_refusal
    from curation.models.lm import load_lm
    from curation.models.probe_fitting import contrast_language
    from curation.models.refusal_direction.activations import workspace_activation_cache
    from curation.models.refusal_direction.direction import DirectionConfig, default_direction_dir, fit_direction

    s = common.settings()
    ws = common.workspace()
    cfg = DirectionConfig(model=model, device=device or s.device, position=position, layer=layer,
                          select_by=select_by, ablation_check=ablation_check, batch_size=batch_size, seed=s.seed)
    sets = [list(sample_prompts(src, max_rows=max_per_class, seed=s.seed)["prompt"]) if src else None
            for src in (harmful, harmless, harmful_val, harmless_val)]
    lm = load_lm(model) if cfg.device == "cpu" else load_lm(model, cfg.device)
    cache = workspace_activation_cache(ws.root, lm)
    try:
        direction = fit_direction(lm, sets[0], sets[1], cfg, sets[2], sets[3], cache, show_progress=True,
                                  refused=is_refusal)
    finally:
        cache.close()
    direction.metrics["language"] = language or contrast_language(sets[0] + sets[1])
    path = direction.save(default_direction_dir(ws.root, name))
    m = direction.metrics
    rows = [(x["layer"], x["auroc"], x["effect_size"], x["diff_norm"]) for x in m["per_layer"]]
    common.table(f"refusal direction '{name}' ({direction.model_id})", ["layer", "val AUROC", "effect size",
                                                                           "|mean diff|"], rows)
    line = f"separation picks layer {m['separation_layer']}"
    if "ablation" in m:
        ab = m["ablation"]
        rates = ", ".join(f"L{k}: {v:.2f}" for k, v in ab["refusal_rate_by_layer"].items())
        line += (f"; ablation picks layer {ab['ablation_layer']} (refusal rate {ab['baseline_refusal_rate']:.2f} "
                 f"without ablation; {rates})")
    common.console.print(f"{line}; using layer {direction.layer} ({m['selected_by']}); saved to {path}")
    ws.log_event("boundary.fit-direction", name=name, model=model, layer=direction.layer,
                 separation_layer=m["separation_layer"], auroc=m["auroc"])


def _plot(ds, path: Path, threshold: float, band: tuple[float, float], title: str, highlight=None) -> None:
    from curation.boundary.plot import plot_dataset

    common.console.print(f"plot written to {plot_dataset(ds, path, threshold, band, title, highlight)}")


@boundary_app.command("score")
def score_cmd(
    name: str = typer.Argument(..., help="Workspace dataset (or save_to_disk folder) with a prompt column."),
    scorer: str = typer.Option("probe", "--scorer", "-s", help="probe or direction."),
    artifact: str = typer.Option("default", "--artifact", help="Probe / direction name in the workspace."),
    path: str = typer.Option(None, "--path", help="Explicit probe folder or direction file/folder."),
    model: str = typer.Option(None, "--model", "-m", help="direction: the model it must have been fit on."),
    layer: int = typer.Option(None, "--layer", help="direction: score at this layer."),
    band_width: float = typer.Option(0.15, "--band-width", help="in_band = |p_refuse - 0.5| <= W."),
    calibrate: bool = typer.Option(None, "--calibrate/--no-calibrate",
                                   help="Fit P(refuse) on judge_label (default: when present)."),
    per_language: bool = typer.Option(None, "--per-language/--no-per-language",
                                      help="probe: score each row with its language's probe (default: when "
                                           "`probe fit --per-language` probes exist)."),
    cross_lingual_scale: bool = typer.Option(True, "--cross-lingual-scale/--english-scale",
                                             help="probe: English rows of an English-only probe also use its "
                                                  "cross-lingual probe (the contextual model: a blend of both), so "
                                                  "all languages share one scale."),
    out: common.Out = None,
    plot: Path = typer.Option(None, "--plot", help="Write a PNG histogram of scores by label."),
    batch_size: int = typer.Option(16, "--batch-size"),
    device: common.Device = None,
    engine: common.Engine = "local",
    num_proc: common.NumProc = None,
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """Add boundary_score, p_refuse, in_band, scorer and provenance columns to every prompt."""
    from curation.boundary.stage import BoundaryConfig, score_with_report
    from curation.core.engine import engine_options

    s = common.settings()
    ws = common.workspace()
    cfg = BoundaryConfig(scorer=scorer, artifact=artifact, path=path, model=model, layer=layer,
                         band_width=band_width, calibrate=calibrate, per_language=per_language,
                         cross_lingual_scale=cross_lingual_scale, device=device or s.device, batch_size=batch_size)
    ds = ws.load_dataset(name)
    result, report = score_with_report(ds, cfg, ws.root, engine=engine_options(engine, num_proc))
    target = common.out_name(out, name)
    ws.save_dataset(result, target)
    ws.log_event("boundary.score", name=name, out=target, **report.as_dict())
    common.table(f"boundary score → {target}", ["scorer", "rows", "in band", "threshold", "band", "calibration",
                                                "label AUROC"],
                 [(report.scorer, report.rows, report.in_band, report.threshold,
                   f"{report.band[0]:.3g} .. {report.band[1]:.3g}",
                   report.calibration + (f" (AUROC {report.calibration_auroc:.3f})" if report.calibration_auroc
                                         is not None else ""),
                   "-" if report.label_auroc is None else report.label_auroc)])
    for warning in report.warnings():
        common.console.print(f"warning: {warning}", style="yellow", markup=False)
    if report.languages:
        common.table("per language", ["language", "rows", "harmful", "benign", "AUROC", "probe", "fallback",
                                      "calibration"],
                     [(lang, v["rows"], v["harmful"], v["benign"], "-" if v["auroc"] is None else v["auroc"],
                       ", ".join(v["probes"]) or report.scorer, ", ".join(v["fallback"]) or "-",
                       v.get("calibration", "-")) for lang, v in report.languages.items()])
        routing: dict[tuple[str, str], list[str]] = {}
        for lang, v in report.languages.items():
            for reason in v.get("route_reason", []):
                routing.setdefault((", ".join(v["probes"]), reason), []).append(lang)
        for (probes, reason), langs in routing.items():
            common.console.print(f"routing: {', '.join(langs)} -> {probes}: {reason}", markup=False)
        path = ws.artifact_dir("boundary", target) / "languages.json"
        ws.write_json(path, {"scorer": report.scorer, "languages": report.languages})
        common.console.print(f"per-language report written to {path}", markup=False)
    if plot:
        _plot(result, plot, report.threshold, report.band, f"{report.scorer} on {name}")


@boundary_app.command("select")
def select_cmd(
    name: str = typer.Argument(..., help="A scored dataset (see `curate boundary score`)."),
    budget: int = typer.Option(..., "--budget", "-n", help="How many prompts to pick."),
    out: common.out_as("NAME.selected") = None,
    method: str = typer.Option("k-center", "--method", help="k-center or mmr."),
    pool_factor: float = typer.Option(4.0, "--pool-factor", help="Pick among budget x F rows nearest 0.5."),
    no_balance: bool = typer.Option(False, "--no-balance", help="Do not balance category x language groups."),
    only_in_band: bool = typer.Option(False, "--only-in-band", help="Consider in_band rows only."),
    plot: Path = typer.Option(None, "--plot", help="PNG histogram with the selected rows marked."),
    device: common.Device = None,
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """Pick the BUDGET prompts nearest the boundary, diverse and balanced; print coverage against top-N."""
    from curation.boundary.stage import SelectConfig, select_prompts
    from curation.core import columns as C

    s = common.settings()
    ws = common.workspace()
    cfg = SelectConfig(budget=budget, method=method, pool_factor=pool_factor, balance=not no_balance,
                       only_in_band=only_in_band, embedding_model=s.embedding_model, device=device or s.device)
    ds = ws.load_dataset(name)
    chosen, report = select_prompts(ds, cfg, ws.root)
    target = common.out_name(out, name, ".selected")
    ws.save_dataset(chosen, target)
    ws.log_event("boundary.select", name=name, out=target, **report.as_dict())
    r = report
    common.table(f"boundary select → {target}", ["picked", "pool", "categories", "languages", "mean dist",
                                                 "top-N mean dist", "min dist", "top-N min dist", "closeness"],
                 [(f"{r.selected}/{r.budget}", r.pool, f"{r.categories_covered:.0%}", f"{r.languages_covered:.0%}",
                   r.mean_distance, r.mean_distance_top_n, r.min_distance, r.min_distance_top_n,
                   f"{r.mean_closeness:.3f} (top-N {r.mean_closeness_top_n:.3f})")])
    if plot:
        from curation.boundary.plot import scored_band

        threshold, band = scored_band(ds)
        ids = {i: k for k, i in enumerate(ds[C.ID])} if C.ID in ds.column_names else {}
        highlight = [ids[i] for i in chosen[C.ID] if i in ids] if ids else None
        _plot(ds, plot, threshold, band, f"selection from {name}", highlight)


@boundary_app.command("generate")
def generate_cmd(
    seeds: str = typer.Argument(..., help="Dataset of seed prompts (e.g. the output of `boundary select`)."),
    out: str = typer.Option(..., "--out", "-o", help="Save the kept candidates under this name."),
    direction: str = typer.Option("default", "--direction", help="Direction name in the workspace."),
    direction_path: str = typer.Option(None, "--direction-path", help="Explicit direction file/folder."),
    model: str = typer.Option(None, "--model", "-m", help="Must be the direction's model ('smollm2', a folder...)."),
    layer: int = typer.Option(None, "--layer", help="Steer at this layer instead of the direction's."),
    alphas: str = typer.Option("0,0.5,1", "--alphas", help="Comma-separated steering strengths (x mean gap)."),
    template: str = typer.Option("rewrite", "--template", help="rewrite, new, or a text containing {seed}."),
    max_seeds: int = typer.Option(None, "--max-seeds", help="Use the first N seeds."),
    against: list[str] = typer.Option(None, "--against", help="Also dedupe against these datasets."),
    keep_all: bool = typer.Option(False, "--keep-all", help="Keep out-of-band candidates (flagged)."),
    band_width: float = typer.Option(0.15, "--band-width"),
    max_new_tokens: int = typer.Option(48, "--max-new-tokens"),
    batch_size: int = typer.Option(8, "--batch-size"),
    device: common.Device = None,
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """Rewrite seeds with the local LM steered along the refusal direction; keep in-band, new candidates."""
    from curation.boundary.candidates import CandidateConfig, generate_candidates
    from curation.core import columns as C
    from curation.core.errors import InputError

    s = common.settings()
    ws = common.workspace()
    try:
        alpha_values = [float(a) for a in alphas.split(",") if a.strip()]
    except ValueError:
        raise InputError(f"--alphas expects comma-separated numbers, got {alphas!r}", "e.g. --alphas 0,0.5,1") from None
    cfg = CandidateConfig(direction=direction, direction_path=direction_path, model=model, layer=layer,
                          alphas=alpha_values, template=template, keep_all=keep_all, band_width=band_width,
                          max_new_tokens=max_new_tokens, batch_size=batch_size, embedding_model=s.embedding_model,
                          device=device or s.device)
    seed_ds = ws.load_dataset(seeds)
    if max_seeds:
        seed_ds = seed_ds.select(range(min(max_seeds, len(seed_ds))))
    existing = [p for other in (against or []) for p in ws.load_dataset(other)[C.PROMPT]]
    result, report = generate_candidates(seed_ds, cfg, ws.root, existing)
    ws.save_dataset(result, out)
    ws.log_event("boundary.generate", seed_dataset=seeds, out=out, **report.as_dict())
    common.table(f"boundary generate → {out}", ["alpha", "generated", "kept"],
                 [(a, v["generated"], v["kept"]) for a, v in report.per_alpha.items()])
    common.console.print(f"{report.generated} candidates from {report.seeds} seeds: {report.empty} empty, "
                         f"{report.duplicates} duplicates, {report.out_of_band} out of band, {report.kept} kept "
                         f"in '{out}'")


def register(app: typer.Typer) -> None:
    app.add_typer(boundary_app, name="boundary")
