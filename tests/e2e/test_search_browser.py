"""A person in a browser runs a 2-trial hyperparameter search and sees the trial table,
the best trial marked, and Optuna's plots.

The search is a real ``python -m ft_core search`` subprocess on a tiny BERT made from a
config; each trial is a real Trainer run of a few steps.
"""

import re

import pytest

from tests.browser_helpers import poll, recipe_with_tiny_model

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _trial_rows(page) -> list[str]:
    """Text of the rows that hold a trial (Gradio's virtual table draws them as
    role=row elements; a hidden sizing table holds tr elements too)."""
    rows = page.locator("#search-trials [role=row]").filter(has_text=re.compile(
        r"COMPLETE|PRUNED|RUNNING|FAIL|STOPPED"))
    return [r.inner_text() for r in rows.all()]


def _wait(predicate, timeout: float, what: str, page):
    poll(page, predicate, bool, timeout,
         lambda: f"{what}; status: {page.locator('#search-status').inner_text()}; "
                 f"rows: {_trial_rows(page)}", "/tmp/search_browser_fail.png")


def test_two_trial_search_in_browser(page, tiny_bert_dir):
    name = recipe_with_tiny_model(page, tiny_bert_dir, "search", max_steps=4)  # per trial

    page.get_by_role("tab", name="Hyperparameter search", exact=True).click()
    page.locator("#search-start").wait_for()
    # max_steps is set, so the default space for the form's settings drops epochs.
    page.locator("#search-default-space").click()
    _wait(lambda: "num_train_epochs" not in page.locator("#search-space").inner_text(),
          30, "the space kept num_train_epochs", page)
    trials = page.locator("#search-n-trials input")
    trials.fill("2")
    trials.press("Tab")
    page.get_by_label("Random").check()  # sampler

    page.locator("#search-start").click()
    page.locator("#search-status").get_by_text(name).wait_for(timeout=60_000)
    _wait(lambda: len([r for r in _trial_rows(page) if re.search(
        r"COMPLETE|PRUNED", r)]) == 2 and "finished" in page.locator(
        "#search-status").inner_text(), 480, "two trials never finished", page)

    rows = _trial_rows(page)
    assert any("★" in r for r in rows)  # the best trial is marked
    assert all("learning_rate" not in r for r in rows)  # values, not names, per column
    header = page.locator("#search-trials thead [role=row]").first.inner_text()
    assert "learning_rate" in header and "state" in header
    # Optuna's optimization history, drawn by plotly in the page.
    page.locator("#search-history .js-plotly-plot").first.wait_for(timeout=30_000)
    assert page.locator("#search-parallel .js-plotly-plot").count() >= 1
    status = page.locator("#search-status").inner_text()
    assert "best eval_loss" in status
