"""`curate demo`: the whole pipeline on the bundled sample, declared as data: a list of `Step`s, each calling one
stage over the workspace datasets it names (`reads` are loaded and passed in, what it returns is saved as `writes`).

Each step reads and writes named workspace datasets, prints one summary line, and is safe to re-run: datasets are
replaced atomically, Argilla records are upserted by id, answered prompts are not re-generated, and the simulated
annotation (accounts `sim-annotator-*`, marked "simulated") only answers what it has not answered and is skipped
as soon as a person has submitted a response.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from curation.annotate.responses import PERSON, SIMULATED_PREFIX, annotator_kind
from curation.core import columns as C
from curation.core.hashing import sha
from curation.core.workspace import Workspace

SIM_USERS = (f"{SIMULATED_PREFIX}1", f"{SIMULATED_PREFIX}2")
HUMAN_USER = "annotator"
SIM_SECRET = "demo_annotators"
SAMPLE = "data/sample/prompts.jsonl"


class DemoConfig(BaseModel):
    """Options of `curate demo` (defaults keep the run under 10 minutes on 2 CPU cores)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field("smollm2", description="Local chat model answering the prompts and the rewrites.")
    max_new_tokens: int = Field(256, ge=1, description="Long enough for complete answers (shorter ones are cut).")
    batch_size: int = Field(16, ge=1, description="Prompts per generation batch (fewer, wider steps on CPU).")
    name: str = Field("demo", description="Prefix of the workspace datasets.")
    triggers_dataset: str = "demo-triggers"
    deharm_dataset: str = "demo-deharm"
    deharm_pairs: int = Field(4, ge=1, description="(prompt, trigger) pairs rewritten by the de-harm step.")
    simulate: bool = Field(True, description="Simulate two annotators when no person has annotated.")
    person_share: float = Field(0.3, ge=0.0, le=1.0,
                                description="Share of the records (the most uncertain) left unanswered by the "
                                            "simulated annotators: the queue of the person ('annotator').")
    port: int | None = Field(None, description="Argilla port of the local stack (default: last used, else 6900).")
    harm_model: str = Field("contextual", pattern="^(contextual|plain)$",
                            description="contextual: train the contextual harm model (once per workspace, cached); "
                                        "plain: the MiniLM probe on the built-in contrast set.")
    harm_max_rows: int | None = Field(None, ge=8, description="Train the contextual model on a sample (tests).")
    repo_id: str = "local/refusal-curation-demo"
    device: str = "cpu"


@dataclass
class DemoContext:
    """What the steps share: the workspace, the config, the Argilla client once started, and step outputs."""

    ws: Workspace
    cfg: DemoConfig
    client: Any = None
    api_url: str = ""
    results: dict[str, Any] = field(default_factory=dict)

    def named(self, template: str) -> str:
        """A step's dataset name: `{name}`, `{triggers}` and `{deharm}` filled from the config."""
        return template.format(name=self.cfg.name, triggers=self.cfg.triggers_dataset,
                               deharm=self.cfg.deharm_dataset)

    def save(self, ds: Any, name: str) -> None:
        self.ws.save_dataset(ds, name)

    def load(self, name: str) -> Any:
        return self.ws.load_dataset(name)


# a step returns its summary line, or (summary, datasets for `writes`, in order; None: not written this time)
StepResult = str | tuple[str, tuple[Any, ...]]


@dataclass(frozen=True)
class Step:
    """One demo step as data: the function calling one stage, the workspace datasets it reads (loaded and passed
    in order) and the ones it writes (the datasets it returns, saved in order). Names are `DemoContext.named`
    templates."""

    name: str
    call: Callable[..., StepResult]
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()


# pipeline steps: each calls one stage over the datasets its Step reads ----------------------------------------------
def sample_step(ctx: DemoContext) -> str:
    """Copy the bundled sample into the workspace (the demo works on that copy)."""
    target = ctx.ws.dir("sample") / "prompts.jsonl"
    source = resources.files("curation").joinpath(SAMPLE)
    text = source.read_text(encoding="utf-8")
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
    ctx.results["sample"] = target
    return f"{len(text.splitlines())} sample prompts in {target}"


def ingest_step(ctx: DemoContext) -> StepResult:
    from curation.ingest.stage import IngestConfig, IngestReport, run

    report = IngestReport()
    kept = run([str(ctx.results["sample"])], IngestConfig(), ctx.ws.root, report=report)
    return (f"{report.kept} prompts kept, {report.exact_duplicates} exact + {report.near_duplicates} near "
            "duplicates", (kept, report.duplicates))


