"""Security: loopback-only binding (explicit --host warns), private secret files, annotators confined to their
Argilla workspace, and no secret in any artefact, log or --debug output of a full demo."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from curation.server import PARTS, LocalStack, StackConfig

pytestmark = pytest.mark.server
ROOT = Path(__file__).resolve().parents[1]


def _listening(port: int) -> set[str]:
    """Local addresses (hex, as in /proc/net/tcp*) with a LISTEN socket on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if fields[3] == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def test_every_part_of_the_stack_listens_on_loopback_only(argilla_stack):
    stack = argilla_stack.stack
    for part in PARTS:
        port = stack.part_port(part)
        if port is None:  # the worker has no port
            continue
        addresses = _listening(port)
        assert addresses == {"0100007F"}, f"{part} on port {port} listens on {addresses}, not only 127.0.0.1"


def test_host_is_loopback_unless_given_and_then_warns(tmp_path):
    default = LocalStack(tmp_path / "a", StackConfig())._command("server", 6900)
    assert default[default.index("--host") + 1] == "127.0.0.1"
    exposed = LocalStack(tmp_path / "b", StackConfig(host="0.0.0.0"))._command("server", 6900)
    assert exposed[exposed.index("--host") + 1] == "0.0.0.0"
    for part in ("redis", "search"):  # the stores never follow --host
        assert "0.0.0.0" not in LocalStack(tmp_path / "b", StackConfig(host="0.0.0.0"))._command(part, 1)
    with socket.socket() as sock:  # a taken port makes the start fail fast, after the warning
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = subprocess.run([sys.executable, "-c", "from curation.cli import main; main()", "--workspace",
                                 str(tmp_path / "c"), "server", "start", "--host", "0.0.0.0", "--port", str(port)],
                                capture_output=True, text=True, timeout=120)
        quiet = subprocess.run([sys.executable, "-c", "from curation.cli import main; main()", "--workspace",
                                str(tmp_path / "d"), "server", "start", "--port", str(port)],
                               capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0].startswith("warning: --host 0.0.0.0 exposes the Argilla UI/API")
    assert "warning" not in quiet.stderr and quiet.returncode == 2


def test_secret_files_are_private(argilla_stack, workspace):
    secret = argilla_stack.workspace.path("secrets", "argilla.json")
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(secret.parent.stat().st_mode) == 0o700
    path = workspace.write_secret("hf", {"token": "hf_x"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    workspace.write_secret("hf", {"token": "hf_y"})  # a rewrite keeps the mode (temp file + rename)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and json.loads(path.read_text()) == {"token": "hf_y"}


def test_an_annotator_cannot_read_another_workspaces_datasets(argilla_stack):
    from factories import pipeline_rows

    from curation.annotate.push import push_records
    from curation.annotate.users import add_user, api_key

    client, url = argilla_stack.client, argilla_stack.api_url
    push_records(pipeline_rows(tag="team_a"), "trigger_spans", "sec_team_a", client, workspace_name="sec_a",
                 show_progress=False)
    push_records(pipeline_rows(tag="team_b"), "trigger_spans", "sec_team_b", client, workspace_name="sec_b",
                 show_progress=False)
    add_user(client, "sec_annotator_a", "annotator", "sec_a")
    headers = {"X-Argilla-Api-Key": api_key(client, "sec_annotator_a")}
    own = client.datasets(name="sec_team_a", workspace="sec_a")
    other = client.datasets(name="sec_team_b", workspace="sec_b")

    visible = httpx.get(f"{url}/api/v1/me/datasets", headers=headers, timeout=30).json()["items"]
    assert {d["name"] for d in visible} == {"sec_team_a"}
    search = {"query": {"text": {"q": "kill"}}}
    mine = httpx.post(f"{url}/api/v1/me/datasets/{own.id}/records/search", json=search, headers=headers, timeout=30)
    assert mine.status_code == 200 and mine.json()["total"] > 0
    for method, path, body in (("GET", f"/api/v1/datasets/{other.id}", None),
                               ("POST", f"/api/v1/me/datasets/{other.id}/records/search", search),
                               ("GET", f"/api/v1/datasets/{other.id}/records", None),
                               ("GET", f"/api/v1/datasets/{other.id}/progress", None),
                               ("GET", f"/api/v1/workspaces/{other.workspace.id}", None)):
        resp = httpx.request(method, f"{url}{path}", json=body, headers=headers, timeout=30)
        assert resp.status_code in (403, 404), (method, path, resp.status_code, resp.text[:200])
        assert "team_b" not in resp.text


@pytest.mark.slow
def test_no_secret_in_any_artefact_log_or_debug_output_of_a_full_demo(tiny_lm_path, tmp_path):
    """`curate --debug demo` on its own stack with an HF token set: grep every file it writes and all its output."""
    ws = tmp_path / "ws"
    token = "hf_SecretTokenForTheGrepTest0123456789"
    env = {**os.environ, "HF_TOKEN": token, "HF_HUB_OFFLINE": "1"}
    for name in ("ARGILLA_API_URL", "ARGILLA_API_KEY", "CURATE_WORKSPACE"):
        env.pop(name, None)
    try:
        run = subprocess.run([sys.executable, "-c", "from curation.cli import main; main()", "--debug", "-w",
                              str(ws), "demo", "--port", "0", "--model", str(tiny_lm_path), "--max-new-tokens", "4"],
                             capture_output=True, text=True, timeout=1500, env=env, cwd=tmp_path)
        assert run.returncode == 0, run.stderr[-2000:]
        secrets_dir = ws / "secrets"
        owner = json.loads((secrets_dir / "argilla.json").read_text())
        stored = [json.loads(p.read_text()) for p in secrets_dir.glob("*.json")]
        # owner password and API key, the HF token: never written outside secrets/, never printed
        never = {"owner password": owner["password"], "owner API key": owner["api_key"], "HF token": token}
        # annotator one-time passwords: printed once to the terminal on purpose, never written to a file
        not_in_files = {**never, **{f"password of {user}": pw for data in stored if "api_key" not in data
                                    for user, pw in data.items() if isinstance(pw, str)}}
        for label, value in never.items():
            assert value not in run.stdout and value not in run.stderr, f"{label} printed by `curate --debug demo`"
        # argilla-server keeps API keys in clear in its own SQLite database (upstream design; passwords are bcrypt
        # hashes): that file is the server's credential store, readable by the owner only
        database = LocalStack(ws).data_dir("argilla.db")
        assert stat.S_IMODE(database.parent.stat().st_mode) == 0o700
        scanned = 0
        for path in ws.rglob("*"):
            if not path.is_file() or secrets_dir in path.parents:
                continue
            data = path.read_bytes()
            scanned += 1
            for label, value in not_in_files.items():
                if path == database and label == "owner API key":
                    continue
                assert value.encode() not in data, f"{label} found in {path.relative_to(ws)}"
        assert scanned > 50  # datasets, logs (server, worker, search, redis), manifests, cards, caches
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        assert owner["password"] not in ps and owner["api_key"] not in ps  # not on any command line either
    finally:
        LocalStack(ws).stop()
