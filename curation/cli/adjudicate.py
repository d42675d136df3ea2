"""`curate adjudicate run | pull`: gold values from annotations; disagreements go to an Argilla review dataset."""

from __future__ import annotations

from pathlib import Path

import typer

from curation.cli import common

adjudicate_app = typer.Typer(help="Decide gold values from annotations and review disagreements in Argilla.",
                             no_args_is_help=True)


@adjudicate_app.command("run")
def run_command(
    name: str = typer.Argument(..., help="Snapshot name: reads NAME.annotations, writes NAME.gold."),
    rule: str = typer.Option(None, "--rule", help="majority | unanimity | a named adjudicator (trusted_annotator.v1)."),
    trusted: list[str] = typer.Option(None, "--trusted", help="Users for trusted_annotator.v1, most senior first."),
    config: Path = typer.Option(None, "--config", help="YAML with rule, rule_args, questions."),
    review: bool = typer.Option(True, "--review/--no-review", help="Push disagreements to Argilla for review."),
    argilla_workspace: common.ArgillaWorkspace = "argilla",
    review_workspace: str = typer.Option("reviewers", "--review-workspace",
                                         help="Workspace of the review dataset (reviewers only)."),
    api_url: common.ArgillaUrl = None,
    api_key: common.ArgillaKey = None,
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """Apply the rule to every question; save NAME.gold; send what it cannot decide to NAME's review dataset."""
    from curation.adjudicate import stage as adjudicate
    from curation.core.config import load_model, read_yaml

    ws = common.workspace()
    data = read_yaml(config) if config else {}
    if trusted:
        data["rule_args"] = {**(data.get("rule_args") or {}), "users": list(trusted)}
    cfg = load_model(data, adjudicate.AdjudicateConfig, where=str(config) if config else "adjudicate options",
                     overrides={"rule": rule})
    snapshot = ws.load_dataset(common.snapshot_name(ws, name))
    previous = ws.load_dataset(f"{name}.gold") if ws.has_dataset(f"{name}.gold") else None
    gold = adjudicate.run(snapshot, cfg, name=name, previous=previous)
    counts = adjudicate.counts(gold)
    pushed = ""
    if review and counts.get(adjudicate.NEEDS_REVIEW):
        from curation.annotate.users import reviewers

        review_name, n = adjudicate.push_review(gold, common.argilla_client(api_url, api_key), name, review_workspace,
                                                argilla_workspace, sorted(reviewers(ws)))
        pushed = f"; {n} disagreement(s) sent to Argilla dataset '{review_name}' (then `curate adjudicate pull {name}`)"
    ws.save_dataset(gold, f"{name}.gold")
    ws.write_json(ws.artifact_dir("adjudication", name) / "config.json", cfg.model_dump())
    ws.log_event("adjudicate", dataset=name, rule=cfg.rule, **counts)
    common.table(f"{name}.gold ({cfg.rule_label})", ["status", "records"], sorted(counts.items()))
    common.console.print(f"saved {name}.gold{pushed}")


@adjudicate_app.command("pull")
def pull_command(
    name: str = typer.Argument(..., help="Snapshot name whose NAME.gold gets the reviewers' answers."),
    review_workspace: str = typer.Option("reviewers", "--review-workspace", "--argilla-workspace",
                                         help="Workspace of the review dataset."),
    reviewer: list[str] = typer.Option(None, "--reviewer",
                                       help="Accept answers of these users (default: users added with --role "
                                            "reviewer)."),
    api_url: common.ArgillaUrl = None,
    api_key: common.ArgillaKey = None,
    workspace_dir: common.WorkspaceDir = None,
) -> None:
    """Pull the review dataset from Argilla and merge the reviewers' final answers into NAME.gold
    (decision_rule=review); answers from anyone who is not a reviewer are ignored and reported."""
    from curation.adjudicate import stage as adjudicate
    from curation.annotate.pull import pull_records
    from curation.annotate.users import reviewers
    from curation.core.errors import InputError

    ws = common.workspace()
    gold = ws.load_dataset(f"{name}.gold")
    allowed = set(reviewer or []) or reviewers(ws)
    if not allowed:
        raise InputError("no reviewers: review answers are accepted only from reviewers",
                         "add one with `curate users add NAME --role reviewer`, or pass --reviewer NAME")
    review_name = adjudicate.review_dataset_name(gold, name)
    review = pull_records(common.argilla_client(api_url, api_key), review_name, workspace_name=review_workspace)
    accepted, ignored = adjudicate.reviewer_answers(review, allowed)
    if ignored:
        common.console.print("ignored review answers from non-reviewers: " +
                             ", ".join(f"{u} ({n})" for u, n in sorted(ignored.items())), markup=False)
    merged = adjudicate.merge_review(gold, accepted, review_name)
    ws.save_dataset(review, f"{name}.review")
    ws.save_dataset(merged, f"{name}.gold")
    counts = adjudicate.counts(merged)
    ws.log_event("adjudicate.pull", dataset=name, review=review_name, ignored=ignored, **counts)
    common.table(f"{name}.gold after review", ["status", "records"], sorted(counts.items()))


def register(app: typer.Typer) -> None:
    app.add_typer(adjudicate_app, name="adjudicate")
