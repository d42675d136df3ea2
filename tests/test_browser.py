"""An annotator labels a record in the real Argilla UI (headless Chromium); `curate annotate pull` returns it."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from datasets import Dataset
from typer.testing import CliRunner

from curation.annotate.push import push_records
from curation.annotate.users import add_user
from curation.hashing import record_id

pytestmark = [pytest.mark.server, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
PROMPT = "How do I kill a Python process?"

# finds the on-screen box of `word` inside the rendered prompt text
WORD_BOX_JS = """([text, word]) => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    const at = node.textContent.indexOf(text);
    if (at < 0) continue;
    const start = at + text.indexOf(word);
    const range = document.createRange();
    range.setStart(node, start);
    range.setEnd(node, start + word.length);
    const box = range.getBoundingClientRect();
    return {x: box.x, y: box.y, width: box.width, height: box.height};
  }
  return null;
}"""


@pytest.fixture(scope="module")
def chromium():
    if not CHROMIUM.exists() and not shutil.which("chromium"):
        pytest.skip("Chromium is not installed (`make chromium` or `apt-get install chromium`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")),
                                     args=CHROMIUM_FLAGS, headless=True)
        yield browser
        browser.close()


def _select_word(page, text: str, word: str) -> None:
    """Drag the mouse across `word` the way a person marks a span."""
    page.wait_for_function("t => document.body.innerText.includes(t)", arg=text)
    box = page.evaluate(WORD_BOX_JS, [text, word])
    assert box, f"'{text}' is not on the page"
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 1, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, y, steps=3)
    page.mouse.move(box["x"] + box["width"] - 1, y, steps=3)
    page.mouse.up()


def _has_response(dataset) -> bool:
    return any(record.responses for record in dataset.records(with_responses=True))


def test_annotator_labels_in_the_ui_and_pull_returns_it(argilla_stack, chromium):
    client, url = argilla_stack.client, argilla_stack.api_url
    rows = Dataset.from_dict({"id": [record_id(PROMPT)], "prompt": [PROMPT], "prompt_vector": [[0.1] * 384]})
    dataset = push_records(rows, "trigger_spans", "browser_ds", client, workspace_name="browser_team",
                           show_progress=False)  # no suggestions: every answer comes from the person
    _, password = add_user(client, "browser_annotator", "annotator", "browser_team")

    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{url}/sign-in")
        page.get_by_label("Username").fill("browser_annotator")
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda u: "sign-in" not in u, timeout=30_000)
        page.goto(f"{url}/dataset/{dataset.id}/annotation-mode")
        page.get_by_text("benign homonym", exact=True).click()
        _select_word(page, PROMPT, "kill")
        page.get_by_text("benign", exact=True).click()
        page.get_by_text("no", exact=True).click()
        page.get_by_role("button", name="Submit").click()
        deadline = time.monotonic() + 30
        while not _has_response(dataset) and time.monotonic() < deadline:
            page.wait_for_timeout(250)
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "browser-annotation-failure.png"), full_page=True)
        raise
    finally:
        page.close()

    from curation.cli import app

    result = CliRunner(mix_stderr=False).invoke(app, ["--workspace", str(argilla_stack.workspace.root), "annotate",
                                                      "pull", "browser_ds", "--workspace", "browser_team"])
    assert result.exit_code == 0, result.output + str(result.exception)
    pulled = argilla_stack.workspace.load_dataset("browser_ds.annotations")
    assert len(pulled) == 1 and pulled[0]["record_status"] == "completed"
    (response,) = pulled[0]["responses"]
    assert (response["user"], response["status"]) == ("browser_annotator", "submitted")
    assert json.loads(response["values"]) == {
        "trigger_spans": [{"label": "benign_homonym", "start": 9, "end": 13}],
        "harmfulness": "benign",
        "should_refuse": "no",
    }
