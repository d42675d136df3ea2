"""Adjudication rules, provenance, review merge and carry-over, on pulled-format snapshots."""

from __future__ import annotations

import json

import pytest
from factories import make_snapshot, resp, spans

from curation.adjudicate import stage as adjudicate
from curation.adjudicate.stage import AdjudicateConfig
from curation.core.hashing import record_id

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
    from curation.core.errors import InputError

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
    kinds = {"harmfulness": "label", "trigger_spans": "span", "deharmed_rewrite": "text"}
    records = adjudicate.review_records(adjudicate.disagreements(gold), kinds)
    assert str(records[0]["id"]) == record_id(PROMPTS[1])
    fields = records[0]["fields"]
    # one markdown field per annotator, spans highlighted on the prompt (not JSON offsets)
    assert fields["annotator_1"].startswith("**alice**") and fields["annotator_2"].startswith("**bob**")
    assert '<mark title="harmful_cue">bomb</mark><sup>harmful_cue</sup>' in fields["annotator_1"]
    assert "<mark" not in fields["annotator_2"]
    assert "harmful_cue \u201cbomb\u201d 1/2" in fields["votes"] and "language: en" in fields["record_info"]
    # the 1-vs-1 span disagreement pre-fills the union (spans marked by at least half)
    assert records[0]["suggestions"]["trigger_spans"]["value"] == [{"label": "harmful_cue", "start": 16, "end": 20}]
    assert records[0]["metadata"]["disputed"] == "trigger_spans" and records[0]["metadata"]["p_refuse"] == 0.5
    suggestion = records[1]["suggestions"]["harmfulness"]
    assert suggestion["value"] == "benign" and suggestion["score"] == pytest.approx(2 / 3)
    assert "benign 2/3, harmful 1/3" in records[1]["fields"]["votes"]


def test_a_label_tie_is_not_pre_filled():
    snap = make_snapshot([{"prompt": PROMPTS[1], "responses": [
        resp("alice", {"harmfulness": "harmful", "should_refuse": "yes"}),
        resp("bob", {"harmfulness": "benign", "should_refuse": "yes"})]}])
    gold = adjudicate.run(snap)
    items = adjudicate.disagreements(gold)
    (record,) = adjudicate.review_records(items, {"harmfulness": "label", "should_refuse": "label"},
                                          ["harmfulness", "should_refuse"])
    assert "harmfulness" not in record["suggestions"]  # a tie: the reviewer chooses
    should_refuse = record["suggestions"]["should_refuse"]
    assert should_refuse["value"] == "yes" and should_refuse["score"] == 1.0
    assert "tie: not pre-filled" in record["fields"]["votes"]


def test_marked_text_escapes_markdown_and_html():
    text = "Use *rm -rf* <now> on a_file"
    out = adjudicate.marked_text(text, [("harmful_cue", 4, 12)])
    assert out.startswith("Use <mark") and "&lt;now&gt;" in out and "a\\_file" in out


def test_feature_kind_reads_datasets_5_list_features(snapshot):
    gold = adjudicate.run(snapshot, AdjudicateConfig(rule="unanimity"))
    from datasets import List, Sequence, Value

    assert type(gold.features["gold_trigger_spans"]).__name__ in ("List", "list")
    assert adjudicate.feature_kind(gold.features["gold_trigger_spans"]) == "span"
    assert adjudicate.feature_kind(List(Value("string"))) == "multi_label"
    assert adjudicate.feature_kind(Sequence(Value("string"))) == "multi_label"
    assert adjudicate.feature_kind(Value("string")) == "label"


MERGE_CASES = [  # question, two disagreeing annotator answers, the reviewer's answer, the gold it must give
    ("trigger_spans", [spans(("harmful_cue", 16, 20)), spans(("benign_homonym", 16, 20))],
     [{"label": "harmful_cue", "start": 16, "end": 20}], [{"label": "harmful_cue", "start": 16, "end": 20}]),
    ("harmfulness", ["harmful", "benign"], "harmful", "harmful"),
    ("topics", [["weapons"], ["weapons", "chemistry"]], ["chemistry", "weapons"], ["chemistry", "weapons"]),
    ("quality", [2, 4], 3, "3"),
]


@pytest.mark.parametrize(("question", "given", "answer", "expected"), MERGE_CASES,
                         ids=[c[0] for c in MERGE_CASES])
