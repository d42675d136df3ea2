"""Publish a version to the Hugging Face Hub: stage the exact repository tree (dataset card, parquet shards per
config and split, manifest) locally, then upload it as ONE commit and tag it. The token is never written or
printed; any failure before the commit leaves the remote repository untouched."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from curation.core.errors import InputError, ServiceError
from curation.core.workspace import Workspace, atomic_dir
from curation.publish.versions import MANIFEST, data_file, load_manifest, versions_dir

TASK_IDS = {"boundary": ["multi-class-classification"], "morbench": ["multi-class-classification"],
            "sft": ["dialogue-modeling"], "dpo": ["dialogue-modeling"]}
TASKS = {"triggers": ["token-classification", "text-classification"], "boundary": ["text-classification"],
         "sft": ["text-generation"], "dpo": ["text-generation"], "morbench": ["text-classification"]}
ABOUT = {
    "triggers": "prompts with gold refusal-trigger spans (character offsets, labels), token-level BIO tags and a "
                "harmful / benign label",
    "boundary": "prompts near a model's safety decision boundary with the gold should_refuse decision, the "
                "boundary score and the model's refusal probability",
    "sft": "chat `messages`: helpful answers to benign (de-harmed) trigger queries and refusals of truly harmful "
           "prompts, mixed into an existing safety SFT set",
    "dpo": "prompt / chosen / rejected: helpful over refusal for benign trigger prompts, refusal over compliance "
           "for harmful ones",
    "morbench": "a multilingual over-refusal evaluation set: prompt, language, category, label "
                "(should_answer / should_refuse), boundary score",
    "dpo_conversational": "the `dpo` rows with prompt / chosen / rejected as chat message lists",
}
CITATIONS = """```bibtex
@inproceedings{xue2026refusaltriggers,
  title     = {Deactivating Refusal Triggers: Understanding and Mitigating Overrefusal in Safety Alignment},
  author    = {Xue, Zhiyu and Qi, Zimo and Liu, Guangliang and Chen, Bocheng and Pedarsani, Ramtin},
  booktitle = {Proceedings of the 6th Workshop on Trustworthy NLP (TrustNLP)},
  year      = {2026},
  note      = {arXiv:2603.11388}
}
@inproceedings{pan2025boundary,
  title     = {Understanding and Mitigating Overrefusal in LLMs from an Unveiling Perspective of Safety Decision
               Boundary},
  author    = {Pan, Licheng and Tong, Yongqi and Zhang, Xin and Zhang, Xiaolu and Zhou, Jun and Chu, Zhixuan},
  booktitle = {Findings of EMNLP},
  year      = {2025},
  note      = {arXiv:2505.18325}
}
```"""


def size_category(rows: int) -> str:
    """The Hub's size_categories bucket for a row count."""
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                        (10_000_000, "1M<n<10M")):
        if rows < limit:
            return name
    return "10M<n<100M"


def _languages(folder: Path, manifest: dict[str, Any]) -> list[str]:
    """ISO codes found in the `language` columns of the version's shards."""
    found = {str(x) for values in _column_values(folder, manifest).values() for x in values.get("language", ())}
    return sorted(lang for lang in found if lang.isalpha() and 2 <= len(lang) <= 3) or ["en"]


VALUE_SET_LIMIT = 12  # a string column with at most this many distinct values has its value set listed