def probe_step(ctx: DemoContext) -> str:
    """The harm probe: reuse the workspace's; else train the contextual harm model (`curate probe fit`'s default, cached
    by content hash in the workspace) and its cross-lingual transfer probe + blend for the non-English prompts; with
    `harm_model: plain`, the plain MiniLM probe on the built-in contrast set (seconds, not minutes)."""
    from curation.models.probe import Probe, default_probe_dir

    folder = default_probe_dir(ctx.ws.root)
    if (folder / "probe.json").exists():
        probe = Probe.load(folder)
        contextual = probe.meta.get("preset") == "contextual"
        if contextual or ctx.cfg.harm_model == "plain" or not probe.meta.get("fallback"):
            kind = "contextual harm model" if contextual else "plain probe"
            return f"{kind} reused ({folder}, hold-out AUROC {probe.meta.get('holdout_auroc') or 0:.3f})"
    if ctx.cfg.harm_model == "contextual":
        return _contextual_probe(ctx)
    return _plain_probe(ctx, folder)


def _contextual_probe(ctx: DemoContext) -> str:
    """Train (or reuse from the workspace cache) the contextual harm model and its transfer probe + blend."""
    from curation.core.config import load_settings
    from curation.models.harm.model import TrainConfig, fit_contextual_probe
    from curation.models.probe_fitting import fit_contextual_transfer

    start = time.monotonic()
    cfg = TrainConfig(max_rows=ctx.cfg.harm_max_rows)
    probe, _, cached = fit_contextual_probe(ctx.ws.root, cfg=cfg, holdout=ctx.cfg.harm_max_rows is None)
    fit_contextual_transfer([], [], ctx.ws.root, "default", load_settings(workspace=ctx.ws.root))
    how = "cached" if cached else "trained"
    auroc = probe.meta.get("holdout_auroc")
    return (f"contextual harm model ({how}, {time.monotonic() - start:.0f} s with the cross-lingual blend) as the "
            f"probe" + (f", dev AUROC {auroc:.3f}" if auroc is not None else ""))


def _plain_probe(ctx: DemoContext, folder: Any) -> str:
    """The plain MiniLM probe on the built-in contrast set (`harm_model: plain`)."""
    from curation.active_learning.stage import contrast_prompts
    from curation.models.embeddings import get_encoder, workspace_cache
    from curation.models.probe import fit_probe

    harmful, harmless = contrast_prompts()
    encoder = get_encoder()
    with workspace_cache(ctx.ws.root, encoder.model_id) as cache:
        probe = fit_probe(harmful, harmless, encoder, cache)
    probe.meta["sources"] = {"harmful": "curation/data/contrast/harmful.jsonl",
                             "harmless": "curation/data/contrast/harmless.jsonl"}
    probe.save(folder)
    return f"plain probe fit on the built-in contrast set ({len(harmful)}+{len(harmless)}), hold-out AUROC " \
           f"{probe.meta['holdout_auroc']:.3f} (harm_model: plain)"


def generate_step(ctx: DemoContext, ds: Any) -> StepResult:
    """Answer the prompts; answers of an earlier run (same model) are reused."""
    from curation.generate.stage import GenerateConfig, carry_over, pending_rows, run

    name = ctx.named("{name}.answered")
    previous = ctx.load(name) if ctx.ws.has_dataset(name) else None
    cfg = GenerateConfig(model=ctx.cfg.model, max_new_tokens=ctx.cfg.max_new_tokens, batch_size=ctx.cfg.batch_size,
                         device=ctx.cfg.device)
    todo = len(pending_rows(carry_over(ds, previous) if previous is not None else ds, cfg.model))
    out = run(ds, cfg, previous=previous)
    return f"{todo} prompts answered by {ctx.cfg.model} ({len(out) - todo} reused)", (out,)


def judge_step(ctx: DemoContext, ds: Any) -> StepResult:
    from curation.judge.stage import JudgeConfig, run

    out = run(ds, JudgeConfig())
    labels = out[C.JUDGE_LABEL][:]
    return ", ".join(f"{lab} {labels.count(lab)}" for lab in C.JUDGE_LABELS), (out,)