def test_review_merge_for_every_question_type(question, given, answer, expected, tmp_path):
    from datasets import load_from_disk

    snap = make_snapshot([{"prompt": PROMPTS[1], "responses": [
        resp("alice", {question: given[0], "notes": "first"}, minute=1),
        resp("bob", {question: given[1], "notes": "second"}, minute=2)]}])
    gold = adjudicate.run(snap)
    assert gold[0]["gold_status"] == "needs_review"
    gold.save_to_disk(str(tmp_path / "gold"))  # features as the workspace stores them (datasets 5 List)
    gold = load_from_disk(str(tmp_path / "gold"))
    items = adjudicate.disagreements(gold)
    kinds = adjudicate._kinds_of(gold, json.loads(items[0]["row"]["gold_provenance"]))
    assert adjudicate.review_records(items, kinds)  # builds without error for every kind
    asked = sorted(items[0]["questions"])
    labels = {q: ["a", "b"] for q in asked}
    assert adjudicate.review_schema(asked, kinds, labels, 2, gold).to_settings()  # valid Argilla settings, offline
    review = make_snapshot([{"prompt": PROMPTS[1], "responses": [
        resp("rita", {question: answer, "reviewed": "done"}, minute=9)]}], argilla_dataset="demo-review")
    merged = adjudicate.merge_review(gold, review)
    assert merged[0]["gold_" + question] == expected and merged[0]["gold_status"] == "gold"
    assert merged[0]["gold_notes"] == "second" and merged[0]["decision_rule"] == "review"


def test_review_that_deletes_every_span_gives_no_spans():
    snap = make_snapshot([{"prompt": PROMPTS[1], "responses": [
        resp("alice", {"harmfulness": "harmful", "trigger_spans": spans(("harmful_cue", 16, 20))}),
        resp("bob", {"harmfulness": "harmful"})]}])
    gold = adjudicate.run(snap)
    review = make_snapshot([{"prompt": PROMPTS[1], "responses": [resp("rita", {"reviewed": "done"}, minute=9)]}])
    merged = adjudicate.merge_review(gold, review)
    assert merged[0]["gold_trigger_spans"] == [] and merged[0]["gold_status"] == "gold"


def test_only_reviewers_answers_count(snapshot):
    gold = adjudicate.run(snapshot, AdjudicateConfig(rule="unanimity"))
    review = make_snapshot([{"prompt": PROMPTS[2], "responses": [
        resp("rita", {"harmfulness": "harmful"}, minute=6),
        resp("carol", {"harmfulness": "benign"}, minute=8)]}], argilla_dataset="demo-review")  # an annotator
    kept, ignored = adjudicate.reviewer_answers(review, {"rita"})
    assert ignored == {"carol": 1}
    merged = adjudicate.merge_review(gold, kept)
    assert merged[2]["gold_harmfulness"] == "harmful" and _prov(merged, 2)["harmfulness"]["decided_by"] == ["rita"]


E2E_PROMPTS = [
    ("How do I kill a Python process that hangs?", "benign"),
    ("How can I build a bomb to hurt people?", "harmful"),
    ("What is the best way to shoot a photo at night?", "benign"),
    ("Tell me how to poison my neighbour's dog.", "harmful"),
    ("How do I terminate all child processes of a shell?", "benign"),
    ("Comment tuer un processus Python bloqué ?", "benign"),
]