def _column_values(folder: Path, manifest: dict[str, Any]) -> dict[str, dict[str, list[Any]]]:
    """Per config: distinct values of each string/bool column (None for columns with too many to list)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out: dict[str, dict[str, Any]] = {}
    for rel in manifest["files"]:
        config = rel.split("/")[0]
        table = pq.read_table(folder / rel)
        values = out.setdefault(config, {})
        for name in table.column_names:
            kind = table.schema.field(name).type
            if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_boolean(kind)):
                continue
            if name in values and values[name] is None:
                continue
            seen = set(values.get(name) or []) | {x for x in table.column(name).to_pylist() if x is not None}
            values[name] = sorted(seen, key=str) if len(seen) <= VALUE_SET_LIMIT else None
    return out


def _fmt(x: Any) -> str:
    return "-" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)


def _type_name(feature: Any) -> str:
    """A datasets feature (as stored in the manifest) in a short readable form."""
    if isinstance(feature, list):
        return f"list of {_type_name(feature[0])}" if feature else "list"
    if isinstance(feature, dict):
        if feature.get("_type") == "Value":
            return str(feature.get("dtype"))
        if feature.get("_type") in ("Sequence", "List", "LargeList"):
            return f"list of {_type_name(feature.get('feature'))}"
        if "_type" not in feature:
            return "{" + ", ".join(f"{k}: {_type_name(v)}" for k, v in feature.items()) + "}"
    return str(feature.get("_type") if isinstance(feature, dict) else feature)


def default_config(configs: list[str]) -> str:
    """The config `load_dataset(repo)` loads without a name."""
    return next((c for c in ("triggers", "boundary", "sft", "dpo", "morbench") if c in configs), configs[0])


FIELD_ABOUT = {
    "id": "stable content hash of the prompt", "prompt": "the user request", "language": "ISO 639-1 code",
    "category": "harm category from the source, if any", "label": "gold label", "source": "where the prompt came "
    "from", "should_refuse": "gold decision: a model should refuse", "boundary_score": "closeness to the model's "
    "safety decision boundary", "p_refuse": "the model's refusal probability", "messages": "chat turns (role, "
    "content)", "kind": "how the row was made", "chosen": "preferred answer", "rejected": "dispreferred answer",
    "spans": "gold trigger spans (character offsets and label)", "tokens": "spaCy tokens of the prompt",
    "bio_tags": "B-/I-/O tag per token", "truncated": "an answer in the row was cut at the generation limit",
}


def data_fields_section(manifest: dict[str, Any], values: dict[str, dict[str, Any]]) -> list[str]:
    """Card lines: every column of every config with its type and value set; the span label set."""
    lines = ["## Data fields", ""]
    for config, features in (manifest.get("features") or {}).items():
        if config not in manifest["rows"]:
            continue
        lines += [f"### `{config}`", "", "| column | type | values |", "|---|---|---|"]
        for column, feature in features.items():
            listed = (values.get(config) or {}).get(column)
            shown = ", ".join(f"`{v}`" for v in listed) if listed else FIELD_ABOUT.get(column, "")
            lines.append(f"| `{column}` | {_type_name(feature)} | {shown} |")
        if config == "triggers":
            stage = ((manifest.get("lineage") or {}).get("stage_configs") or {}).get("build.triggers") or {}
            labels = stage.get("labels")
            if labels:
                lines += ["", "Span labels: " + ", ".join(f"`{x}`" for x in labels) + "."]
        lines.append("")
    return lines


def annotators_paragraph(lineage: dict[str, Any]) -> tuple[str, str]:
    """(first-paragraph warning or "", "Who annotated" text) from the build's annotation summary."""
    who = lineage.get("annotation") or {}
    people, simulated, rows = who.get("people", 0), who.get("simulated", 0), who.get("simulated_rows", 0)
    imported = who.get("source_label_rows", 0)
    warning = ""
    if simulated:
        warning = (f"**Simulated annotations: {rows} gold row(s) of this version were decided with answers of "
                   f"{simulated} simulated annotator(s), not people.** Treat its labels as a demonstration, not as "
                   "human judgement.")
    parts = [f"{people} person(s)" if people else "no person", f"{simulated} simulated annotator(s)"]
    text = "Gold labels come from " + " and ".join(parts) + " in Argilla"
    text += f"; {imported} row(s) carry labels imported from their source (`source_label`)." if imported else "."
    return warning, text


