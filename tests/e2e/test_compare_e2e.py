"""The Compare tab, driven over the API (gradio_client) and in a real browser."""

import uuid

import pytest
from playwright.sync_api import expect

from tests import compare_helpers as H

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

RUN_MODE = "A run: base vs fine-tuned"


@pytest.fixture(scope="module")
def finished_run(app_runs_dir, tiny_bert_dir):
    """A finished tiny classification run inside the app's runs folder."""
    run_id = f"cmp-e2e-{uuid.uuid4().hex[:6]}"
    H.make_classifier_run(app_runs_dir, run_id, tiny_bert_dir)
    return run_id


def test_compare_over_api(finished_run, client, app_runs_dir):
    summary = client.predict(RUN_MODE, finished_run, None, None, api_name="/compare_load")
    assert "newly initialised" in str(summary) and "positive" in str(summary)
    left, right = client.predict("the medicine was great for me", "",
                                 api_name="/compare_predict")
    assert right["label"] == "positive"
    assert {c["label"] for c in left["confidences"]} == set(H.LABELS)
    out = client.predict("The run's test split", None, "text", "label", "", 16,
                         api_name="/compare_classification")
    overall = out[1]
    assert overall["headers"][:4] == ["metric", "left", "right", "difference"]
    assert overall["data"][0][0] == "accuracy"
    files, saved = client.predict(api_name="/compare_export_classification")
    assert "Saved" in saved and len(files) == 3
    assert len(list((app_runs_dir / finished_run / "compare").glob("*.md"))) >= 1


def test_bad_input_over_api(client):
    from gradio_client.exceptions import AppError
    with pytest.raises(AppError, match="No run named"):
        client.predict(RUN_MODE, "no-such-run", None, None, api_name="/compare_load")
    with pytest.raises(AppError, match="Choose two models"):
        client.predict("Any two models", None, "", "", api_name="/compare_load")


def test_compare_in_browser(finished_run, page, app_runs_dir):
    page.get_by_role("tab", name="Compare").click()
    run_box = page.locator("#cmp-run input")
    run_box.fill(finished_run)
    run_box.press("Enter")
    page.locator("#cmp-load").click()
    page.locator("#cmp-summary").get_by_text("newly initialised").wait_for()
    page.locator("#cmp-text textarea").fill("the medicine was wonderful for me")
    page.locator("#cmp-predict").click()
    page.locator("#cmp-right-label").get_by_text("positive").first.wait_for()
    page.locator("#cmp-random").click()  # a row from the run's test split, with its label
    page.locator("#cmp-true").get_by_text("True label").wait_for()
    page.locator("#cmp-eval").click()
    page.locator("#cmp-overall").get_by_text("accuracy").wait_for(timeout=120_000)
    page.locator("#cmp-eval-summary").get_by_text("Majority-class baseline: always").wait_for()
    page.locator("#cmp-filter").get_by_text("Fixed by fine-tuning").click()
    rows = page.locator("#cmp-rows")
    expect(rows).to_contain_text("fixed")
    expect(rows).not_to_contain_text("both wrong")
    page.locator("#cmp-export").click()
    page.get_by_text("Saved to").wait_for()
    assert list((app_runs_dir / finished_run / "compare").glob("*-rows.csv"))


def test_lora_run_over_api(client, app_runs_dir, tiny_llama_dir):
    run_id = f"cmp-lora-{uuid.uuid4().hex[:6]}"
    H.make_lora_run(app_runs_dir, run_id, tiny_llama_dir)
    summary = client.predict(RUN_MODE, run_id, None, None, api_name="/compare_load")
    assert "adapter switched off" in summary
    left, right = client.predict("Hello", False, False, 0.7, 50, 0.95, 1.0, 1, 5, 0,
                                 api_name="/compare_generate")
    assert isinstance(left, str) and isinstance(right, str)
    kl, top, movers = client.predict("Hello", "", False, 5, api_name="/compare_next_token")
    assert "KL(right ‖ left)" in kl and top["headers"][:3] == ["token", "id", "p left"]
    table, notes = client.predict("validation", 4, None, "text", "",
                                  api_name="/compare_loss")
    assert [row[0] for row in table["data"]] == ["left", "right"]
    files, saved = client.predict(api_name="/compare_export_lm")
    assert any(str(f).endswith(".md") for f in files)
    assert list((app_runs_dir / run_id / "compare").glob("*-samples.csv"))
