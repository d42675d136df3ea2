"""push-to-hub: the dry-run tree loads with `datasets`, and the real upload code runs against a local HTTP server
that answers the Hub endpoints huggingface_hub calls (whoami, create repo, refs, validate-yaml, preupload,
commit, tag)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from test_build import build_yaml, make_gold

from curation.core.errors import InputError, ServiceError

TOKEN = "hf_test_secret_token_123"


class FakeHub:
    """Just enough of the Hub: repos with files, commits and tags; every call is recorded."""

    def __init__(self) -> None:
        self.repos: dict[str, dict] = {}
        self.calls: list[tuple[str, str]] = []
        self.fail_preupload = False
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _send(self, status: int, body: object, error_code: str | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                if error_code:
                    self.send_header("X-Error-Code", error_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _route(self, method: str) -> None:
                path = self.path.split("?")[0]
                hub.calls.append((method, path))
                body = self._body() if method == "POST" else b""
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._send(401, {"error": "Invalid credentials in Authorization header"})
                if path == "/api/whoami-v2":
                    return self._send(200, {"type": "user", "name": "alice", "orgs": [{"name": "safety-lab"}]})
                if path == "/api/repos/create":
                    req = json.loads(body)
                    repo_id = f"{req.get('organization') or 'alice'}/{req['name']}"
                    if repo_id in hub.repos:
                        return self._send(409, {"error": "You already created this dataset repo",
                                                "url": f"{hub.url}/datasets/{repo_id}"})
                    hub.repos[repo_id] = {"files": {}, "commits": [], "tags": {}, "private": req.get("private")
                                          or req.get("visibility") == "private"}
                    return self._send(200, {"url": f"{hub.url}/datasets/{repo_id}", "name": repo_id})
                if path == "/api/validate-yaml":
                    return self._send(200, {"errors": [], "warnings": []})
                info = re.match(r"^/api/datasets/([^/]+/[^/]+)(?:/revision/[^/]+)?$", path)
                if info and method == "GET":  # repo_info
                    if info.group(1) not in hub.repos:
                        return self._send(404, {"error": "Repository not found"}, "RepoNotFound")
                    repo = hub.repos[info.group(1)]
                    return self._send(200, {"id": info.group(1), "private": bool(repo["private"]),
                                            "sha": repo["commits"][-1]["oid"] if repo["commits"] else "0" * 40,
                                            "siblings": [{"rfilename": f} for f in sorted(repo["files"])]})
                match = re.match(r"^/api/datasets/([^/]+/[^/]+)/(refs|preupload|commit|tag|tree)(?:/(.+))?$", path)
                if not match or match.group(1) not in hub.repos:
                    return self._send(404, {"error": "Repository not found"}, "RepoNotFound")
                repo = hub.repos[match.group(1)]
                head = repo["commits"][-1]["oid"] if repo["commits"] else "0" * 40
                kind = match.group(2)
                if kind == "refs":
                    return self._send(200, {"branches": [{"name": "main", "ref": "refs/heads/main",
                                                          "targetCommit": head}],
                                            "tags": [{"name": t, "ref": f"refs/tags/{t}", "targetCommit": c}
                                                     for t, c in repo["tags"].items()], "converts": []})
                if kind == "preupload":
                    if hub.fail_preupload:
                        return self._send(422, {"error": "preupload rejected"})
                    files = json.loads(body)["files"]
                    return self._send(200, {"files": [{"path": f["path"], "uploadMode": "regular",
                                                       "shouldIgnore": False} for f in files]})
                if kind == "tree":  # list_repo_files: one page, every file
                    return self._send(200, [{"type": "file", "path": f, "oid": "0" * 40, "size": len(c)}
                                            for f, c in sorted(repo["files"].items())])
                if kind == "commit":
                    lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
                    files = {x["value"]["path"]: base64.b64decode(x["value"]["content"])
                             for x in lines if x["key"] == "file"}
                    deleted = [x["value"]["path"] for x in lines if x["key"] == "deletedFile"]
                    oid = hashlib.sha1(body).hexdigest()
                    repo["files"].update(files)
                    for path_ in deleted:
                        repo["files"].pop(path_, None)
                    repo["commits"].append({"oid": oid, "summary": lines[0]["value"]["summary"],
                                            "files": sorted(files), "deleted": sorted(deleted)})
                    return self._send(200, {"commitUrl": f"{hub.url}/datasets/{match.group(1)}/commit/{oid}",
                                            "commitOid": oid, "pullRequestUrl": None})
                if kind == "tag":
                    tag = json.loads(body)["tag"]
                    if tag in repo["tags"]:
                        return self._send(409, {"error": "tag exists"})
                    repo["tags"][tag] = match.group(3)
                    return self._send(200, {})
                return self._send(404, {"error": "not found"})

            def do_GET(self) -> None:  # noqa: N802
                self._route("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._route("POST")

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hub(monkeypatch):
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)  # conftest sets offline mode for everything else
    server = FakeHub()
    yield server
    server.close()


@pytest.fixture
def version_ws(workspace, tmp_path):
    """A workspace with version 1.0.0 holding all five configs."""
    from curation.build import stage as build
    from curation.publish.versions import create_version

    make_gold(workspace)
    cfg, sub = build.load_build_config(build_yaml(tmp_path))
    create_version(workspace, build.run(cfg, sub, workspace), "1.0.0")
    return workspace


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
    from test_qa import make_snapshot, resp

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