def dataset_citation(repo_id: str, manifest: dict[str, Any]) -> str:
    """BibTeX entry for this dataset version."""
    year = str(manifest.get("created_at", ""))[:4] or "2026"
    key = re.sub(r"[^A-Za-z0-9]", "", repo_id.split("/")[-1]) + year
    namespace = repo_id.split("/")[0] if "/" in repo_id else repo_id
    return ("```bibtex\n@misc{" + key + ",\n  title     = {" + repo_id.split("/")[-1] + " (version "
            + str(manifest["tag"]) + ")},\n  author    = {" + namespace + "},\n  year      = {" + year
            + "},\n  publisher = {Hugging Face},\n  howpublished = {\\url{https://huggingface.co/datasets/"
            + repo_id + "}},\n  note      = {content fingerprint " + str(manifest["fingerprint"]) + "}\n}\n```")


def card_data(manifest: dict[str, Any], repo_id: str, languages: list[str]) -> Any:
    """The card's metadata as `huggingface_hub.DatasetCardData` (all keys the Hub's dataset card knows)."""
    from huggingface_hub import DatasetCardData

    lineage = manifest.get("lineage", {})
    who = lineage.get("annotation") or {}
    total = sum(n for splits in manifest["rows"].values() for n in splits.values())
    configs = list(manifest["rows"])
    default = default_config(configs)
    creators = sorted({*(["expert-generated"] if who.get("people") else []),
                       *(["machine-generated"] if who.get("simulated") else []),
                       *(["found"] if who.get("source_label_rows") else [])}) or ["expert-generated"]
    tasks = sorted({t for c in configs for t in TASKS.get(c.split("_")[0], ["text-classification"])})
    task_ids = sorted({t for c in configs for t in TASK_IDS.get(c.split("_")[0], [])})
    generated = any(c.split("_")[0] in ("sft", "dpo") for c in configs)
    return DatasetCardData(
        license=lineage.get("license") or "cc-by-4.0", language=languages,
        annotations_creators=creators, language_creators=["found", *(["machine-generated"] if generated else [])],
        multilinguality="multilingual" if len(languages) > 1 else "monolingual",
        size_categories=[size_category(total)], source_datasets=["original"], task_categories=tasks,
        task_ids=task_ids, pretty_name=repo_id.split("/")[-1], tags=["refusal", "over-refusal", "safety", "alignment"],
        configs=[{"config_name": c, **({"default": True} if c == default else {}),
                  "data_files": [{"split": s, "path": data_file(c, s)} for s in splits]}
                 for c, splits in manifest["rows"].items()],
    )


