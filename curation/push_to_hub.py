"""Publish a version to the Hugging Face Hub: stage the exact repository tree (dataset card, parquet shards per
config and split, manifest) locally, then upload it as ONE commit and tag it. The token is never written or
printed; any failure before the commit leaves the remote repository untouched."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError, ServiceError
from .version import MANIFEST, data_file, load_manifest, versions_dir
from .workspace import Workspace, atomic_dir

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
    import pyarrow.parquet as pq

    found: set[str] = set()
    for rel in manifest["files"]:
        table = pq.read_table(folder / rel)
        if "language" in table.column_names:
            found |= {str(x) for x in table.column("language").to_pylist() if x}
    return sorted(lang for lang in found if lang.isalpha() and 2 <= len(lang) <= 3) or ["en"]


def _fmt(x: Any) -> str:
    return "-" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)


def dataset_card(manifest: dict[str, Any], repo_id: str, languages: list[str]) -> str:
    """README.md: YAML metadata (license, languages, tasks, configs/data_files, size) and the card body."""
    lineage = manifest.get("lineage", {})
    total = sum(n for splits in manifest["rows"].values() for n in splits.values())
    meta = {
        "license": lineage.get("license") or "cc-by-4.0",
        "language": languages,
        "task_categories": sorted({t for c in manifest["rows"] for t in TASKS.get(c, ["text-classification"])}),
        "tags": ["refusal", "over-refusal", "safety", "alignment"],
        "size_categories": [size_category(total)],
        "pretty_name": repo_id.split("/")[-1],
        "configs": [{"config_name": c, "data_files": [{"split": s, "path": data_file(c, s)} for s in splits]}
                    for c, splits in manifest["rows"].items()],
    }
    lines = ["---", yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).strip(), "---", "",
             f"# {repo_id.split('/')[-1]}", "",
             lineage.get("description") or "Data that teaches language models to refuse what is harmful and to "
             "answer what only looks harmful, curated with human annotation.", "",
             f"Version **{manifest['tag']}** (content fingerprint `{manifest['fingerprint']}`).", "",
             "## Configs", "", "| config | contents | " + " | ".join(_splits(manifest)) + " |",
             "|---|---|" + "---|" * len(_splits(manifest))]
    for config, splits in manifest["rows"].items():
        about = ABOUT.get(config) or (f"the `morbench` rows in language `{config.removeprefix('morbench_')}` only"
                                      if config.startswith("morbench_") else "")
        lines.append(f"| `{config}` | {about} | "
                     + " | ".join(str(splits.get(s, 0)) for s in _splits(manifest)) + " |")
    lines += ["", "```python", "from datasets import load_dataset", "",
              f'ds = load_dataset("{repo_id}", "{next(iter(manifest["rows"]))}")', "```", "",
              "## How it was built", "",
              "Prompts were ingested, scored for refusal-trigger spans and for closeness to a model's safety decision "
              "boundary, then labelled by people in Argilla with the heuristics' proposals shown as suggestions. "
              "Gold values come from an adjudication rule (majority, unanimity or a named adjudicator); "
              "disagreements were settled in a separate review pass. Every gold value records who decided it, when "
              "and how. Splits are seeded and stratified by label, language and source, and near-duplicates "
              "(MiniLM cosine above a threshold) never cross splits.", "", "## Lineage", ""]
    for name, src in (lineage.get("sources") or {}).items():
        snap = src.get("annotation_snapshot") or {}
        extra = f"; annotations from Argilla dataset `{snap.get('dataset')}` pulled {snap.get('pulled_at')} " \
                f"({snap.get('responses')} responses)" if snap else ""
        rules = f"; decision rules: {', '.join(src['decision_rules'])}" if src.get("decision_rules") else ""
        lines.append(f"- `{name}`: {src.get('rows')} rows, fingerprint `{src.get('fingerprint')}`{extra}{rules}")
    code = lineage.get("code_version") or {}
    lines += [f"- code: refusal-curation {code.get('package', '?')}"
              + (f" (commit `{code['git_commit'][:12]}`)" if code.get("git_commit") else ""),
              f"- build `{lineage.get('build')}` at {lineage.get('built_at')}; full lineage in `{MANIFEST}`.", "",
              *language_section(manifest), "## Annotator agreement", ""]
    agreement = [(n, s["agreement"]) for n, s in (lineage.get("sources") or {}).items() if s.get("agreement")]
    if not agreement:
        lines.append("No agreement report was recorded for these sources (`curate qa NAME` makes one).")
    for name, summary in agreement:
        lines.append(f"- `{name}`: {summary.get('records')} records, {summary.get('responses')} responses, "
                     f"{summary.get('annotators')} annotators")
        for question, figures in summary.items():
            if isinstance(figures, dict):
                lines.append(f"  - {question}: " + ", ".join(f"{k} {_fmt(v)}" for k, v in figures.items()))
    lines += ["", "## Limitations", "",
              "- Labels reflect a small pool of annotators and one adjudication rule; borderline prompts are, by "
              "construction, the ones people disagree on.",
              "- Refusals in `sft` / `dpo` come from a few templates; helpful answers come from reviewed model "
              "responses and may contain errors.",
              "- Boundary scores are specific to the model they were measured on and do not transfer as-is.",
              "- Some prompts are harmful by design. Use the data for safety research and training only.", "",
              "## Citation", "", "This dataset implements ideas from:", "", CITATIONS, ""]
    return "\n".join(lines)


_CALIBRATION_WORDS = {"language": "per language (its own judged refusals)", "shared": "shared (all languages)",
                      "none": "uncalibrated"}


def language_section(manifest: dict[str, Any]) -> list[str]:
    """Card lines: rows per language and split (from the `morbench_<lang>` configs) and annotator agreement per
    language (recorded by the morbench build), side by side."""
    per_lang = {c.removeprefix("morbench_"): splits for c, splits in manifest["rows"].items()
                if c.startswith("morbench_")}
    if not per_lang:
        return []
    splits = list(dict.fromkeys(s for v in per_lang.values() for s in v))
    agreement: dict[str, dict[str, Any]] = {}
    calibration: dict[str, str] = {}
    for src in (manifest.get("lineage", {}).get("sources") or {}).values():
        for lang, summary in (src.get("agreement_by_language") or {}).items():
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


def stage_tree(workspace: Workspace, tag: str, out: Path, repo_id: str) -> Path:
    """Write the exact repository tree of version `tag` to `out` (replacing it atomically)."""
    manifest = load_manifest(workspace, tag)
    folder = versions_dir(workspace) / tag
    with atomic_dir(Path(out)) as tmp:
        for rel in [*manifest["files"], MANIFEST]:
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / rel, tmp / rel)
        (tmp / "README.md").write_text(dataset_card(manifest, repo_id, _languages(folder, manifest)), encoding="utf-8")
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


def push_to_hub(workspace: Workspace, tag: str, repo_id: str, private: bool = False, endpoint: str | None = None,
                token: str | None = None, staging: Path | None = None) -> dict[str, Any]:
    """Stage the tree, check who the token belongs to and that the repo and tag are free to write, then upload
    it as one commit and tag it `v<tag>`. Returns the repo, commit and tag."""
    from huggingface_hub import HfApi

    token = resolve_token(token)
    endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")
    staged = stage_tree(workspace, tag, staging or workspace.artifact_dir("publish", tag) / "tree", repo_id)
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
    hub_tag = f"v{tag}"
    fingerprint = load_manifest(workspace, tag)["fingerprint"]
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        refs = api.list_repo_refs(repo_id, repo_type="dataset")
    except Exception as err:  # noqa: BLE001
        raise _service_error(err, endpoint, f"create dataset repo {repo_id}") from None
    if any(t.name == hub_tag for t in refs.tags):
        raise InputError(f"{repo_id} already has tag {hub_tag}", "published versions are immutable; create a new "
                         "version with `curate version create`")
    try:
        commit = api.upload_folder(folder_path=str(staged), repo_id=repo_id, repo_type="dataset",
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
            "files": sorted(str(p.relative_to(staged)) for p in staged.rglob("*") if p.is_file())}