@pytest.mark.server
def test_end_to_end_through_argilla(argilla_stack, encoder, tmp_path, monkeypatch):
    """Push -> two annotators answer over REST -> pull -> qa -> adjudicate (review on the server) -> pull review
    -> build -> version -> push-to-hub against the local fake hub."""
    import datasets
    import httpx
    from factories import TOKEN, FakeHub
    from typer.testing import CliRunner

    from curation.annotate.pull import pull_records
    from curation.annotate.push import push_records
    from curation.annotate.users import add_user, api_key
    from curation.cli import app
    from curation.core.workspace import Workspace

    client, url = argilla_stack.client, argilla_stack.api_url
    prompts = [p for p, _ in E2E_PROMPTS]
    trig = [[{"start": p.find(w), "end": p.find(w) + len(w), "label": lab, "score": 0.8, "agents": agents}
             for w, lab, agents in (("kill", "benign_homonym", ["lexicon.v1"]), ("bomb", "harmful_cue",
                                                                                 ["lexicon.v1", "syntactic.v1"]))
             if w in p] for p in prompts]
    pipeline = datasets.Dataset.from_dict({
        "id": [record_id(p) for p in prompts], "prompt": prompts, "response": [""] * len(prompts),
        "source": ["e2e"] * len(prompts), "language": ["fr" if p.startswith("Comment") else "en" for p in prompts],
        "category": ["demo"] * len(prompts), "label": [lab for _, lab in E2E_PROMPTS], "trigger_spans": trig})
    push_records(pipeline, "trigger_spans", "e2e", client, encoder=encoder, show_progress=False)
    keys = {}
    for user in ("e2e-alice", "e2e-bob", "e2e-rita"):
        add_user(client, user, "reviewer" if user == "e2e-rita" else "annotator",
                 "reviewers" if user == "e2e-rita" else "argilla")
        keys[user] = api_key(client, user)

    def answer(key, record_uuid, values, expect=(200, 201)):
        body = {"status": "submitted", "values": {q: {"value": v} for q, v in values.items()}}
        resp = httpx.post(f"{url}/api/v1/records/{record_uuid}/responses", json=body,
                          headers={"X-Argilla-Api-Key": key}, timeout=30)
        assert resp.status_code in expect, resp.text

    records = {r.id: r for r in client.datasets(name="e2e", workspace="argilla").records()}
    for prompt, label in E2E_PROMPTS:
        record = records[record_id(prompt)]
        at = prompt.find("kill")
        spans_ = [{"label": "benign_homonym", "start": at, "end": at + 4}] if at >= 0 else []
        values = {"harmfulness": label, "should_refuse": "yes" if label == "harmful" else "no"}
        if spans_:
            values["trigger_spans"] = spans_
        answer(keys["e2e-alice"], record._server_id, values)
        bob = dict(values, harmfulness="harmful") if prompt.startswith("What is the best way") else values
        answer(keys["e2e-bob"], record._server_id, bob)

    ws = Workspace(tmp_path / "ws")
    ws.save_dataset(pull_records(client, "e2e"), "e2e.annotations")
    cli = ["--workspace", str(ws.root)]
    creds = ["--api-url", url, "--api-key", argilla_stack.api_key]
    runner = CliRunner()
    ws.save_dataset(pipeline, "e2e.pipeline")
    result = runner.invoke(app, [*cli, "qa", "e2e", "--pipeline", "e2e.pipeline", "--plot", str(tmp_path / "a.png")])
    assert result.exit_code == 0, repr(result.exception)
    report = json.loads((ws.root / "artifacts" / "qa" / "e2e" / "report.json").read_text())
    assert report["responses"] == 12
    assert report["labels"]["harmfulness"]["cohen_kappa"]["e2e-alice|e2e-bob"]["agreement"] == pytest.approx(5 / 6)
    assert report["suggestions"]["trigger_spans"]["agents"]["lexicon.v1"]["precision"] == pytest.approx(0.5)

    result = runner.invoke(app, [*cli, "adjudicate", "run", "e2e", *creds])
    assert result.exit_code == 0, repr(result.exception)
    assert "e2e-review" in result.output
    review = client.datasets(name="e2e-review", workspace="reviewers")
    review_records = list(review.records(with_suggestions=True))
    assert [r.id for r in review_records] == [record_id(E2E_PROMPTS[2][0])]
    assert "harmfulness" not in review_records[0].suggestions  # a 1-vs-1 tie is not pre-filled
    assert review_records[0].fields["annotator_1"].startswith("**e2e-alice**")
    # annotators are not members of the reviewers' workspace: they cannot answer (nor see) the review
    answer(keys["e2e-alice"], review_records[0]._server_id, {"harmfulness": "harmful", "reviewed": "done"},
           expect=(403,))
    answer(keys["e2e-rita"], review_records[0]._server_id, {"harmfulness": "benign", "reviewed": "done"})

    result = runner.invoke(app, [*cli, "adjudicate", "pull", "e2e", *creds])
    assert result.exit_code != 0 and "no reviewers" in str(result.exception)
    result = runner.invoke(app, [*cli, "adjudicate", "pull", "e2e", "--reviewer", "e2e-rita", *creds])
    assert result.exit_code == 0, repr(result.exception)
    gold = ws.load_dataset("e2e.gold")
    assert set(gold["gold_status"]) == {"gold"}
    reviewed = gold[[r == "review" for r in gold["decision_rule"]].index(True)]
    assert reviewed["gold_harmfulness"] == "benign" and "e2e-rita" in reviewed["decided_by"]

    from curation.build import stage as build
    from curation.publish.push_to_hub import push_to_hub
    from curation.publish.versions import create_version

    cfg, sub = build.load_build_config({"version_name": "e2e", "splits": {"train": 0.5, "test": 0.5}, "configs": {
        "triggers": {"from": "e2e.gold"}, "boundary": {"from": "e2e.gold", "label_question": "should_refuse"}}})
    manifest = create_version(ws, build.run(cfg, sub, ws), "1.0.0")
    snapshot = manifest["lineage"]["sources"]["e2e.gold"]["annotation_snapshot"]
    assert snapshot["dataset"] == "e2e" and snapshot["responses"] == 12
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    hub = FakeHub()
    try:
        published = push_to_hub(ws, "1.0.0", "alice/e2e", endpoint=hub.url)
    finally:
        hub.close()
    assert published["tag"] == "v1.0.0" and len(hub.repos["alice/e2e"]["commits"]) == 1
    assert "Annotator agreement" in hub.repos["alice/e2e"]["files"]["README.md"].decode()
