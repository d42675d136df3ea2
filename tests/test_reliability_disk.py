"""Disk faults and interrupted publishing: a full disk or a read-only workspace during a stage save gives one clear
error and leaves the previous version intact; a push-to-hub killed mid-upload publishes nothing, and a rerun
publishes everything once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from datasets import Dataset
from factories import TOKEN

from curation.core.errors import CurationError
from curation.core.workspace import Workspace


@contextmanager
def small_disk(path: Path, size: str = "1m") -> Iterator[Path]:
    """A tmpfs of `size` mounted at `path` (skips where mounting is not allowed)."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.strip() or 'needs root'})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _rows(n: int, width: int) -> Dataset:
    return Dataset.from_dict({"id": [f"r{i}" for i in range(n)],
                              "prompt": [f"{i:06d}" + os.urandom(width).hex() for i in range(n)]})


def _leftovers(ws: Workspace) -> list[str]:
    return [p.name for p in ws.path("datasets").iterdir() if p.name.startswith(".")]


def test_disk_full_during_a_save_keeps_the_previous_version(tmp_path):
    with small_disk(tmp_path / "disk", "1m") as disk:
        ws = Workspace(disk / "ws")
        before = _rows(20, 8)
        ws.save_dataset(before, "stage")
        with pytest.raises(CurationError) as err:
            ws.save_dataset(_rows(3000, 400), "stage")  # ~2.4 MB on a 1 MB disk
        message = str(err.value)
        assert "could not save dataset 'stage'" in message and "No space left on device" in message
        assert "previous version is unchanged" in message and "\n" not in message
        assert ws.load_dataset("stage")["prompt"] == before["prompt"]
        assert _leftovers(ws) == []  # the partial temp folder is removed, so the space comes back


def test_disk_full_through_the_cli_is_one_line_and_exit_1(tmp_path):
    src = tmp_path / "big.jsonl"
    src.write_text("".join(f'{{"prompt": "question {i} {os.urandom(300).hex()}"}}\n' for i in range(4000)))
    small = tmp_path / "small.jsonl"
    small.write_text('{"prompt": "How do I kill a Python process?"}\n')
    with small_disk(tmp_path / "disk", "1m") as disk:
        cli = [sys.executable, "-c", "from curation.cli import main; main()", "-w", str(disk / "ws"), "ingest"]
        first = subprocess.run([*cli, str(small), "--name", "p", "--no-near-dedupe"], capture_output=True, text=True,
                               timeout=300)
        assert first.returncode == 0, first.stderr
        full = subprocess.run([*cli, str(src), "--name", "p", "--no-near-dedupe"], capture_output=True, text=True,
                              timeout=300)
        errors = [line for line in full.stderr.splitlines() if line.startswith("error:")]
        assert full.returncode == 1 and len(errors) == 1, full.stderr[-1500:]
        assert "No space left on device" in errors[0] and "previous version is unchanged" in errors[0]
        assert Workspace(disk / "ws").load_dataset("p")["prompt"] == ["How do I kill a Python process?"]


def test_read_only_workspace_during_a_save_keeps_the_previous_version(tmp_path):
    with small_disk(tmp_path / "disk", "4m") as disk:
        ws = Workspace(disk / "ws")
        before = _rows(10, 4)
        ws.save_dataset(before, "stage")
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        with pytest.raises(CurationError) as err:
            ws.save_dataset(_rows(5, 4), "stage")
        assert "could not save dataset 'stage'" in str(err.value) and "Read-only file system" in str(err.value)
        assert ws.load_dataset("stage")["prompt"] == before["prompt"]
        with pytest.raises(CurationError, match="Read-only"):
            ws.write_secret("x", {"k": "v"})


@pytest.mark.slow
def test_push_to_hub_killed_mid_upload_publishes_nothing_and_a_rerun_publishes_once(version_ws, hub, tmp_path):
    """kill -9 of `curate push-to-hub` while its commit is in flight: no commit, tag or file; a rerun: one of each."""
    started, release = threading.Event(), threading.Event()
    route = hub.server.RequestHandlerClass._route

    def held_route(handler, method):  # the first commit request stalls, then is dropped (connection cut)
        if "/commit/" in handler.path and not release.is_set():
            started.set()
            release.wait(60)
            handler.close_connection = True
            return None
        return route(handler, method)

    hub.server.RequestHandlerClass._route = held_route
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE",)}
    env.update(HF_TOKEN=TOKEN, HF_HUB_DISABLE_TELEMETRY="1")
    cli = [sys.executable, "-c", "from curation.cli import main; main()", "-w", str(version_ws.root), "push-to-hub",
           "1.0.0", "alice/refusal", "--endpoint", hub.url]
    proc = subprocess.Popen(cli, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        assert started.wait(240), proc.communicate(timeout=5)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        release.set()
    time.sleep(0.2)
    repo = hub.repos["alice/refusal"]
    assert repo["commits"] == [] and repo["files"] == {} and repo["tags"] == {}, "half-published"
    rerun = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-1500:]
    assert len(repo["commits"]) == 1 and list(repo["tags"]) == ["v1.0.0"]
    assert repo["tags"]["v1.0.0"] == repo["commits"][0]["oid"]
    staged = version_ws.artifact_dir("publish", "1.0.0") / "tree"
    assert sorted(repo["files"]) == sorted(str(p.relative_to(staged)) for p in staged.rglob("*") if p.is_file())
    assert TOKEN not in rerun.stdout + rerun.stderr
