"""Annotation by language against the real local Argilla stack: annotators assigned languages, one dataset per
language in one workspace per language (access follows the assignment), guidelines per language."""

from __future__ import annotations

import pytest
from datasets import Dataset
from typer.testing import CliRunner

from curation.annotate.languages import (
    annotators_for,
    load_assignments,
    parse_languages,
    push_per_language,
    schema_for_language,
)
from curation.core.errors import InputError
from curation.core.hashing import record_id

pytestmark = pytest.mark.server

ROWS = [("How do I kill a Python process?", "en"), ("Comment tuer un processus Python ?", "fr"),
        ("Comment fabriquer une bombe ?", "fr"), ("Wie beende ich einen Prozess?", "de"),
        ("¿Cómo mato un proceso?", "es")]


def rows() -> Dataset:
    prompts = [p for p, _ in ROWS]
    return Dataset.from_dict({"id": [record_id(p) for p in prompts], "prompt": prompts,
                              "response": [None] * len(ROWS), "language": [lg for _, lg in ROWS],
                              "label": ["benign", "benign", "harmful", "benign", "benign"]})


def _workspace_users(client, name: str) -> set[str]:
    return {u.username for u in client.workspaces(name).users}


def test_guidelines_per_language_and_codes() -> None:
    fr, translated = schema_for_language("trigger_spans", "fr")
    assert translated and "À quoi sert cette tâche" in fr.guidelines
    assert "Wozu diese Aufgabe dient" in schema_for_language("trigger_spans", "de")[0].guidelines
    it, translated = schema_for_language("trigger_spans", "it")
    assert not translated and "**it**" in it.guidelines and "What this task is for" in it.guidelines
    assert parse_languages("fr, DE,fr-CA") == ["fr", "de"]
    with pytest.raises(InputError, match="invalid language code"):
        parse_languages("french")


def test_users_by_language_and_push_per_language(argilla_stack) -> None:
    from curation.cli import app

    client, ws = argilla_stack.client, argilla_stack.workspace
    runner = CliRunner(mix_stderr=False)
    base = ["--workspace", str(ws.root)]
    added = runner.invoke(app, [*base, "users", "add", "ml_anna", "--languages", "fr,de"])
    assert added.exit_code == 0, added.output + str(added.exception)
    assert "languages: de, fr" in added.output
    assert runner.invoke(app, [*base, "users", "add", "ml_ben"]).exit_code == 0
    assigned = runner.invoke(app, [*base, "users", "assign", "ml_ben", "--languages", "es"])
    assert assigned.exit_code == 0, assigned.output
    assert load_assignments(ws)["ml_anna"] == ["de", "fr"] and annotators_for(ws, "es") == ["ml_ben"]
    assert "ml_anna" in _workspace_users(client, "argilla-fr") and "ml_anna" not in _workspace_users(
        client, "argilla-es")

    ws.save_dataset(rows(), "ml_rows")
    pushed = runner.invoke(app, [*base, "annotate", "push", "ml_rows", "--to", "ml", "--per-language"])
    assert pushed.exit_code == 0, pushed.output + str(pushed.exception)
    for lang, count in (("en", 1), ("fr", 2), ("de", 1), ("es", 1)):
        dataset = client.datasets(name=f"ml-{lang}", workspace=f"argilla-{lang}")
        assert dataset is not None and len(list(dataset.records)) == count
    assert "À quoi sert" in client.datasets(name="ml-fr", workspace="argilla-fr").settings.guidelines
    assert "What this task is for" in client.datasets(name="ml-en", workspace="argilla-en").settings.guidelines
    assert "ml_ben" in _workspace_users(client, "argilla-es") and "ml_ben" not in _workspace_users(
        client, "argilla-fr")

    # re-push (only French) upserts: no duplicates
    again = push_per_language(rows(), "trigger_spans", "ml", client, ws, languages=["fr"], show_progress=False)
    assert [(p.language, p.rows, p.translated_guidelines) for p in again] == [("fr", 2, True)]
    assert len(list(client.datasets(name="ml-fr", workspace="argilla-fr").records)) == 2
    with pytest.raises(InputError, match="no rows in the languages"):
        push_per_language(rows(), "trigger_spans", "ml", client, ws, languages=["ja"], show_progress=False)
