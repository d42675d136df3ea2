"""Annotation by language: annotators are assigned languages (`curate users add NAME --languages fr,de`), and
`curate annotate push --per-language` makes one Argilla dataset per language (`NAME-fr`) in one Argilla workspace
per language (`argilla-fr`, so only that language's annotators see it), with the language's guidelines.

Assignments live in the curation workspace (`annotators.json`): Argilla 2.8 users have no metadata.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasets import Dataset

from curation.annotate.schemas import AnnotationSchema, load_schema_model, schema_dirs
from curation.core import columns as C
from curation.core.errors import InputError
from curation.core.languages import normalize_language_code
from curation.core.workspace import Workspace

ASSIGNMENTS_FILE = "annotators.json"
I18N_DIR = "i18n"
_LANG = re.compile(r"^[a-z]{2,3}$")


def parse_languages(text: str | Iterable[str] | None) -> list[str]:
    """'fr, DE' -> ['fr', 'de']; each must be an ISO 639-1/3 code."""
    items = text.split(",") if isinstance(text, str) else list(text or [])
    langs = list(dict.fromkeys(x.strip().lower().replace("_", "-").split("-")[0] for x in items if x.strip()))
    bad = [x for x in langs if not _LANG.match(x)]
    if bad:
        raise InputError(f"invalid language code(s): {', '.join(bad)}", "use ISO codes such as fr,de,es")
    return langs


def language_workspace(workspace_name: str, language: str) -> str:
    """The Argilla workspace of one language's datasets."""
    return f"{workspace_name}-{language}"


def language_dataset(dataset_name: str, language: str) -> str:
    return f"{dataset_name}-{language}"


# assignments -----------------------------------------------------------------------------------------------------
def _assignments_path(ws: Workspace) -> Path:
    return ws.artifact_dir("annotate") / ASSIGNMENTS_FILE


def load_assignments(ws: Workspace) -> dict[str, list[str]]:
    """username -> languages."""
    path = _assignments_path(ws)
    return json.loads(path.read_text()) if path.exists() else {}


def annotators_for(ws: Workspace, language: str) -> list[str]:
    return sorted(user for user, langs in load_assignments(ws).items() if language in langs)


def assign_languages(ws: Workspace, username: str, languages: Sequence[str], client: Any = None,
                     workspace_name: str = "argilla") -> list[str]:
    """Record the user's languages (added to any already assigned) and, with a client, add the user to each
    language's Argilla workspace. Returns the user's languages."""
    assignments = load_assignments(ws)
    langs = sorted({*assignments.get(username, []), *parse_languages(languages)})
    assignments[username] = langs
    ws.write_json(_assignments_path(ws), assignments)
    if client is not None:
        for lang in langs:
            add_to_workspace(client, language_workspace(workspace_name, lang), username)
    return langs


def add_to_workspace(client: Any, workspace_name: str, username: str) -> bool:
    """Add a user to an Argilla workspace (created if missing); False when the user does not exist."""
    from curation.annotate.push import ensure_workspace

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        user = client.users(username=username)
    if user is None:
        return False
    workspace = ensure_workspace(client, workspace_name)
    if username not in {u.username for u in workspace.users}:
        workspace.add_user(user)
    return True


# guidelines ------------------------------------------------------------------------------------------------------
def guidelines_file(schema_name: str, language: str) -> Path | None:
    """`annotation_schemas/i18n/<lang>/<schema>.md`, when it exists."""
    for folder in schema_dirs():
        path = folder / I18N_DIR / language / f"{schema_name}.md"
        if path.is_file():
            return path
    return None


def schema_for_language(schema: str | Path | AnnotationSchema, language: str) -> tuple[AnnotationSchema, bool]:
    """The schema with the language's guidelines (the bool says a translation exists); otherwise the English
    guidelines with a note naming the language."""
    spec = load_schema_model(schema)
    if language == "en":  # the schema files are written in English
        return spec, True
    path = guidelines_file(spec.name, language)
    if path is not None:
        return spec.model_copy(update={"guidelines": path.read_text(encoding="utf-8")}), True
    note = (f"> Prompts in this dataset are in **{language}**. These guidelines are not translated yet: apply them "
            "to the prompt as written.\n\n")
    return spec.model_copy(update={"guidelines": note + spec.guidelines}), False


# push ------------------------------------------------------------------------------------------------------------
@dataclass
class LanguagePush:
    """What one language's push made."""

    language: str
    dataset: str
    workspace: str
    rows: int
    translated_guidelines: bool
    annotators: list[str] = field(default_factory=list)
    dataset_id: str = ""


def split_by_language(ds: Dataset) -> dict[str, Dataset]:
    """Rows per normalized language ('und'/empty -> 'en'), in first-seen order."""

    if C.LANGUAGE not in ds.column_names:
        raise InputError(f"push --per-language: the dataset has no '{C.LANGUAGE}' column",
                         "ingest it with language id (the default) or --lang-col, or push without --per-language")
    groups: dict[str, list[int]] = {}
    for i, lang in enumerate(ds[C.LANGUAGE]):
        groups.setdefault(normalize_language_code(lang), []).append(i)
    return {lang: ds.select(idx) for lang, idx in groups.items()}


def push_per_language(ds: Dataset, schema: str | Path | AnnotationSchema, dataset_name: str, client: Any,
                      ws: Workspace, workspace_name: str = "argilla", min_submitted: int = 1,
                      languages: Sequence[str] | None = None, **push_options: Any) -> list[LanguagePush]:
    """One Argilla dataset per language (`<name>-<lang>` in workspace `<workspace>-<lang>`), with the language's
    guidelines; the language's assigned annotators are added to its workspace. Re-pushing upserts (idempotent)."""
    from curation.annotate.push import push_records

    wanted = set(parse_languages(languages)) if languages else None
    results = []
    for lang, part in split_by_language(ds).items():
        if wanted is not None and lang not in wanted:
            continue
        spec, translated = schema_for_language(schema, lang)
        target_ws = language_workspace(workspace_name, lang)
        name = language_dataset(dataset_name, lang)
        dataset = push_records(part, spec, name, client, workspace_name=target_ws, min_submitted=min_submitted,
                               **push_options)
        added = [user for user in annotators_for(ws, lang) if add_to_workspace(client, target_ws, user)]
        results.append(LanguagePush(lang, name, target_ws, len(part), translated, added, str(dataset.id)))
    if not results:
        raise InputError(f"push --per-language: no rows in the languages {', '.join(sorted(wanted or []))}",
                         "check --languages against the dataset's language column")
    return results