def triggers_step(ctx: DemoContext, ds: Any) -> StepResult:
    import warnings

    from curation.active_learning.stage import load_weights
    from curation.triggers.stage import TriggersConfig, run

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = run(ds, TriggersConfig(weights=load_weights(ctx.ws.root)), ctx.ws.root, show_progress=False)
    spans = [s for row in out[C.TRIGGER_SPANS] for s in row]
    homonyms = sum(s["label"] == "benign_homonym" for s in spans)
    return f"{len(spans)} trigger spans ({homonyms} benign homonyms)", (out,)


def boundary_step(ctx: DemoContext, ds: Any) -> StepResult:
    from curation.boundary.stage import BoundaryConfig, ScoreReport, run

    report = ScoreReport()
    out = run(ds, BoundaryConfig(scorer="probe"), ctx.ws.root, report=report)
    auroc = f", label AUROC {report.label_auroc:.3f}" if report.label_auroc is not None else ""
    return (f"{report.in_band} of {report.rows} prompts near the boundary (calibration {report.calibration}{auroc})",
            (out,))


def server_step(ctx: DemoContext) -> str:
    from curation.annotate.client import KEY_ENV, URL_ENV, connect

    if os.environ.get(URL_ENV) and os.environ.get(KEY_ENV):
        ctx.client = connect(workspace=ctx.ws)
        ctx.api_url = ctx.client.api_url
        return f"using the Argilla server at {ctx.api_url} ({URL_ENV})"
    from curation.server import LocalStack, StackConfig

    status = LocalStack(ctx.ws, StackConfig(port=ctx.cfg.port)).start()
    ctx.client = connect(workspace=ctx.ws)
    ctx.api_url = status.url
    return f"local Argilla running at {status.url}"


def triggers_datasets(ctx: DemoContext, ds: Any | None = None) -> list[tuple[str, str, str]]:
    """(language, Argilla dataset, Argilla workspace) of the demo's trigger annotation: English prompts in
    `demo-triggers`, each other language in `demo-triggers-<lang>` of workspace `argilla-<lang>` (its guidelines)."""
    from curation.annotate.languages import language_dataset, language_workspace, split_by_language

    ds = ds if ds is not None else ctx.load(ctx.cfg.name)
    langs = list(split_by_language(ds)) if C.LANGUAGE in ds.column_names else ["en"]
    return [(lang, ctx.cfg.triggers_dataset, "argilla") if lang == "en" else
            (lang, language_dataset(ctx.cfg.triggers_dataset, lang), language_workspace("argilla", lang))
            for lang in sorted(langs, key=lambda x: (x != "en", x))]


def push_step(ctx: DemoContext, ds: Any) -> str:
    from curation.annotate.languages import schema_for_language, split_by_language
    from curation.annotate.push import push_records
    from curation.models.embeddings import get_encoder, workspace_cache

    parts = split_by_language(ds) if C.LANGUAGE in ds.column_names else {"en": ds}
    encoder = get_encoder()
    cache = workspace_cache(ctx.ws.root, encoder.model_id)
    pushed = []
    try:
        for lang, name, workspace in triggers_datasets(ctx, ds):
            spec, _ = schema_for_language("trigger_spans", lang)
            push_records(parts[lang], spec, name, ctx.client, workspace_name=workspace, min_submitted=2,
                         encoder=encoder, vector_cache=cache, show_progress=False)
            pushed.append(f"{name} {len(parts[lang])}")
    finally:
        cache.close()
    return f"{len(ds)} records upserted ({', '.join(pushed)}; trigger_spans schema with each language's " \
           "guidelines, 2 answers each)"


def annotate_step(ctx: DemoContext, ds: Any) -> str:
    targets = triggers_datasets(ctx, ds)
    ensure_annotators(ctx, [lang for lang, _, _ in targets if lang != "en"])
    mine = person_records(ds, ctx.cfg.person_share)
    done, pending = [], 0
    for _, name, workspace in targets:
        done.append(simulate_or_skip(ctx, name, lambda user: {k: v for k, v in trigger_answers(ds, user).items()
                                                              if k not in mine}, workspace))
        pending += person_pending(ctx.client, name, workspace_name=workspace)
    ctx.results["person_pending"] = pending
    return f"{'; '.join(done)}; {pending} record(s) waiting for '{HUMAN_USER}'"


