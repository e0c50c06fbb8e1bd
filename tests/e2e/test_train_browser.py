"""A person in a browser: recipe, a tiny model typed in, Start, live progress and loss
curve, reload (re-attach), Stop, and 'stopped' in the runs table.

The run is a real ``python -m ft_core train`` subprocess on a tiny BERT made from a
config, so it trains for real in seconds on CPU.
"""

import re

import pytest

from tests.browser_helpers import poll, recipe_with_tiny_model

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _progress(page) -> dict:
    node = page.locator("#train-progress .ft-progress")
    return {"status": node.get_attribute("data-status"),
            "step": int(node.get_attribute("data-step") or 0),
            "text": node.inner_text()}


def _wait_progress(page, predicate, timeout=120):
    return poll(page, lambda: _progress(page), predicate, timeout, "progress never matched",
                "/tmp/train_progress_fail.png")


def _curves(page) -> dict:
    """What the loss chart draws: points per curve, read from the plotly chart in the page,
    and how many drawn line paths it has (a chart with data but no lines would fail)."""
    return page.evaluate("""() => {
        const el = document.querySelector('#train-loss-plot .js-plotly-plot');
        if (!el || !el.data) return {points: {}, lines: 0};
        const lines = Array.from(el.querySelectorAll('.scatterlayer path.js-line'))
            .filter(p => (p.getAttribute('d') || '').length > 10).length;
        // _fullData: the traces as plotly drew them (x decoded from its binary form)
        const traces = el._fullData || el.data;
        return {points: Object.fromEntries(traces.map(t => [t.name, t._length ?? t.x.length])),
                lines};
    }""")


def _wait_curves(page, predicate, timeout=90) -> dict:
    return poll(page, lambda: _curves(page), predicate, timeout,
                "the loss chart never showed that", "/tmp/train_curves_fail.png")


def _open_train_tab(page):
    page.get_by_role("tab", name="Train", exact=True).click()
    page.locator("#train-start").wait_for()


def test_start_watch_reload_stop_in_browser(page, tiny_bert_dir):
    _open_train_tab(page)
    assert _progress(page)["status"] == "none"
    name = recipe_with_tiny_model(page, tiny_bert_dir, "browser", max_steps=100_000)
    # The recipe's settings reach the form, the reading of long texts included.
    poll(page, lambda: page.locator("#train-truncation_side input").input_value(),
         lambda v: v == "Keep the end (cut the start)", 30, "the recipe's truncation side "
         "never reached the form", "/tmp/train_form_fail.png")
    page.locator("#train-learning_rate input").fill("0.001")
    page.locator("#train-learning_rate input").press("Tab")

    assert _curves(page)["points"] == {}
    page.locator("#train-start").click()

    first = _wait_progress(page, lambda s: s["status"] == "running" and s["step"] > 0)
    assert name in first["text"] and "ETA" in first["text"]
    # The progress moves and the loss curve gets drawn, live.
    _wait_progress(page, lambda s: s["step"] > first["step"])
    # The base model's eval loss (step 0) comes first, then the training loss, live:
    # both curves are drawn as lines, and the training curve keeps growing.
    drawn = _wait_curves(page, lambda c: c["points"].get("train loss", 0) >= 2
                         and "eval loss" in c["points"] and c["lines"] >= 2)
    _wait_progress(page, lambda s: s["step"] > first["step"] + 10)
    _wait_curves(page, lambda c: c["points"].get("train loss", 0) >
                 drawn["points"]["train loss"])
    assert re.search(r"step \d+ · epoch", page.locator("#train-log textarea").input_value())

    # A reload is a new Gradio session: the page finds its running job again.
    page.reload()
    page.wait_for_selector("text=Fine-Tuning Lab")
    _open_train_tab(page)
    again = _wait_progress(page, lambda s: name in s["text"] and s["status"] == "running")
    assert again["step"] >= first["step"]

    page.locator("#train-stop").click()
    _wait_progress(page, lambda s: s["status"] == "stopped", timeout=120)
    # The runs table gets the final row once the process has saved its checkpoint and
    # exited, which takes a while on a loaded machine (Gradio keeps a hidden copy of rows
    # for sizing: read the text).
    # Gradio's virtual table draws visible rows as role=row elements and keeps a hidden
    # sizing table of tr elements: look at both.
    has_stopped_row = """(name) => Array.from(document.querySelectorAll(
        '#runs-table tr, #runs-table [role=row]'))
        .some(r => r.textContent.includes(name) && r.textContent.includes('stopped'))"""
    try:
        page.wait_for_function(has_stopped_row, arg=name, timeout=60_000)
    except Exception:  # noqa: BLE001 - then the Refresh button must show it
        page.locator("#runs-refresh").click()
        page.wait_for_function(has_stopped_row, arg=name, timeout=60_000)