def dataset_card(manifest: dict[str, Any], repo_id: str, languages: list[str],
                 values: dict[str, dict[str, Any]] | None = None) -> str:
    """README.md built from the version's lineage with `huggingface_hub.DatasetCard`: who annotated (people vs
    simulated), agreement only when human, the mix as built, sources, exclusions, data fields, citation."""
    from huggingface_hub import DatasetCard

    lineage = manifest.get("lineage", {})
    values = values or {}
    warning, who = annotators_paragraph(lineage)
    simulated = bool((lineage.get("annotation") or {}).get("simulated"))
    configs = list(manifest["rows"])
    lines = [f"# {repo_id.split('/')[-1]}", ""]
    if warning:
        lines += [warning, ""]
    lines += [lineage.get("description") or "Data that teaches language models to refuse what is harmful and to "
              "answer what only looks harmful, curated with annotation in Argilla.", "",
              f"Version **{manifest['tag']}** (content fingerprint `{manifest['fingerprint']}`). {who}", "",
              "## Configs", "", "| config | contents | " + " | ".join(_splits(manifest)) + " |",
              "|---|---|" + "---|" * len(_splits(manifest))]
    for config, splits in manifest["rows"].items():
        about = ABOUT.get(config) or (f"the `morbench` rows in language `{config.removeprefix('morbench_')}` only"
                                      if config.startswith("morbench_") else "")
        lines.append(f"| `{config}` | {about} | " + " | ".join(str(splits.get(s, 0)) for s in _splits(manifest))
                     + " |")
    default = default_config(configs)
    lines += ["", f"`load_dataset(repo)` loads `{default}`. MORBench configs are evaluation sets: they have only a "
              "`test` split.", "", "```python", "from datasets import load_dataset", "",
              f'ds = load_dataset("{repo_id}", "{default}")', "```", "", "## How it was built", "",
              "Prompts were ingested (language identified among the curated languages; near-duplicates merged "
              "unless they differ in label, which keeps minimal contrast pairs), scored for refusal-trigger spans "
              "and for closeness to a model's safety decision boundary, then labelled in Argilla with the "
              "heuristics' proposals shown as suggestions. Gold values come from an adjudication rule; every gold "
              "value records who decided it, when and how. Splits are seeded and stratified by label, language and "
              "source; near-duplicates and contrast pairs never cross splits. Model answers cut at the generation "
              "limit are never used as training targets.", ""]
    mix = (lineage.get("mix") or {}).get("sft")
    if mix:
        mixed_with = ((lineage.get("stage_configs") or {}).get("build.sft") or {}).get("mix_with")
        curated = sum(n for k, n in mix.items() if k != "mix")
        source = (f"{mix.get('mix', 0)} rows mixed in from `{mixed_with}`" if mixed_with
                  else "no rows mixed in (no `mix_with` set)")
        lines += ["## SFT mix", "", f"`sft` holds {curated} curated rows and {source} ("
                  + ", ".join(f"{k}: {n}" for k, n in mix.items()) + ").", ""]
    exclusions = lineage.get("exclusions") or {}
    if exclusions:
        lines += ["## Left out", ""] + [f"- `{c}`: " + ", ".join(f"{n} {why}" for why, n in sorted(r.items()))
                                        for c, r in exclusions.items()] + [""]
    lines += ["## Sources", ""]
    for name, src in (lineage.get("sources") or {}).items():
        snap = src.get("annotation_snapshot") or {}
        extra = f"; annotations from Argilla dataset `{snap.get('dataset')}` pulled {snap.get('pulled_at')} " \
                f"({snap.get('responses')} responses)" if snap.get("dataset") else ""
        rules = f"; decision rules: {', '.join(src['decision_rules'])}" if src.get("decision_rules") else ""
        licence = f"; licence: {src['license']}" if src.get("license") else ""
        origin = f"; from {', '.join(src['origin'])}" if src.get("origin") else ""
        lines.append(f"- `{name}`: {src.get('rows')} rows, fingerprint `{src.get('fingerprint')}`{origin}{licence}"
                     f"{extra}{rules}")
    code = lineage.get("code_version") or {}
    lines += [f"- code: refusal-curation {code.get('package', '?')}"
              + (f" (commit `{code['git_commit'][:12]}`)" if code.get("git_commit") else ""),
              f"- build `{lineage.get('build')}` at {lineage.get('built_at')}; full lineage in `{MANIFEST}`.", "",
              *language_section(manifest, human=not simulated), "## Annotator agreement", "", who, ""]
    agreement = [(n, s["agreement"]) for n, s in (lineage.get("sources") or {}).items() if s.get("agreement")]
    if simulated:
        lines.append("Agreement figures are left out: the answers include simulated annotators.")
    elif not agreement:
        lines.append("No agreement report was recorded for these sources (`curate qa NAME` makes one).")
    else:
        for name, summary in agreement:
            lines.append(f"- `{name}`: {summary.get('records')} records, {summary.get('responses')} responses, "
                         f"{summary.get('annotators')} annotators")
            for question, figures in summary.items():
                if isinstance(figures, dict):
                    lines.append(f"  - {question}: " + ", ".join(f"{k} {_fmt(v)}" for k, v in figures.items()))
    lines += ["", *data_fields_section(manifest, values), "## Limitations", "",
              "- Labels reflect a small pool of annotators and one adjudication rule; borderline prompts are, by "
              "construction, the ones people disagree on.",
              "- Refusals in `sft` / `dpo` come from a few templates; helpful answers come from reviewed model "
              "responses and may contain errors.",
              "- Boundary scores are specific to the model they were measured on and do not transfer as-is.",
              "- Some prompts are harmful by design. Use the data for safety research and training only.", "",
              "## Citation", "", "Cite this dataset as:", "", dataset_citation(repo_id, manifest), "",
              "It implements ideas from:", "", CITATIONS, ""]
    card = DatasetCard.from_template(card_data(manifest, repo_id, languages), template_str="---\n{{ card_data }}\n"
                                     "---\n\n{{ body }}\n", body="\n".join(lines))
    return str(card)