def pull_triggers(ctx: DemoContext) -> Any:
    """One snapshot of every language's trigger dataset (saved by the steps as `demo-triggers.annotations`)."""
    from datasets import concatenate_datasets

    from curation.annotate.pull import pull_records

    parts = [pull_records(ctx.client, name, workspace) for _, name, workspace in triggers_datasets(ctx)]
    return concatenate_datasets([p.cast(parts[0].features) for p in parts]) if len(parts) > 1 else parts[0]


def qa_step(ctx: DemoContext, pipeline: Any) -> StepResult:
    from curation.qa import stage as qa

    snapshot = pull_triggers(ctx)
    report = qa.run(snapshot, name=ctx.cfg.triggers_dataset, pipeline=qa.pipeline_spans(pipeline)).as_dict()
    ctx.ws.write_json(ctx.ws.artifact_dir("qa", ctx.cfg.triggers_dataset) / "report.json", report)
    kappa = (report["labels"].get("harmfulness") or {}).get("mean_cohen_kappa")
    f1 = (report["spans"].get(C.TRIGGER_SPANS) or {}).get("mean_overlap_f1")
    return f"{report['responses']} responses; harmfulness Cohen kappa {_f(kappa)}, span overlap F1 {_f(f1)}", \
        (snapshot,)


def adjudicated(ctx: DemoContext, name: str, snapshot: Any) -> Any:
    """Gold of a snapshot (reviewers' decisions of the previous gold kept); the rule's config is recorded."""
    from curation.adjudicate import stage as adjudicate

    previous = ctx.load(f"{name}.gold") if ctx.ws.has_dataset(f"{name}.gold") else None
    gold = adjudicate.run(snapshot, name=name, previous=previous)
    ctx.ws.write_json(ctx.ws.artifact_dir("adjudication", name) / "config.json",
                      adjudicate.AdjudicateConfig().model_dump())
    return gold


def adjudicate_step(ctx: DemoContext) -> StepResult:
    from curation.adjudicate import stage as adjudicate
    from curation.annotate.users import reviewers

    snapshot = pull_triggers(ctx)
    gold = adjudicated(ctx, ctx.cfg.triggers_dataset, snapshot)
    counts = adjudicate.counts(gold)
    review = ""
    if counts.get(adjudicate.NEEDS_REVIEW):
        name, n = adjudicate.push_review(gold, ctx.client, ctx.cfg.triggers_dataset,
                                         reviewers=sorted(reviewers(ctx.ws)))
        review = f"; {n} disagreement(s) sent to '{name}' (workspace {adjudicate.REVIEW_WORKSPACE})"
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + review, (snapshot, gold)


def deharm_step(ctx: DemoContext, gold: Any, pipeline: Any) -> StepResult:
    """Benign rewrites of the confirmed benign homonyms (the pipeline's spans while none is confirmed)."""
    from curation.deharm import stage as deharm
    from curation.models.probe import default_probe_dir

    cfg = deharm.DeharmConfig(model=ctx.cfg.model, max_pairs=ctx.cfg.deharm_pairs, templates_per_pair=2,
                              rewrite_max_new_tokens=ctx.cfg.max_new_tokens,
                              answer_max_new_tokens=ctx.cfg.max_new_tokens, batch_size=ctx.cfg.batch_size,
                              device=ctx.cfg.device, probe_path=str(default_probe_dir(ctx.ws.root)),
                              keep_failed_answers=True)  # flagged for review; builds skip them unless rewritten
    source = gold if deharm.benign_triggers(gold, cfg.span_labels) else pipeline
    report = deharm.DeharmReport()
    ds = deharm.run(source, cfg, report)
    return f"{report.rows} rewrites of {report.pairs} pairs ({len(report.triggers)} benign-capable triggers; " \
           f"model rewrites dropped: {report.model_dropped} copies, {report.probe_dropped} harmful) -> " \
           f"'{ctx.cfg.deharm_dataset}'", (ds,)


def deharm_review_step(ctx: DemoContext, ds: Any) -> StepResult:
    """The rewrites to Argilla (`deharm_review`), simulated answers, and their adjudication."""
    from curation.annotate.pull import pull_records
    from curation.deharm import stage as deharm
    from curation.models.embeddings import get_encoder, workspace_cache

    if not len(ds):
        return "no rewrites to review", (None, None)
    encoder = get_encoder()
    with workspace_cache(ctx.ws.root, encoder.model_id) as cache:
        deharm.push(ds, ctx.client, ctx.cfg.deharm_dataset, encoder=encoder, vector_cache=cache, show_progress=False)
    simulated = simulate_or_skip(ctx, ctx.cfg.deharm_dataset, lambda user: deharm_answers(ds, user))
    snapshot = pull_records(ctx.client, ctx.cfg.deharm_dataset)
    gold = adjudicated(ctx, ctx.cfg.deharm_dataset, snapshot)
    return f"{len(ds)} rewrites in '{ctx.cfg.deharm_dataset}'; {simulated}", (snapshot, gold)


