"""Property-based tests (hypothesis): ingest, trigger spans, annotation schemas and build configs on arbitrary input.

Each property either holds or the code raises one of our CurationErrors with a one-line message, never a crash.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curation.core.errors import CurationError

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# any Unicode except surrogates (not encodable as UTF-8 files): emoji, combining marks, RTL, CJK, controls
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=80)
WORDY = st.lists(st.one_of(st.sampled_from(["kill", "bomb", "shoot", "process", "the", "Python", "how", "do", "I",
                                            "attack", "hack", "😀", "é", "ﷺ", "\u0301", "日本", "\u200b", "\t"]),
                           TEXT.filter(lambda t: len(t) < 8)), max_size=14).map(" ".join)


def _one_line(err: CurationError) -> None:
    assert str(err) and "\n" not in err.message, repr(err)


# ingest ------------------------------------------------------------------------------------------------------------
@SETTINGS
@given(rows=st.lists(st.fixed_dictionaries({"prompt": st.one_of(TEXT, st.none(), st.integers()),
                                            "label": st.sampled_from(["harmful", "benign", "", "unsafe", None])}),
                     min_size=1, max_size=12))
def test_ingest_keeps_every_nonblank_prompt_with_a_stable_id(rows):
    from curation.core import columns as C
    from curation.core.hashing import record_id
    from curation.ingest.stage import IngestConfig, load_prompts

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rows.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        try:
            ds = load_prompts([str(path)], IngestConfig(near_dedupe=False, detect_language=False))
        except CurationError as err:
            _one_line(err)
            return
    assert len(ds) == len(rows)  # load_prompts normalizes; blank and duplicate filtering happen in run()
    for row in ds:
        assert row[C.LABEL] in ("harmful", "benign", "unknown")
        if row[C.PROMPT]:
            assert row[C.ID] == record_id(row[C.PROMPT])


# trigger spans -----------------------------------------------------------------------------------------------------
@st.composite
def _rows_with_candidates(draw):
    from curation.triggers.candidates import Row

    text = draw(TEXT.filter(bool))
    row = Row(text=text, language="en")
    for _ in range(draw(st.integers(0, 12))):
        start = draw(st.integers(0, len(text) - 1))
        end = draw(st.integers(start + 1, len(text)))
        cand = row.candidate(start, end, draw(st.sampled_from(["word", "verb", "object", "entity"])))
        for agent in draw(st.lists(st.sampled_from(["lexicon.v1", "syntactic.v1", "probe_occlusion.v1"]),
                                   max_size=3)):
            cand.vote(agent, draw(st.floats(0, 1)))
    return row


def _check_spans(text: str, spans: list[dict], top_k: int, context_k: int = 0) -> None:
    assert len(spans) <= top_k + context_k
    for span in spans:
        assert 0 <= span["start"] < span["end"] <= len(text)
        assert text[span["start"]:span["end"]] == span["text"]
    ordered = sorted(spans, key=lambda s: s["start"])
    for left, right in zip(ordered, ordered[1:], strict=False):
        assert left["end"] <= right["start"], "spans overlap after merging"
    cues = [s for s in spans if s["label"] in ("harmful_cue", "benign_homonym")]
    assert spans[: len(cues)] == cues, "a target/context span ranks above a cue"
    for group in (cues, spans[len(cues):]):
        assert [s["score"] for s in group] == sorted((s["score"] for s in group), reverse=True)


@SETTINGS
@given(row=_rows_with_candidates(), top_k=st.integers(1, 5))
def test_selected_spans_are_inside_the_text_sorted_by_score_and_disjoint(row, top_k):
    from curation.triggers.combine import select_spans
    from curation.triggers.stage import DEFAULT_WEIGHTS

    spans = select_spans(row, DEFAULT_WEIGHTS, top_k=top_k, min_score=0.0)
    _check_spans(row.text, spans, top_k)
    merged_agents = {a for s in spans for a in s["agents"]}
    assert merged_agents <= {"lexicon.v1", "syntactic.v1", "probe_occlusion.v1"}


@pytest.fixture(scope="module")
def tagger():
    from curation.triggers.stage import TriggersConfig, TriggerTagger

    with TriggerTagger(TriggersConfig(proposers=["lexicon.v1", "syntactic.v1"], max_chars=64)) as tagger:
        yield tagger


@SETTINGS
@given(prompts=st.lists(st.one_of(WORDY, TEXT, st.none()), min_size=1, max_size=6))
def test_the_real_tagger_gives_valid_offsets_for_any_unicode(tagger, prompts):
    spans, flags = tagger.tag(prompts)
    assert len(spans) == len(flags) == len(prompts)
    for prompt, row_spans in zip(prompts, spans, strict=True):
        text = (prompt or "")[:64]
        _check_spans(text, row_spans, tagger.cfg.top_k, tagger.cfg.context_k)


# annotation schemas and build configs -------------------------------------------------------------------------------
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), TEXT.filter(lambda t: len(t) < 12))
KEYS = st.sampled_from(["name", "title", "fields", "questions", "metadata", "vectors", "guidelines", "labels", "type",
                        "min_submitted", "required", "field", "prompt", "span", "label", "nmae", "x"])
YAMLISH = st.recursive(SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(KEYS, inner, max_size=4)), max_leaves=12)


@SETTINGS
@given(data=st.dictionaries(KEYS, YAMLISH, max_size=6))
def test_any_schema_yaml_loads_or_fails_with_one_config_error(data):
    from curation.annotate.schemas import AnnotationSchema, load_schema_model

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "schema.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        try:
            schema = load_schema_model(path)
        except CurationError as err:
            _one_line(err)
            assert err.exit_code == 2 and "schema" in err.message
            return
    assert isinstance(schema, AnnotationSchema) and schema.questions


def test_the_shipped_schema_survives_a_yaml_round_trip():
    from curation.annotate.schemas import load_schema_model, schema_path

    original = load_schema_model("trigger_spans")
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "copy.yaml"
        copy.write_text(schema_path("trigger_spans").read_text(encoding="utf-8"), encoding="utf-8")
        assert load_schema_model(copy) == original


BUILD_KEYS = st.sampled_from(["version_name", "seed", "splits", "stratify_by", "near_dup_threshold", "license",
                              "configs", "triggers", "boundary", "sft", "from", "ratio", "train", "test", "sead"])
BUILD = st.recursive(st.one_of(SCALAR, st.floats(-1, 2)),
                     lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(BUILD_KEYS, inner,
                                                                                          max_size=4)),
                     max_leaves=14)


@SETTINGS
@given(data=st.dictionaries(BUILD_KEYS, BUILD, max_size=7),
       name=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,10}", fullmatch=True),
       train=st.floats(0.05, 0.95))
def test_any_build_config_validates_or_fails_with_one_config_error(data, name, train):
    from curation.build.config import BuildConfig, load_build_config

    for candidate in (data, {"version_name": name, "splits": {"train": train, "test": 1 - train},
                             "configs": {"triggers": {"from": "t.gold"}}, **data}):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "build.yaml"
            path.write_text(yaml.safe_dump(candidate, allow_unicode=True), encoding="utf-8")
            try:
                cfg, sub = load_build_config(path)
            except CurationError as err:
                _one_line(err)
                assert err.exit_code == 2
                continue
        assert isinstance(cfg, BuildConfig) and set(sub) == set(cfg.configs)
        assert abs(sum(cfg.splits.values()) - 1) < 1e-6
