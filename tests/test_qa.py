"""Agreement figures on pulled-format snapshots, checked against hand-computed values and the libraries."""

from __future__ import annotations

import json

import pytest
from datasets import Dataset
from factories import make_snapshot, resp, spans

from curation.core.hashing import record_id


@pytest.fixture
def label_snapshot() -> Dataset:
    # alice/bob agree on 3 of 4; carol answers 2 records
    answers = [("harmful", "harmful", "harmful"), ("benign", "benign", None), ("benign", "harmful", "benign"),
               ("harmful", "harmful", None)]
    rows = []
    for i, triple in enumerate(answers):
        responses = [resp(u, {"harmfulness": v}) for u, v in zip(("alice", "bob", "carol"), triple, strict=True) if v]
        responses.append(resp("dave", {"harmfulness": "benign"}, status="draft"))  # drafts never count
        rows.append({"prompt": f"prompt number {i}", "responses": responses})
    return make_snapshot(rows)


def test_label_agreement_matches_libraries(label_snapshot):
    import krippendorff
    import numpy as np
    from sklearn.metrics import cohen_kappa_score

    from curation.qa import stage as qa

    report = qa.run(label_snapshot)
    lab = report.labels["harmfulness"]
    assert lab["annotators"] == ["alice", "bob", "carol"]
    ab = lab["cohen_kappa"]["alice|bob"]
    assert ab["n"] == 4 and ab["agreement"] == 0.75
    a = ["harmful", "benign", "benign", "harmful"]
    b = ["harmful", "benign", "harmful", "harmful"]
    assert ab["kappa"] == pytest.approx(cohen_kappa_score(a, b))
    data = np.array([[1, 0, 0, 1], [1, 0, 1, 1], [1, np.nan, 0, np.nan]])
    assert lab["krippendorff_alpha"] == pytest.approx(krippendorff.alpha(data, level_of_measurement="nominal"))
    # Fleiss uses the records with the modal number of raters (2 raters: records 1 and 3)
    assert lab["fleiss_records"] == 2 and lab["fleiss_kappa"] is not None
    assert lab["per_annotator"]["bob"]["answered"] == 4
    assert lab["per_annotator"]["alice"]["agrees_with_others"] == 1.0  # record 2 ties among the others
    assert lab["per_annotator"]["bob"]["agrees_with_others"] == 0.75
    assert sum(map(sum, lab["confusion"])) == 2 * (3 + 1 + 3 + 1)
    assert report.responses == 10 and report.as_dict()["responses"] == 10


def test_span_agreement_exact_overlap_and_suggestions():
    from curation.qa import stage as qa

    prompt = "How do I kill a Python process that hangs?"
    suggestion = {"trigger_spans": {"value": spans(("benign_homonym", 9, 13), ("target", 16, 30)),
                                    "score": [0.9, 0.4], "agent": "lexicon.v1,probe_occlusion.v1"}}
    rows = [{"prompt": prompt, "suggestions": suggestion, "responses": [
        resp("alice", {"trigger_spans": spans(("benign_homonym", 9, 13), ("target", 16, 30))}),
        resp("bob", {"trigger_spans": spans(("benign_homonym", 9, 13), ("target", 16, 31), ("context", 36, 41))}),
    ]}]
    snap = make_snapshot(rows)
    report = qa.run(snap)
    pair = report.spans["trigger_spans"]["pairs"]["alice|bob"]
    assert pair["exact"]["f1"] == pytest.approx(2 * 1 / 5)
    assert pair["overlap"]["f1"] == pytest.approx(2 * 2 / 5)
    assert report.spans["trigger_spans"]["per_label"]["target"] == {"exact": 0.0, "overlap": 1.0}
    sugg = report.suggestions["trigger_spans"]
    assert list(sugg["agents"]) == ["lexicon.v1+probe_occlusion.v1"]  # no per-span agents: one combined agent
    assert sugg["added_by_humans"] == 1 and sugg["human_spans"] == 5

    # the pipeline dataset gives per-span agents: per-agent precision and recall
    pipeline = {record_id(prompt): json.dumps([
        {"label": "benign_homonym", "start": 9, "end": 13, "agents": ["lexicon.v1"]},
        {"label": "target", "start": 16, "end": 30, "agents": ["probe_occlusion.v1"]},
        {"label": "harmful_cue", "start": 0, "end": 3, "agents": ["probe_occlusion.v1"]}])}
    agents = qa.run(snap, pipeline=pipeline).suggestions["trigger_spans"]["agents"]
    assert agents["lexicon.v1"]["precision"] == 1.0 and agents["lexicon.v1"]["recall"] == pytest.approx(2 / 5)
    assert agents["probe_occlusion.v1"]["precision"] == pytest.approx(2 / 4)


def test_empty_and_unsubmitted_snapshots_are_rejected():
    from curation.core.errors import InputError
    from curation.qa import stage as qa

    with pytest.raises(InputError, match="empty"):
        qa.run(make_snapshot([]).select([]))
    drafts = make_snapshot([{"prompt": "p", "responses": [resp("a", {"harmfulness": "benign"}, status="draft")]}])
    with pytest.raises(InputError, match="no submitted responses"):
        qa.run(drafts)


def test_plot_and_cli(tmp_path, label_snapshot):
    from typer.testing import CliRunner

    from curation.cli import app
    from curation.core.workspace import Workspace

    ws = Workspace(tmp_path / "ws")
    ws.save_dataset(label_snapshot, "demo.annotations")
    png = tmp_path / "agreement.png"
    result = CliRunner().invoke(app, ["--workspace", str(ws.root), "qa", "demo", "--plot", str(png)])
    assert result.exit_code == 0, result.output
    assert "Fleiss" in result.output and "alice" in result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((ws.root / "artifacts" / "qa" / "demo" / "report.json").read_text())
    assert saved["labels"]["harmfulness"]["annotators"] == ["alice", "bob", "carol"]
    missing = CliRunner().invoke(app, ["--workspace", str(ws.root), "qa", "nope"])
    assert missing.exit_code != 0