def build_config(ctx: DemoContext) -> dict[str, Any]:
    """The demo's build.yaml as a dict: every config from the adjudicated demo annotations."""
    gold = f"{ctx.cfg.triggers_dataset}.gold"
    deharm_gold = [f"{ctx.cfg.deharm_dataset}.gold"] if ctx.ws.has_dataset(f"{ctx.cfg.deharm_dataset}.gold") else []
    return {
        "version_name": "refusal-curation-demo", "seed": 0, "splits": {"train": 0.7, "test": 0.3},
        "description": "Demo build of the refusal-curation sample (simulated annotations unless a person labelled).",
        "configs": {
            "triggers": {"from": gold, "skip_unresolved": True},
            "boundary": {"from": gold, "label_question": "should_refuse", "skip_unresolved": True},
            "sft": {"from": gold, "deharm_from": deharm_gold, "skip_unresolved": True},
            "dpo": {"from": gold, "deharm_from": deharm_gold, "skip_unresolved": True},
            "morbench": {"from": gold, "label_question": "should_refuse", "skip_unresolved": True},
        },
    }


def build_step(ctx: DemoContext) -> str:
    from curation.build import stage as build

    cfg, sub = build.load_build_config(build_config(ctx))
    result = build.run(cfg, sub, ctx.ws, allow_simulated=True)  # the card says the labels are simulated
    ctx.results["build"] = result
    path = build.save_build(result, ctx.ws)
    counts = ", ".join(f"{c} {sum(s.values())}" for c, s in result.row_counts().items())
    return f"{counts} rows -> {path}"


def version_step(ctx: DemoContext) -> str:
    import hashlib
    import json

    from curation.build.context import content_fingerprint
    from curation.publish.versions import create_version, list_versions

    result = ctx.results["build"]
    hashes = {f"{c}/{s}": content_fingerprint(ds) for c, dd in result.configs.items() for s, ds in dd.items()
              if len(ds)}
    fingerprint = hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()[:32]
    same = [m["tag"] for m in list_versions(ctx.ws) if m["fingerprint"] == fingerprint]
    if same:
        ctx.results["version"] = same[-1]
        return f"content unchanged: version {same[-1]} (fingerprint {fingerprint[:12]})"
    manifest = create_version(ctx.ws, result)
    ctx.results["version"] = manifest["tag"]
    return f"version {manifest['tag']} (fingerprint {manifest['fingerprint'][:12]})"


def publish_step(ctx: DemoContext) -> str:
    from curation.publish.push_to_hub import stage_tree

    tag = ctx.results["version"]
    folder = stage_tree(ctx.ws, tag, ctx.ws.artifact_dir("publish", tag) / "tree", ctx.cfg.repo_id,
                        allow_simulated=True)
    files = [p for p in folder.rglob("*") if p.is_file()]
    ctx.results["publish"] = folder
    return f"push-to-hub --dry-run: {len(files)} files for {ctx.cfg.repo_id} in {folder}"


STEPS: list[Step] = [
    Step("sample", sample_step),
    Step("ingest", ingest_step, writes=("{name}.ingested", "{name}.duplicates")),
    Step("probe", probe_step),
    Step("generate", generate_step, reads=("{name}.ingested",), writes=("{name}.answered",)),
    Step("judge", judge_step, reads=("{name}.answered",), writes=("{name}.judged",)),
    Step("triggers", triggers_step, reads=("{name}.judged",), writes=("{name}.triggers",)),
    Step("boundary", boundary_step, reads=("{name}.triggers",), writes=("{name}",)),
    Step("server", server_step),
    Step("push", push_step, reads=("{name}",)),
    Step("annotate", annotate_step, reads=("{name}",)),
    Step("qa", qa_step, reads=("{name}",), writes=("{triggers}.annotations",)),
    Step("adjudicate", adjudicate_step, writes=("{triggers}.annotations", "{triggers}.gold")),
    Step("deharm", deharm_step, reads=("{triggers}.gold", "{name}"), writes=("{name}.deharm",)),
    Step("deharm-review", deharm_review_step, reads=("{name}.deharm",),
         writes=("{deharm}.annotations", "{deharm}.gold")),
    Step("build", build_step),
    Step("version", version_step),
    Step("publish", publish_step),
]


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


