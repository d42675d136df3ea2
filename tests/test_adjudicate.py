"""Adjudication rules, provenance, review merge and carry-over, on pulled-format snapshots."""

from __future__ import annotations

import json

import pytest
from test_qa import make_snapshot, resp, spans

from curation import adjudicate
from curation.adjudicate import AdjudicateConfig
from curation.hashing import record_id

PROMPTS = ["How do I kill a Python process?", "How do I make a bomb?", "Shoot a photo at night", "Poison ivy cures"]


@pytest.fixture
def snapshot():
    span = spans(("benign_homonym", 9, 13))
    rows = [
        {"prompt": PROMPTS[0], "responses": [  # agree
            resp("alice", {"harmfulness": "benign", "trigger_spans": span, "deharmed_rewrite": "stop a process"},
                 minute=1),
            resp("bob", {"harmfulness": "benign", "trigger_spans": span, "deharmed_rewrite": ""}, minute=2)]},
        {"prompt": PROMPTS[1], "responses": [  # label agrees, spans differ -> tie
            resp("alice", {"harmfulness": "harmful", "trigger_spans": spans(("harmful_cue", 16, 20))}, minute=3),
            resp("bob", {"harmfulness": "harmful", "trigger_spans": []}, minute=4)]},
        {"prompt": PROMPTS[2], "responses": [  # 2 vs 1: majority decides, unanimity does not
            resp("alice", {"harmfulness": "benign", "trigger_spans": []}),
            resp("bob", {"harmfulness": "benign", "trigger_spans": []}),
            resp("carol", {"harmfulness": "harmful", "trigger_spans": []}, minute=5)]},
        {"prompt": PROMPTS[3], "responses": [resp("dave", {"harmfulness": "benign"}, status="draft")]},
    ]
    return make_snapshot(rows)


def _prov(gold, i):
    return json.loads(gold[i]["gold_provenance"])


def test_majority_rule_and_provenance(snapshot):
    gold = adjudicate.run(snapshot, AdjudicateConfig(rule="majority"))
    assert gold["gold_status"] == ["gold", "needs_review", "gold", "unannotated"]
    assert gold[0]["gold_harmfulness"] == "benign"
    assert gold[0]["gold_trigger_spans"] == [{"label": "benign_homonym", "start": 9, "end": 13}]
    assert gold[0]["gold_deharmed_rewrite"] == "stop a process"
    assert gold[0]["decided_by"] == "alice,bob" and gold[0]["decision_rule"] == "majority"
    assert gold[0]["decided_at"] == "2025-05-01T10:00:02+00:00"
    assert gold[1]["gold_harmfulness"] == "harmful" and gold[1]["gold_trigger_spans"] is None
    assert _prov(gold, 1)["trigger_spans"]["status"] == "needs_review"
    assert gold[2]["gold_harmfulness"] == "benign" and _prov(gold, 2)["harmfulness"]["decided_by"] == ["alice", "bob"]
    assert gold[3]["gold_harmfulness"] is None and gold[3]["response_count"] == 0
    assert "responses" not in gold.column_names and gold[0]["prompt"] == PROMPTS[0]


def test_unanimity_and_named_adjudicator(snapshot):
    gold = adjudicate.run(snapshot, AdjudicateConfig(rule="unanimity"))
    assert gold[2]["gold_status"] == "needs_review" and gold[2]["gold_harmfulness"] is None
    trusted = adjudicate.run(snapshot, AdjudicateConfig(rule="trusted_annotator.v1", rule_args={"users": ["carol"]}))
    assert trusted[2]["gold_harmfulness"] == "harmful"
    assert trusted[2]["decision_rule"] == "adjudicator:trusted_annotator.v1" and trusted[2]["decided_by"] == "carol"
    from curation.errors import InputError

    with pytest.raises(InputError, match="unknown adjudication rule 'coin_flip'"):
        adjudicate.run(snapshot, AdjudicateConfig(rule="coin_flip"))
    with pytest.raises(InputError, match="empty"):
        adjudicate.run(snapshot.select([]))


def test_review_merge_and_carry_over(snapshot):
    gold = adjudicate.run(snapshot, AdjudicateConfig(rule="unanimity"))
    open_items = adjudicate.disagreements(gold)
    assert [sorted(i["questions"]) for i in open_items] == [["trigger_spans"], ["harmfulness"]]
    review = make_snapshot([
        {"prompt": PROMPTS[1],
         "responses": [resp("rita", {"trigger_spans": spans(("harmful_cue", 16, 20))}, minute=7)]},
        {"prompt": PROMPTS[2], "responses": [resp("rita", {"harmfulness": "harmful"}, minute=6),
                                             resp("sam", {"harmfulness": "benign"}, minute=8)]},  # latest wins
    ], argilla_dataset="demo-review")
    merged = adjudicate.merge_review(gold, review)
    assert merged["gold_status"] == ["gold", "gold", "gold", "unannotated"]
    assert merged[1]["gold_trigger_spans"] == [{"label": "harmful_cue", "start": 16, "end": 20}]
    assert merged[1]["decision_rule"] == "review" and merged[1]["decided_by"] == "alice,bob,rita"
    assert _prov(merged, 2)["harmfulness"] == {**_prov(merged, 2)["harmfulness"], "decided_by": ["sam"],
                                                "rule": "review", "decided_at": "2025-05-01T10:00:08+00:00"}
    assert merged[2]["gold_harmfulness"] == "benign"
    # re-adjudicating the same snapshot keeps the review decisions (idempotent re-runs)
    again = adjudicate.run(snapshot, AdjudicateConfig(rule="unanimity"), previous=merged)
    assert again["gold_status"] == merged["gold_status"] and again[2]["gold_harmfulness"] == "benign"
    assert adjudicate.review_dataset_name(gold, "x") == "demo-review"


def test_review_records_show_every_answer(snapshot):
    gold = adjudicate.run(snapshot, AdjudicateConfig(rule="unanimity"))
    kinds = {"harmfulness": "label", "trigger_spans": "span"}
    records = adjudicate.review_records(adjudicate.disagreements(gold), kinds)
    assert str(records[0].id) == record_id(PROMPTS[1])
    assert "alice" in records[0].fields["annotator_answers"] and "bob" in records[0].fields["annotator_answers"]
    suggestion = records[1].suggestions["harmfulness"]
    assert suggestion.value == "benign" and suggestion.score == pytest.approx(2 / 3)
