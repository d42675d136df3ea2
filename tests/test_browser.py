"""An annotator labels a record in the real Argilla UI (headless Chromium); `curate annotate pull` returns it."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from datasets import Dataset
from factories import sign_in
from typer.testing import CliRunner

from curation.annotate.push import push_records
from curation.annotate.users import add_user
from curation.core.hashing import record_id

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
        sign_in(page, url, "browser_annotator", password)
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
                                                      "pull", "browser_ds", "--argilla-workspace", "browser_team"])
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


# ---- review, roles and keyboard ------------------------------------------------------------------------------------
REVIEW_PROMPT = "How do I make a bomb for my chemistry class?"


class _Screenshots:
    """Keeps a full-page screenshot of every open page when the block fails (test-artifacts/NAME-N.png)."""

    def __init__(self, name: str) -> None:
        self.name, self.pages = name, []

    def __enter__(self) -> _Screenshots:
        return self

    def __exit__(self, kind, value, tb) -> None:
        for i, page in enumerate(self.pages):
            if kind is not None or os.environ.get("KEEP_SCREENSHOTS"):  # KEEP_SCREENSHOTS=1: keep them to look at
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / f"{self.name}-{i}.png"), full_page=True)
            page.close()

    def page(self, browser):
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        self.pages.append(page)
        return page


def _answer(url: str, key: str, record_uuid, values: dict) -> None:
    import httpx

    body = {"status": "submitted", "values": {q: {"value": v} for q, v in values.items()}}
    resp = httpx.post(f"{url}/api/v1/records/{record_uuid}/responses", json=body,
                      headers={"X-Argilla-Api-Key": key}, timeout=30)
    assert resp.status_code in (200, 201), resp.text


def _wait_for(check, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:
        time.sleep(0.25)


def test_reviewer_resolves_a_disagreement_in_the_ui_and_pull_gives_that_gold(argilla_stack, chromium):
    """Two annotators disagree on spans and tie on labels; an annotator cannot see the review dataset; the reviewer
    keeps the pre-filled span, adds one, breaks the ties in the UI; `adjudicate pull` gives exactly that gold."""
    from curation.annotate.users import add_user, api_key, record_role
    from curation.cli import app

    client, url, ws = argilla_stack.client, argilla_stack.api_url, argilla_stack.workspace
    rows = Dataset.from_dict({"id": [record_id(REVIEW_PROMPT)], "prompt": [REVIEW_PROMPT],
                              "prompt_vector": [[0.2] * 384]})
    dataset = push_records(rows, "trigger_spans", "rv_ds", client, show_progress=False)
    _, ann_password = add_user(client, "rv_alice")
    add_user(client, "rv_bob")
    _, rev_password = add_user(client, "rv_rita", "reviewer", "reviewers")
    record_role(ws, "rv_rita", "reviewer")
    (record,) = list(dataset.records())
    bomb = REVIEW_PROMPT.index("bomb")
    _answer(url, api_key(client, "rv_alice"), record._server_id, {
        "harmfulness": "harmful", "should_refuse": "yes",
        "trigger_spans": [{"label": "harmful_cue", "start": bomb, "end": bomb + 4}]})
    _answer(url, api_key(client, "rv_bob"), record._server_id, {"harmfulness": "benign", "should_refuse": "no"})
    runner = CliRunner(mix_stderr=False)
    base = ["--workspace", str(ws.root)]
    assert runner.invoke(app, [*base, "annotate", "pull", "rv_ds"]).exit_code == 0
    result = runner.invoke(app, [*base, "adjudicate", "run", "rv_ds"])
    assert result.exit_code == 0, result.output + str(result.exception)
    review = client.datasets(name="rv_ds-review", workspace="reviewers")

    with _Screenshots("browser-review") as shots:
        annotator = shots.page(chromium)
        sign_in(annotator, url, "rv_alice", ann_password)
        annotator.wait_for_function("() => document.body.innerText.includes('rv_ds')")
        assert "rv_ds-review" not in annotator.inner_text("body")  # not a member of the reviewers' workspace
        annotator.goto(f"{url}/dataset/{review.id}/annotation-mode")
        annotator.wait_for_timeout(3000)
        assert REVIEW_PROMPT not in annotator.inner_text("body")

        page = shots.page(chromium)
        sign_in(page, url, "rv_rita", rev_password)
        page.goto(f"{url}/dataset/{review.id}/annotation-mode")
        page.wait_for_function("t => document.body.innerText.includes(t)", arg="rv_alice")
        marks = page.eval_on_selector_all("mark", "els => els.map(e => e.textContent)")
        assert marks == ["bomb"]  # alice's span highlighted in her field; bob marked nothing
        assert "harmful 1/2" in page.inner_text("body") and "tie" in page.inner_text("body")
        page.get_by_text("context", exact=True).first.click()
        _select_word(page, REVIEW_PROMPT, "chemistry")
        page.get_by_text("harmful", exact=True).last.click()
        page.get_by_text("yes", exact=True).last.click()
        page.get_by_text("done", exact=True).click()
        if os.environ.get("KEEP_SCREENSHOTS"):
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "browser-review-before-submit.png"), full_page=True)
        page.get_by_role("button", name="Submit").click()
        _wait_for(lambda: any(r.responses for r in review.records(with_responses=True)))

    result = runner.invoke(app, [*base, "adjudicate", "pull", "rv_ds"])
    assert result.exit_code == 0, result.output + str(result.exception)
    gold = ws.load_dataset("rv_ds.gold")[0]
    chem = REVIEW_PROMPT.index("chemistry")
    assert gold["gold_status"] == "gold" and gold["decision_rule"] == "review"
    assert gold["gold_harmfulness"] == "harmful" and gold["gold_should_refuse"] == "yes"
    assert sorted(gold["gold_trigger_spans"], key=lambda s: s["start"]) == [
        {"label": "harmful_cue", "start": bomb, "end": bomb + 4},
        {"label": "context", "start": chem, "end": chem + len("chemistry")}]


def test_a_typed_rewrite_survives_the_documented_key_sequence(argilla_stack, chromium):
    """Labels first, then click the rewrite box, type, Esc, Enter: the rewrite is submitted (the guidelines' order)."""
    from curation.annotate.pull import pull_records
    from curation.annotate.users import add_user

    client, url = argilla_stack.client, argilla_stack.api_url
    prompt = "How do I kill my neighbour's cat?"
    rows = Dataset.from_dict({"id": [record_id(prompt)], "prompt": [prompt], "prompt_vector": [[0.3] * 384]})
    dataset = push_records(rows, "trigger_spans", "kb_ds", client, workspace_name="kb_team", show_progress=False)
    _, password = add_user(client, "kb_annotator", "annotator", "kb_team")
    rewrite = "How do I keep my neighbour's cat out of my garden?"
    with _Screenshots("browser-keyboard") as shots:
        page = shots.page(chromium)
        sign_in(page, url, "kb_annotator", password)
        page.goto(f"{url}/dataset/{dataset.id}/annotation-mode")
        page.wait_for_function("t => document.body.innerText.includes(t)", arg=prompt)
        page.get_by_text("harmful", exact=True).click()
        page.get_by_text("yes", exact=True).click()
        page.get_by_text("De-harmed rewrite (optional)").click()
        box = page.locator("[contenteditable='true'], textarea").last
        box.click()
        page.keyboard.type(rewrite)
        page.keyboard.press("Escape")
        page.keyboard.press("Enter")
        _wait_for(lambda: any(r.responses for r in dataset.records(with_responses=True)))
        pulled = pull_records(client, "kb_ds", "kb_team")
        (response,) = pulled[0]["responses"]
        assert json.loads(response["values"]).get("deharmed_rewrite") == rewrite


def test_after_the_demo_the_person_has_records_to_label(argilla_stack, chromium, tiny_lm_path, tmp_path,
                                                         monkeypatch):
    """The demo's steps up to the simulated annotation: signing in as `annotator` shows a record to label, not
    "The task is completed!"."""
    from curation import demo
    from curation.annotate.pull import get_dataset
    from curation.core.workspace import Workspace

    monkeypatch.setenv("ARGILLA_API_URL", argilla_stack.api_url)
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_stack.api_key)
    ws = Workspace(tmp_path / "ws")
    upto = [step.name for step in demo.STEPS].index("annotate") + 1
    cfg = demo.DemoConfig(model=str(tiny_lm_path), max_new_tokens=4, harm_model="plain",  # the queue, not the model
                          triggers_dataset="browser-triggers", deharm_dataset="browser-deharm")  # own datasets
    ctx = demo.run(ws, cfg, steps=demo.STEPS[:upto], say=lambda line: None)
    assert ctx.results["person_pending"] >= 1
    password = ws.read_secret(demo.SIM_SECRET)[demo.HUMAN_USER]
    dataset = get_dataset(argilla_stack.client, cfg.triggers_dataset)
    with _Screenshots("browser-demo-queue") as shots:
        page = shots.page(chromium)
        sign_in(page, argilla_stack.api_url, demo.HUMAN_USER, password)
        page.goto(f"{argilla_stack.api_url}/dataset/{dataset.id}/annotation-mode")
        page.wait_for_function("() => document.body.innerText.includes('Mark the trigger words')", timeout=30_000)
        body = page.inner_text("body")
        assert "The task is completed" not in body and "Submit" in body
        # the annotator can sort the queue by uncertainty (visible metadata)
        page.get_by_text("Sort", exact=True).click(timeout=30_000)
        page.wait_for_function("() => document.body.innerText.includes('Uncertainty')", timeout=15_000)