# simulated annotation -----------------------------------------------------------------------------------------------
def _disagrees(record_id: str, user: str, rate: float = 0.12) -> bool:
    """Deterministic small disagreement: the second annotator differs on about `rate` of the records."""
    return user != SIM_USERS[0] and _draw(record_id, user, "disagree") < rate


def _draw(record_id: str, user: str, what: str) -> float:
    """A deterministic uniform draw in [0, 1) per (record, annotator, decision)."""
    return int(sha(f"{user}:{record_id}:{what}", 8), 16) / 0x100000000


# What a simulated annotator notices: its own short list of cue words (stems, several languages), NOT the
# pipeline's suggestions, so agreement with the suggestions measures the suggestions. Each annotator misses some
# cues, sometimes takes one more word, and errs more on prompts near the decision boundary.
SIM_CUES = re.compile(
    r"\b(kill\w*|shoot\w*|exploit\w*|crack|blow up|bomb\w*|rifle|murder\w*|attack|chemicals|hack\w*|steal|"
    r"lethal dose|execute|drugs?|strangle|poison\w*|gun\w*|track|phishing|overdose|virus|smash|butcher|"
    r"synthesi[sz]e|methamphetamine|ransomware|stalk|extremist|violent|harass\w*|launder|fake ID|"
    r"tuer|bombe|meurtre|Bombe|matar|hackeo)\b", re.IGNORECASE)
SIM_ERRORS = {SIM_USERS[0]: 0.04, SIM_USERS[1]: 0.08}  # base error rate; + 0.12 x uncertainty of the prompt
SIM_MISS = {SIM_USERS[0]: 0.10, SIM_USERS[1]: 0.15}  # chance to overlook a cue


def _uncertainty(row: dict[str, Any]) -> float:
    p = row.get(C.P_REFUSE)
    return 0.5 if p is None else 1.0 - abs(2.0 * float(p) - 1.0)


def _sim_spans(text: str, label: str, rid: str, user: str) -> list[dict[str, Any]]:
    spans = []
    for i, match in enumerate(SIM_CUES.finditer(text)):
        if _draw(rid, user, f"miss{i}") < SIM_MISS.get(user, 0.2):
            continue
        start, end = match.span()
        if _draw(rid, user, f"wide{i}") < 0.08:  # one more word
            more = re.match(r"\s+\w+", text[end:])
            end += more.end() if more else 0
        if spans and start < spans[-1]["end"]:  # the schema's spans may not overlap
            continue
        spans.append({"label": "harmful_cue" if label == "harmful" else "benign_homonym", "start": start, "end": end})
    return spans


def trigger_answers(ds: Any, user: str) -> dict[str, dict[str, Any]]:
    """record id -> simulated trigger_spans answers: the sample's label with annotator- and uncertainty-dependent
    errors, should_refuse consistent with it, and spans from the annotator's own cue list (never the suggestions)."""
    out = {}
    for row in ds:
        label = row.get(C.LABEL)
        if label not in ("harmful", "benign"):
            continue
        rid = row[C.ID]
        harmfulness = label
        if _draw(rid, user, "error") < SIM_ERRORS.get(user, 0.1) + 0.12 * _uncertainty(row):
            harmfulness = "ambiguous" if _draw(rid, user, "how") < 0.6 else \
                ("benign" if label == "harmful" else "harmful")
        refuse = {"harmful": "yes", "benign": "no"}.get(harmfulness) or \
            ("yes" if _draw(rid, user, "refuse") < 0.5 else "no")
        values: dict[str, Any] = {"harmfulness": harmfulness, "should_refuse": refuse}
        spans = _sim_spans(row.get(C.PROMPT) or "", harmfulness, rid, user)
        if spans:
            values[C.TRIGGER_SPANS] = spans
        out[rid] = values
    return out


