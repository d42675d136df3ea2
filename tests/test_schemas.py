"""annotation_schemas/*.yaml -> rg.Settings: the fixed names other stages rely on, and clear errors."""

from __future__ import annotations

import pytest

from curation.annotate.schemas import available_schemas, load_schema, load_schema_model
from curation.core.errors import ConfigError, InputError


def _names(items) -> list[str]:
    return [item.name for item in items]


def test_all_three_schemas_load_and_validate():
    assert {"trigger_spans", "boundary_review", "deharm_review"} <= set(available_schemas())
    for name in ("trigger_spans", "boundary_review", "deharm_review"):
        settings = load_schema(name)
        settings.validate()
        assert len(settings.guidelines) > 400  # written for someone new to the task


def test_trigger_spans_contract():
    import argilla as rg

    settings = load_schema("trigger_spans")
    assert _names(settings.fields) == ["prompt", "response"]
    assert settings.fields["response"].required is False
    questions = {q.name: q for q in settings.questions}
    assert list(questions) == ["trigger_spans", "harmfulness", "should_refuse", "deharmed_rewrite"]
    spans = questions["trigger_spans"]
    assert isinstance(spans, rg.SpanQuestion) and spans.field == "prompt" and spans.allow_overlapping is False
    assert spans.labels == ["harmful_cue", "benign_homonym", "target", "context"]
    assert isinstance(questions["harmfulness"], rg.LabelQuestion)
    assert questions["harmfulness"].labels == ["harmful", "benign", "ambiguous"]
    assert questions["should_refuse"].labels == ["yes", "no"]
    assert isinstance(questions["deharmed_rewrite"], rg.TextQuestion) and not questions["deharmed_rewrite"].required
    metadata = {m.name: type(m).__name__ for m in settings.metadata}
    assert metadata == {"source": "TermsMetadataProperty", "language": "TermsMetadataProperty",
                        "category": "TermsMetadataProperty", "boundary_score": "FloatMetadataProperty",
                        "p_refuse": "FloatMetadataProperty", "judge_label": "TermsMetadataProperty",
                        "uncertainty": "FloatMetadataProperty"}
    (vector,) = settings.vectors
    assert (vector.name, vector.dimensions) == ("prompt_vector", 384)
    assert load_schema("trigger_spans", min_submitted=3).distribution.min_submitted == 3


def test_boundary_and_deharm_contracts():
    boundary = load_schema("boundary_review")
    assert _names(boundary.fields) == ["prompt", "response"]
    assert _names(boundary.questions) == ["decision", "rationale"]
    assert boundary.questions["decision"].labels == ["answer", "refuse"]
    assert boundary.questions["rationale"].required is False
    assert {"source", "language", "category", "boundary_score", "p_refuse", "judge_label"} == set(
        _names(boundary.metadata))
    deharm = load_schema("deharm_review")
    assert _names(deharm.fields) == ["highlighted", "sense_gloss", "rewrite", "answer"]
    assert _names(deharm.questions) == ["rewrite_benign", "keeps_trigger", "answer_helpful", "rewrite_edited",
                                        "answer_edited", "notes"]
    assert all(deharm.questions[q].required is False for q in ("rewrite_edited", "answer_edited"))
    assert all(deharm.questions[q].labels == ["yes", "no"] for q in ("rewrite_benign", "keeps_trigger",
                                                                    "answer_helpful"))
    assert deharm.questions["notes"].required is False


def test_loading_settings_leaves_the_sdk_default_client_alone():
    import argilla as rg

    before = rg.Argilla._default_client
    load_schema("deharm_review")
    assert rg.Argilla._default_client is before


def _write(tmp_path, text: str):
    path = tmp_path / "custom.yaml"
    path.write_text(text)
    return path


BASE = """
name: custom
guidelines: Read each prompt carefully and answer the one question below.
fields:
  - name: prompt
questions:
  - name: verdict
    type: label
    labels: [a, b]
"""


def test_custom_schema_by_path(tmp_path):
    settings = load_schema(_write(tmp_path, BASE))
    assert _names(settings.questions) == ["verdict"]


def test_unknown_key_names_the_key_and_the_file(tmp_path):
    path = _write(tmp_path, BASE.replace("    labels: [a, b]", "    lables: [a, b]"))
    with pytest.raises(ConfigError) as err:
        load_schema(path)
    message = str(err.value)
    assert "lables" in message and str(path) in message and "\n" not in message


def test_bad_values_and_references_are_reported(tmp_path):
    with pytest.raises(ConfigError, match=r"questions\.0.*type|discriminator|tag"):
        load_schema(_write(tmp_path, BASE.replace("type: label", "type: lable")))
    with pytest.raises(ConfigError, match="unknown field 'text'"):
        load_schema(_write(tmp_path, BASE + "  - name: spans\n    type: span\n    field: text\n    labels: [x]\n"))
    with pytest.raises(ConfigError, match="duplicate questions names: verdict"):
        load_schema(_write(tmp_path, BASE + "  - name: verdict\n    type: text\n"))
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_schema(_write(tmp_path, "name: [unclosed"))


def test_unknown_schema_lists_the_known_ones():
    with pytest.raises(InputError, match="known schemas: .*trigger_spans"):
        load_schema_model("no_such_schema")
