"""push-to-hub: the dry-run tree loads with `datasets`, and the real upload code runs against a local HTTP server
that answers the Hub endpoints huggingface_hub calls (whoami, create repo, refs, validate-yaml, preupload,
commit, tag)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from factories import TOKEN, FakeHub, build_yaml

from curation.core.errors import InputError, ServiceError


@pytest.fixture
def no_cached_login(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_TOKEN_PATH", str(tmp_path / "no-token"))
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))


def test_dry_run_tree_loads_with_datasets(version_ws, tmp_path):
    import datasets
    import yaml
    from typer.testing import CliRunner

    from curation.cli import app
    from curation.publish.versions import load_manifest

    out = tmp_path / "tree"
    result = CliRunner().invoke(app, ["--workspace", str(version_ws.root), "push-to-hub", "1.0.0",
                                      "safety-lab/refusal-data", "--dry-run", "--out", str(out)])
    assert result.exit_code == 0, result.output
    manifest = load_manifest(version_ws, "1.0.0")
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == sorted(["README.md", "manifest.json", *manifest["files"]])
    card = (out / "README.md").read_text()
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["license"] == "cc-by-4.0" and set(meta["language"]) >= {"en", "fr", "de"}
    assert {c["config_name"] for c in meta["configs"]} == {"triggers", "boundary", "sft", "dpo", "morbench",
                                                          "morbench_en", "morbench_fr", "morbench_de",
                                                          "dpo_conversational"}
    assert meta["size_categories"] == ["n<1K"] and "token-classification" in meta["task_categories"]
    for needle in ("Deactivating Refusal Triggers", "Safety Decision", "## Limitations", "## Sources", "trig.gold"):
        assert needle in card
    for config, splits in manifest["rows"].items():
        with _quiet():
            loaded = datasets.load_dataset(str(out), config)
        assert {s: len(d) for s, d in loaded.items()} == splits


class _quiet:
    def __enter__(self):
        import datasets

        datasets.disable_progress_bars()

    def __exit__(self, *exc):
        import datasets

        datasets.enable_progress_bars()


def test_upload_is_one_commit_and_a_tag(version_ws, hub, monkeypatch, capsys):
    from typer.testing import CliRunner

    from curation.cli import app
    from curation.publish.versions import load_manifest

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    result = CliRunner().invoke(app, ["--workspace", str(version_ws.root), "push-to-hub", "1.0.0",
                                      "safety-lab/refusal-data", "--private", "--endpoint", hub.url])
    assert result.exit_code == 0, repr(result.exception)
    repo = hub.repos["safety-lab/refusal-data"]
    assert len(repo["commits"]) == 1 and repo["private"], hub.calls
    assert sorted(repo["files"]) == sorted(["README.md", "manifest.json", *load_manifest(version_ws, "1.0.0")["files"]])
    assert repo["tags"] == {"v1.0.0": repo["commits"][0]["oid"]}
    assert json.loads(repo["files"]["manifest.json"])["tag"] == "1.0.0"
    # the token is never printed or written
    assert TOKEN not in result.output + capsys.readouterr().out
    assert not any(TOKEN.encode() in p.read_bytes() for p in Path(version_ws.root).rglob("*") if p.is_file())

    # publishing the same version again: the tag exists -> refused before any commit
    from curation.publish.push_to_hub import push_to_hub

    with pytest.raises(InputError, match="already has tag v1.0.0"):
        push_to_hub(version_ws, "1.0.0", "safety-lab/refusal-data", endpoint=hub.url)
    assert len(repo["commits"]) == 1


def test_clear_errors_and_nothing_half_published(version_ws, hub, monkeypatch, no_cached_login):
    from curation.publish.push_to_hub import push_to_hub

    with pytest.raises(InputError, match="no Hugging Face token"):
        push_to_hub(version_ws, "1.0.0", "alice/data", endpoint=hub.url)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with pytest.raises(InputError, match="belongs to 'someone-else'"):
        push_to_hub(version_ws, "1.0.0", "someone-else/data", endpoint=hub.url)
    assert ("POST", "/api/repos/create") not in hub.calls
    monkeypatch.setenv("HF_TOKEN", "hf_wrong")
    with pytest.raises(InputError, match="rejected the token"):
        push_to_hub(version_ws, "1.0.0", "alice/data", endpoint=hub.url)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with pytest.raises(ServiceError, match="cannot reach the Hub"):
        push_to_hub(version_ws, "1.0.0", "alice/data", endpoint=closed)
    hub.fail_preupload = True
    with pytest.raises(ServiceError, match="HTTP 422"):
        push_to_hub(version_ws, "1.0.0", "data", endpoint=hub.url)  # bare name -> the user's namespace
    assert hub.repos["alice/data"]["commits"] == [] and hub.repos["alice/data"]["files"] == {}
    assert hub.repos["alice/data"]["tags"] == {}
    with pytest.raises(InputError, match="no version 9.9.9"):
        push_to_hub(version_ws, "9.9.9", "alice/data", endpoint=hub.url)


# --- #16: truthful cards and publishing rules -----------------------------------------------------------------------
def _tree_from_hub(hub: FakeHub, repo_id: str, out: Path) -> Path:
    """The files the fake Hub holds for a repo, written to a folder (what a clone of the repo would give)."""
    for rel, data in hub.repos[repo_id]["files"].items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
    return out


def test_card_is_generated_from_the_lineage_and_validates(version_ws, tmp_path):
    import yaml
    from huggingface_hub import DatasetCard

    from curation.publish.push_to_hub import check_card, stage_tree

    out = stage_tree(version_ws, "1.0.0", tmp_path / "tree", "safety-lab/refusal-data")
    text = (out / "README.md").read_text()
    check_card(text)
    meta = DatasetCard(text).data.to_dict()
    for key in ("annotations_creators", "language_creators", "multilinguality", "source_datasets", "task_ids"):
        assert meta[key], key
    assert meta["annotations_creators"] == ["expert-generated"] and meta["multilinguality"] == "multilingual"
    assert [c["config_name"] for c in meta["configs"] if c.get("default")] == ["triggers"]
    morbench = next(c for c in meta["configs"] if c["config_name"] == "morbench")
    assert [f["split"] for f in morbench["data_files"]] == ["test"]  # a benchmark has no train split
    body = text.split("---", 2)[2]
    assert "**Simulated" not in body and "Gold labels come from 2 person(s) and 0 simulated" in body
    fields = body.split("## Data fields", 1)[1].split("## Limitations", 1)[0]
    assert "| `should_refuse` | bool | `False`, `True` |" in fields
    assert "| `label` | string | `should_answer`, `should_refuse` |" in fields
    assert "Span labels: `harmful_cue`, `benign_homonym`, `target`, `context`." in fields
    assert "### `dpo_conversational`" in fields and "list of {content: string, role: string}" in fields
    assert "sft` holds" in body and "mixed in from" in body
    assert "@misc{refusaldata" in body and "Deactivating Refusal Triggers" in body
    assert yaml.safe_load(text.split("---")[1])["configs"]


def test_simulated_gold_is_refused_then_marked(workspace, tmp_path):
    from factories import make_snapshot, resp

    from curation.adjudicate import stage as adjudicate
    from curation.build import stage as build
    from curation.publish.push_to_hub import stage_tree
    from curation.publish.versions import create_version

    rows = [{"prompt": f"Simulated prompt number {i}?", "language": "en", "source": "s",
             "responses": [resp("sim-annotator-1", {"decision": "answer" if i % 2 else "refuse"}),
                           resp("sim-annotator-2", {"decision": "answer" if i % 2 else "refuse"})]} for i in range(6)]
    workspace.save_dataset(adjudicate.run(make_snapshot(rows, argilla_dataset="sim"), name="sim"), "sim.gold")
    cfg, sub = build.load_build_config(build_yaml(tmp_path, configs={"boundary": {"from": "sim.gold"}}))
    create_version(workspace, build.run(cfg, sub, workspace, allow_simulated=True), "1.0.0")
    with pytest.raises(InputError, match=r"rests on simulated annotators \(6 gold rows\).*--allow-simulated"):
        stage_tree(workspace, "1.0.0", tmp_path / "tree", "lab/sim")
    out = stage_tree(workspace, "1.0.0", tmp_path / "tree", "lab/sim", allow_simulated=True)
    body = (out / "README.md").read_text().split("---", 2)[2]
    first = [p for p in body.split("\n\n") if p.strip() and not p.startswith("#")][0]
    assert first.startswith("**Simulated annotations: 6 gold row(s)") and "2 simulated annotator(s)" in first
    assert "Agreement figures are left out" in body and "machine-generated" in (out / "README.md").read_text()


def test_publishing_rules(version_ws, hub, monkeypatch, tmp_path):
    import datasets

    from curation.build import stage as build
    from curation.publish.push_to_hub import push_to_hub
    from curation.publish.versions import create_version

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with pytest.raises(InputError, match="'safety-lab/bad name!' is not a valid Hub repo id"):
        push_to_hub(version_ws, "1.0.0", "safety-lab/bad name!", endpoint=hub.url)
    assert hub.calls == []  # validated before anything else
    result = push_to_hub(version_ws, "1.0.0", "safety-lab/refusal-data", endpoint=hub.url)
    repo = hub.repos["safety-lab/refusal-data"]
    assert not repo["private"] and result["deleted"] == []
    # the published tree loads with `datasets`: no config name needed (default config), conversational DPO too
    tree = _tree_from_hub(hub, "safety-lab/refusal-data", tmp_path / "clone")
    with _quiet():
        default = datasets.load_dataset(str(tree))
        conv = datasets.load_dataset(str(tree), "dpo_conversational")
        morbench = datasets.load_dataset(str(tree), "morbench")
    assert "spans" in default["train"].column_names and set(morbench) == {"test"}
    row = conv["train"][0]
    assert row["prompt"][0]["role"] == "user" and row["chosen"][0]["role"] == "assistant"
    # --private on an existing public repo is an error, and nothing is committed
    cfg, sub = build.load_build_config(build_yaml(tmp_path, configs={"triggers": {"from": "trig.gold"},
                                                                     "boundary": {"from": ["bnd.gold"]}}))
    create_version(version_ws, build.run(cfg, sub, version_ws), "2.0.0")
    commits = len(repo["commits"])
    with pytest.raises(InputError, match="exists and is public; --private"):
        push_to_hub(version_ws, "2.0.0", "safety-lab/refusal-data", private=True, endpoint=hub.url)
    assert len(repo["commits"]) == commits
    # v2 drops sft, dpo and morbench: their files go in the same commit that adds v2
    result = push_to_hub(version_ws, "2.0.0", "safety-lab/refusal-data", endpoint=hub.url)
    assert len(repo["commits"]) == commits + 1 and repo["tags"]["v2.0.0"] == repo["commits"][-1]["oid"]
    assert {f.split("/")[0] for f in result["deleted"]} == {"sft", "dpo", "dpo_conversational", "morbench",
                                                            "morbench_en", "morbench_fr", "morbench_de"}
    assert {f.split("/")[0] for f in repo["files"] if "/" in f} == {"triggers", "boundary"}


def test_repo_is_created_only_after_every_check(version_ws, hub, monkeypatch):
    from curation.publish.push_to_hub import push_to_hub

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with pytest.raises(InputError, match="belongs to 'someone-else'"):
        push_to_hub(version_ws, "1.0.0", "someone-else/data", endpoint=hub.url)
    with pytest.raises(InputError, match="no version 9.9.9"):
        push_to_hub(version_ws, "9.9.9", "alice/data", endpoint=hub.url)
    assert ("POST", "/api/repos/create") not in hub.calls and hub.repos == {}
    push_to_hub(version_ws, "1.0.0", "alice/data", private=True, endpoint=hub.url)
    assert hub.repos["alice/data"]["private"] and len(hub.repos["alice/data"]["commits"]) == 1