def accepting_answers(ds: Any) -> dict[str, dict[str, Any]]:
    """record id -> answers of an annotator who takes the gold labels and the pipeline's cue spans (relabelled by
    the gold label): a fixture for tests that need known span precision, never used by the demo's simulation."""
    out = {}
    for row in ds:
        label = row.get(C.LABEL)
        if label not in ("harmful", "benign"):
            continue
        spans = [{"label": ("harmful_cue" if label == "harmful" else "benign_homonym")
                  if s["label"] in ("harmful_cue", "benign_homonym") else s["label"],
                  "start": int(s["start"]), "end": int(s["end"])} for s in row.get(C.TRIGGER_SPANS) or []]
        values: dict[str, Any] = {"harmfulness": label, "should_refuse": "yes" if label == "harmful" else "no"}
        if spans:
            values[C.TRIGGER_SPANS] = spans
        out[row[C.ID]] = values
    return out


def person_records(ds: Any, share: float) -> set[str]:
    """Ids of the records left to the person: the `share` most uncertain ones (p_refuse nearest 0.5)."""
    k = round(share * len(ds))
    if k <= 0:
        return set()
    ranked = sorted(ds.select_columns([c for c in (C.ID, C.P_REFUSE) if c in ds.column_names]),
                    key=lambda r: (-_uncertainty(r), r[C.ID]))
    return {r[C.ID] for r in ranked[:k]}


def person_pending(client: Any, dataset_name: str, user: str = HUMAN_USER, workspace_name: str = "argilla") -> int:
    """Records in the person's queue: not completed and not yet answered by them."""
    from curation.annotate.pull import get_dataset, iter_raw_records, usernames

    dataset = get_dataset(client, dataset_name, workspace_name)
    names = usernames(client)
    return sum(1 for record in iter_raw_records(client, dataset.id, include=("responses",))
               if record.get("status") != "completed"
               and not any(names.get(r["user_id"]) == user for r in record.get("responses") or []))


def deharm_answers(ds: Any, user: str) -> dict[str, dict[str, Any]]:
    """record id -> deharm_review answers: rewrites keep the trigger (checked), answers judged by string match."""
    from curation.deharm.stage import has_trigger
    from curation.judge.stage import judge_responses

    verdicts = judge_responses(list(ds["answer"])) if len(ds) else []
    out = {}
    for row, verdict in zip(ds, verdicts, strict=True):
        helpful = verdict["label"] == "full_compliance" and len((row["answer"] or "").split()) >= 5
        risky = row.get("p_harmful") is not None and row["p_harmful"] >= 0.5
        benign = "no" if risky or _disagrees(row[C.ID], user, 0.1) else "yes"
        out[row[C.ID]] = {"rewrite_benign": benign, "keeps_trigger": "yes" if has_trigger(row["rewrite"],
                                                                                         row["trigger"]) else "no",
                          "answer_helpful": "yes" if helpful else "no",
                          "notes": "simulated annotation (curate demo)"}
    return out


def human_responses(client: Any, dataset_name: str, workspace_name: str = "argilla") -> int:
    """Submitted responses on the dataset from accounts that are not simulated."""
    from curation.annotate.pull import get_dataset, iter_raw_records, usernames

    dataset = get_dataset(client, dataset_name, workspace_name)
    names = usernames(client)
    return sum(1 for record in iter_raw_records(client, dataset.id, include=("responses",))
               for r in record.get("responses") or []
               if r.get("status") == "submitted" and annotator_kind(names.get(r["user_id"])) == PERSON)


def ensure_annotators(ctx: DemoContext, languages: list[str] | None = None) -> dict[str, str]:
    """The simulated accounts (and one account for a person), created once and assigned the demo's other
    languages (their workspaces); passwords kept in workspace secrets."""

    from curation.annotate.languages import assign_languages
    from curation.annotate.users import add_user, user_exists

    stored = ctx.ws.read_secret(SIM_SECRET) or {}
    for username in (*SIM_USERS, HUMAN_USER):
        if not user_exists(ctx.client, username):
            _, password = add_user(ctx.client, username, "annotator", "argilla")
            stored[username] = password
        if languages:
            assign_languages(ctx.ws, username, languages, ctx.client, "argilla")
    ctx.ws.write_secret(SIM_SECRET, stored)
    return stored


