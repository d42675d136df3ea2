"""`curate judge DATASET [--judge J]` labels responses; `curate judge fit SOURCE --label-col COL` learns a judge."""

from __future__ import annotations

import json

import typer

from curation.cli import common

judge_app = typer.Typer(cls=common.DefaultToRun, no_args_is_help=True,
                        help="Label responses full_compliance / full_refusal / partial_refusal (`curate judge "
                             "DATASET`), or fit a judge on labelled responses (`curate judge fit`).")


def _parse_pairs(pairs: list[str], flag: str) -> dict[str, str]:
    from curation.core.errors import InputError

    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"{flag} expects KEY=VALUE, got {pair!r}", f"e.g. {flag} LABEL_1=full_refusal")
        out[key] = value
    return out


@judge_app.command("run")
def judge(
    name: str = typer.Argument(..., help="Workspace dataset (or save_to_disk folder) with a response column."),
    judge_name: str = typer.Option("zero_shot", "--judge", "-j",
                                   help="zero_shot, fitted:NAME, string_match, string_match_2023, classifier or llm."),
    judge_model: str = typer.Option(None, "--judge-model", help="Classifier path (classifier) or chat model (llm)."),
    label_map: list[str] = typer.Option(None, "--label-map", help="Classifier LABEL=judge_label (repeatable)."),
    template: str = typer.Option(None, "--template", help="LLM judge prompt template (file or string)."),
    option: list[str] = typer.Option(None, "--option", help="Other judge option KEY=VALUE (JSON values)."),
    out: common.Out = None,
    engine: common.Engine = "local",
    num_proc: common.NumProc = None,
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """Label each response full_compliance, full_refusal or partial_refusal, with the judge's name and score."""
    from curation.core.engine import engine_options
    from curation.judge.stage import JudgeConfig, run, workspace_options

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
    ws = common.workspace()
    options = workspace_options(judge_name, options, ws.root, s.device)
    ds = ws.load_dataset(name)
    result = run(ds, JudgeConfig(judge=judge_name, judge_args=options), engine=engine_options(engine, num_proc))
    target = common.out_name(out, name)
    ws.save_dataset(result, target)
    counts = {label: 0 for label in ("full_compliance", "full_refusal", "partial_refusal", None)}
    for label in result["judge_label"]:
        counts[label] = counts.get(label, 0) + 1
    ws.log_event("judge", name=name, out=target, judge=judge_name, counts={str(k): v for k, v in counts.items()})
    common.table(f"judge ({judge_name}) → {target}", ["full_compliance", "full_refusal", "partial_refusal",
                                                      "no response"],
                 [(counts["full_compliance"], counts["full_refusal"], counts["partial_refusal"], counts[None])])


@judge_app.command("fit")
def fit(
    source: str = typer.Argument(..., help="Workspace dataset (e.g. pulled Argilla annotations) or a file "
                                           "(jsonl, csv, parquet...) with responses and labels."),
    label_col: str = typer.Option(..., "--label-col", help="Label column, or the Argilla question of a pulled "
                                                           "dataset (majority of submitted answers)."),
    name: str = typer.Option("default", "--name", help="Save as this judge (use with --judge fitted:NAME)."),
    response_col: str = typer.Option("response", "--response-col"),
    encoder: str = typer.Option("all-MiniLM-L6-v2", "--encoder",
                                help="Sentence encoder for opening/rest embeddings; 'none' for structure only."),
    c_reg: float = typer.Option(1.0, "--C", help="Inverse regularisation strength of the logistic regression."),
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """Fit a judge on labelled responses (full_compliance / full_refusal / partial_refusal) and save it."""
    from curation.core.errors import InputError
    from curation.judge.fitted import fit as fit_judge
    from curation.judge.fitted import judge_dir, labels_from_rows

    s = common.settings()
    ws = common.workspace()
    from pathlib import Path

    if Path(source).exists() or not ws.has_dataset(source):
        from curation.ingest.sources import read_source

        _, ds, _ = read_source(source)
    else:
        ds = ws.load_dataset(source)
    rows = ds.to_dict()
    if response_col not in rows:
        raise InputError(f"judge fit: no '{response_col}' column in {source}; columns: {', '.join(rows)}",
                         "pass --response-col with the column holding the responses")
    labels = labels_from_rows(rows, label_col)
    keep = [i for i, (r, lab) in enumerate(zip(rows[response_col], labels, strict=True)) if r and lab]
    model = fit_judge([rows[response_col][i] for i in keep], [labels[i] for i in keep],
                      encoder=None if encoder.lower() == "none" else encoder, C_reg=c_reg, device=s.device)
    model.meta.update({"source": source, "label_col": label_col, "skipped": len(labels) - len(keep)})
    folder = model.save(judge_dir(ws.root, name))
    ws.log_event("judge.fit", source=source, name=name, n=len(keep), counts=model.meta["counts"])
    common.console.print(f"fitted judge '{name}' on {len(keep)} labelled responses ({len(labels) - len(keep)} "
                         f"without a label skipped; train accuracy {model.meta['train_accuracy']:.3f}); saved to "
                         f"{folder}; use it with `curate judge DATASET --judge fitted:{name}`", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(judge_app, name="judge")