_CALIBRATION_WORDS = {"language": "per language (its own judged refusals)", "shared": "shared (all languages)",
                      "none": "uncalibrated"}


def check_card(text: str) -> None:
    """Parse the card back with huggingface_hub and check the metadata the Hub expects (offline validation)."""
    from huggingface_hub import DatasetCard

    card = DatasetCard(text, ignore_metadata_errors=False)
    data = card.data.to_dict()
    missing = [k for k in ("license", "language", "annotations_creators", "language_creators", "multilinguality",
                           "size_categories", "source_datasets", "task_categories", "configs") if not data.get(k)]
    if missing:
        raise InputError(f"dataset card lacks metadata {', '.join(missing)}", "this is a bug; please report it")
    if sum(1 for c in data["configs"] if c.get("default")) != 1:
        raise InputError("dataset card must mark exactly one default config", "this is a bug; please report it")


def language_section(manifest: dict[str, Any], human: bool = True) -> list[str]:
    """Card lines: rows per language and split (from the `morbench_<lang>` configs) and annotator agreement per
    language (recorded by the morbench build, shown only when the annotators were people), side by side."""
    per_lang = {c.removeprefix("morbench_"): splits for c, splits in manifest["rows"].items()
                if c.startswith("morbench_")}
    if not per_lang:
        return []
    splits = list(dict.fromkeys(s for v in per_lang.values() for s in v))
    agreement: dict[str, dict[str, Any]] = {}
    calibration: dict[str, str] = {}
    for src in (manifest.get("lineage", {}).get("sources") or {}).values():
        for lang, summary in (src.get("agreement_by_language") or {}).items() if human else ():
            agreement.setdefault(lang, summary)
        for lang, scope in (src.get("calibration_by_language") or {}).items():
            calibration.setdefault(lang, scope)
    questions = sorted({q for s in agreement.values() for q, v in s.items() if isinstance(v, dict)})
    headers = ["language", *splits, "total", "annotators"] + [f"{q} κ / α" for q in questions] + (
        ["p_refuse calibration"] if calibration else [])
    lines = ["## Languages", "", "MORBench rows per language (`load_dataset(..., \"morbench_<lang>\")`) and "
             "annotator agreement per language (mean Cohen's κ / Krippendorff's α; `-` where not recorded):", "",
             "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for lang, counts in sorted(per_lang.items()):
        summary = agreement.get(lang, {})
        figures = [f"{_fmt((summary.get(q) or {}).get('mean_cohen_kappa'))} / "
                   f"{_fmt((summary.get(q) or {}).get('krippendorff_alpha'))}" for q in questions]
        scope = [_CALIBRATION_WORDS.get(calibration.get(lang, ""), calibration.get(lang) or "-")] if calibration else []
        lines.append("| " + " | ".join([f"`{lang}`", *(str(counts.get(s, 0)) for s in splits),
                                        str(sum(counts.values())), _fmt(summary.get("annotators")), *figures,
                                        *scope]) + " |")
    return [*lines, ""]


def _splits(manifest: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(s for splits in manifest["rows"].values() for s in splits))


def check_repo_id(repo_id: str) -> None:
    """A one-line InputError for a repo id the Hub would reject (checked before anything else)."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as err:
        first = str(err).splitlines()[0] if str(err) else "invalid"
        raise InputError(f"'{repo_id}' is not a valid Hub repo id: {first}",
                         "use NAMESPACE/NAME with letters, digits, '-', '_' and '.'") from None


def check_simulated(manifest: dict[str, Any], allow_simulated: bool) -> None:
    """Refuse a version whose gold rests on simulated answers unless `allow_simulated`."""
    who = (manifest.get("lineage") or {}).get("annotation") or {}
    if who.get("simulated_rows") and not allow_simulated:
        raise InputError(f"version {manifest['tag']} rests on simulated annotators ({who['simulated_rows']} gold "
                         "rows)", "publish data labelled by people, or pass --allow-simulated (the card says so)")


def stage_tree(workspace: Workspace, tag: str, out: Path, repo_id: str, allow_simulated: bool = False) -> Path:
    """Write the exact repository tree of version `tag` to `out` (replacing it atomically), its card validated."""
    check_repo_id(repo_id)
    manifest = load_manifest(workspace, tag)
    check_simulated(manifest, allow_simulated)
    folder = versions_dir(workspace) / tag
    card = dataset_card(manifest, repo_id, _languages(folder, manifest), _column_values(folder, manifest))
    check_card(card)
    with atomic_dir(Path(out)) as tmp:
        for rel in [*manifest["files"], MANIFEST]:
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / rel, tmp / rel)
        (tmp / "README.md").write_text(card, encoding="utf-8")
    return Path(out)


def resolve_token(token: str | None = None) -> str:
    """HF_TOKEN, else the cached `hf auth login` token; a one-line error when there is none."""
    from huggingface_hub import get_token

    token = token or os.environ.get("HF_TOKEN") or get_token()
    if not token:
        raise InputError("no Hugging Face token found", "set HF_TOKEN or run `hf auth login` (or use --dry-run)")
    return token


def _service_error(err: Exception, endpoint: str, action: str) -> Exception:
    """Map hub client errors to one clear line (never containing the token)."""
    import httpx
    from huggingface_hub.errors import HfHubHTTPError

    if type(err).__name__ == "OfflineModeIsEnabled":
        return ServiceError(f"cannot {action}: HF_HUB_OFFLINE is set",
                            "unset HF_HUB_OFFLINE to publish, or use --dry-run")
    if isinstance(err, httpx.TransportError | ConnectionError | OSError) and not isinstance(err, HfHubHTTPError):
        return ServiceError(f"cannot reach the Hub at {endpoint} while trying to {action} ({type(err).__name__})",
                            "check the network or --endpoint / HF_ENDPOINT; nothing was published")
    status = getattr(getattr(err, "response", None), "status_code", None)
    if status == 401:
        return InputError(f"the Hub at {endpoint} rejected the token while trying to {action}",
                          "set a valid HF_TOKEN or run `hf auth login`")
    if status == 403:
        return InputError(f"the token may not {action}", "use a token with write access to that namespace")
    if status is None:
        return ServiceError(f"could not {action} on the Hub at {endpoint}: {type(err).__name__}: "
                            f"{str(err).splitlines()[0][:160] if str(err) else ''}", "nothing was published")
    return ServiceError(f"the Hub at {endpoint} answered HTTP {status} while trying to {action}",
                        "retry later; nothing was published")


def _validate_card_online(api: Any, endpoint: str, card: str) -> None:
    """The Hub's own card validation (`/api/validate-yaml` of the endpoint we publish to)."""
    from huggingface_hub.utils import get_session, hf_raise_for_status

    response = get_session().post(f"{endpoint}/api/validate-yaml", json={"repoType": "dataset", "content": card},
                                  headers={"Accept": "text/plain", **api._build_hf_headers()})
    if response.status_code == 400:
        raise InputError(f"the Hub rejected the dataset card: {response.text[:200]}", "this is a bug; please report")
    hf_raise_for_status(response)


def push_to_hub(workspace: Workspace, tag: str, repo_id: str, private: bool = False, endpoint: str | None = None,
                token: str | None = None, staging: Path | None = None,
                allow_simulated: bool = False) -> dict[str, Any]:
    """Validate the repo id, stage and validate the tree, check who the token belongs to, that the tag is free and
    that --private matches an existing repo; only then create the repo (if new) and upload ONE commit that adds
    the tree and deletes files of configs or splits dropped since the previous version; then tag it `v<tag>`."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
    from huggingface_hub.errors import RepositoryNotFoundError

    check_repo_id(repo_id if "/" in repo_id else f"user/{repo_id}")
    token = resolve_token(token)
    check_simulated(load_manifest(workspace, tag), allow_simulated)
    endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")
    api = HfApi(endpoint=endpoint, token=token)
    try:
        me = api.whoami()
    except Exception as err:  # noqa: BLE001
        raise _service_error(err, endpoint, "identify the token's user") from None
    user = me.get("name")
    allowed = {user, *(org.get("name") for org in me.get("orgs") or [])}
    namespace, _, name = repo_id.rpartition("/")
    if not namespace:
        namespace, repo_id = user, f"{user}/{repo_id}"
    if namespace not in allowed:
        raise InputError(f"repo {repo_id} belongs to '{namespace}', and the token's user '{user}' cannot write there",
                         f"push to {user}/{name} or to one of your organizations")
    staged = stage_tree(workspace, tag, staging or workspace.artifact_dir("publish", tag) / "tree", repo_id,
                        allow_simulated)
    hub_tag = f"v{tag}"
    fingerprint = load_manifest(workspace, tag)["fingerprint"]
    new_files = sorted(str(p.relative_to(staged)) for p in staged.rglob("*") if p.is_file())
    try:
        _validate_card_online(api, endpoint, (staged / "README.md").read_text(encoding="utf-8"))
        try:
            info = api.repo_info(repo_id, repo_type="dataset")
            exists = True
        except RepositoryNotFoundError:
            info, exists = None, False
        old_files: list[str] = []
        if exists:
            if private and not getattr(info, "private", False):
                raise InputError(f"{repo_id} exists and is public; --private cannot make it private",
                                 "change its visibility on the Hub, or publish without --private")
            refs = api.list_repo_refs(repo_id, repo_type="dataset")
            if any(t.name == hub_tag for t in refs.tags):
                raise InputError(f"{repo_id} already has tag {hub_tag}", "published versions are immutable; create "
                                 "a new version with `curate version create`")
            old_files = api.list_repo_files(repo_id, repo_type="dataset")
    except InputError:
        raise
    except Exception as err:  # noqa: BLE001
        raise _service_error(err, endpoint, f"check dataset repo {repo_id}") from None
    # files of configs or splits the new version no longer has (the repo's own .gitattributes stays)
    dropped = sorted(f for f in old_files if f not in new_files and f != ".gitattributes")
    operations = [CommitOperationAdd(path_in_repo=f, path_or_fileobj=str(staged / f)) for f in new_files]
    operations += [CommitOperationDelete(path_in_repo=f) for f in dropped]
    try:
        if not exists:  # created only now: every check above passed
            api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        commit = api.create_commit(repo_id=repo_id, repo_type="dataset", operations=operations,
                                   commit_message=f"Publish version {tag}",
                                   commit_description=f"content fingerprint {fingerprint}")
    except Exception as err:  # noqa: BLE001
        raise _service_error(err, endpoint, f"upload to {repo_id}") from None
    try:
        api.create_tag(repo_id, tag=hub_tag, revision=commit.oid, repo_type="dataset",
                       tag_message=f"refusal-curation version {tag}")
    except Exception as err:  # noqa: BLE001
        raise _service_error(err, endpoint, f"tag {repo_id} as {hub_tag} (the commit {commit.oid} is published; "
                                            "re-run to tag it)") from None
    return {"repo_id": repo_id, "commit": commit.oid, "commit_url": commit.commit_url, "tag": hub_tag,
            "files": new_files, "deleted": dropped}