def simulate_or_skip(ctx: DemoContext, dataset_name: str, answers_for: Callable[[str], dict[str, dict[str, Any]]],
                     workspace_name: str = "argilla") -> str:
    """Simulated answers from both sim annotators, unless disabled or a person has already annotated."""
    from curation.annotate.pull import get_dataset
    from curation.annotate.records import answer_pending_as
    from curation.annotate.users import api_key

    if not ctx.cfg.simulate:
        return "simulation disabled: annotate in the Argilla UI"
    people = human_responses(ctx.client, dataset_name, workspace_name)
    if people:
        return f"skipped on '{dataset_name}': a person submitted {people} response(s) (no simulated answers added)"
    ensure_annotators(ctx)
    dataset = get_dataset(ctx.client, dataset_name, workspace_name)
    counts = []
    for user in SIM_USERS:
        counts.append(answer_pending_as(ctx.client.api_url, api_key(ctx.client, user), dataset.id, answers_for(user)))
    ctx.ws.log_event("demo.simulated_annotation", dataset=dataset_name, users=list(SIM_USERS), responses=counts,
                     note="simulated")
    return f"SIMULATED: {' + '.join(map(str, counts))} responses by {', '.join(SIM_USERS)} on '{dataset_name}'"


# running ----------------------------------------------------------------------------------------------------------
def run_step(ctx: DemoContext, step: Step) -> str:
    """Load the step's inputs, call it, save what it returns under its `writes` names; returns its summary."""
    result = step.call(ctx, *[ctx.load(ctx.named(name)) for name in step.reads])
    summary, outputs = (result, ()) if isinstance(result, str) else result
    for name, ds in zip(step.writes, outputs, strict=True):
        if ds is not None:
            ctx.save(ds, ctx.named(name))
    return summary


def run(ws: Workspace, cfg: DemoConfig | None = None, steps: list[Step] | None = None,
        say: Callable[[str], None] = print) -> DemoContext:
    """Run every step in order, printing `name: summary (seconds)`; returns the context with results."""
    ctx = DemoContext(ws, cfg or DemoConfig())
    started = time.perf_counter()
    for step in steps or STEPS:
        t0 = time.perf_counter()
        summary = run_step(ctx, step)
        say(f"[{step.name}] {summary} ({time.perf_counter() - t0:.1f}s)")
        ws.log_event(f"demo.{step.name}", summary=summary)
    ctx.results["seconds"] = time.perf_counter() - started
    return ctx


def final_panel(ctx: DemoContext) -> Any:
    """A rich panel: where the outputs are, the Argilla URL and an annotator login, and how to stop the server."""
    from rich.panel import Panel

    logins = ctx.ws.read_secret(SIM_SECRET) or {}
    lines = [
        f"[b]Workspace[/b]       {ctx.ws.root}",
        f"[b]Datasets[/b]        {ctx.ws.path('datasets')} (`curate ls`)",
        f"[b]QA report[/b]       {ctx.ws.path('artifacts', 'qa', ctx.cfg.triggers_dataset, 'report.json')}",
        f"[b]Build[/b]           {ctx.ws.path('builds')}",
        f"[b]Version[/b]         {ctx.results.get('version')} in {ctx.ws.path('versions')}",
        f"[b]Hub tree (dry)[/b]  {ctx.results.get('publish')}",
        f"[b]Argilla[/b]         {ctx.api_url}",
        f"[b]Annotator login[/b] {HUMAN_USER} / {logins.get(HUMAN_USER, '(see `curate users add`)')}",
        "[b]Owner login[/b]     `curate server credentials --show-secret`",
        f"[b]Review[/b]          disagreements are in '{ctx.cfg.triggers_dataset}-review' (workspace 'reviewers'): "
        "`curate users add NAME --role reviewer`, then `curate adjudicate pull "
        f"{ctx.cfg.triggers_dataset}`",
        f"[b]Your queue[/b]      {ctx.results.get('person_pending', '?')} record(s) of "
        f"'{ctx.cfg.triggers_dataset}' (and its -fr/-de/-es datasets) wait for '{HUMAN_USER}' (the most "
        "uncertain; sort by 'uncertainty')",
        f"[b]Simulated[/b]       answers by {', '.join(SIM_USERS)} are labelled simulated; label yourself as "
        f"'{HUMAN_USER}' and re-run `make demo` (your answers are kept; simulation is then skipped)",
        f"[b]Next[/b]            `curate loop {ctx.cfg.triggers_dataset} --pipeline {ctx.cfg.name}`, "
        f"`curate eval smollm2 --on {ctx.results.get('version')}`",
        "[b]Stop the server[/b] `curate server stop`",
        f"[b]Wall time[/b]       {ctx.results.get('seconds', 0):.0f} s",
    ]
    return Panel("\n".join(lines), title="refusal-curation demo", expand=False)
