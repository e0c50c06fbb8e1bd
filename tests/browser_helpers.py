"""Shared steps of the browser tests: polling the page, and the Train-tab form filled with
the drug-reviews recipe on a tiny model (a real run of a few steps)."""

from __future__ import annotations

import time
from collections.abc import Callable


def poll(page, read: Callable, predicate: Callable, timeout: float,
         what: str | Callable[[], str], screenshot: str):
    """``read()`` until ``predicate(value)`` holds; then return the value. On timeout a
    full-page screenshot is saved and the assertion says ``what`` and the last value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = read()
        except Exception:  # noqa: BLE001 - nodes are re-rendered between reads
            last = None
        if last is not None and predicate(last):
            return last
        page.wait_for_timeout(300)
    page.screenshot(path=screenshot, full_page=True)
    raise AssertionError(f"{what() if callable(what) else what}; last: {last}")


def recipe_with_tiny_model(page, model_dir, prefix: str, max_steps: int) -> str:
    """Train tab: the drug-reviews recipe with ``model_dir`` typed in as the model, a
    unique run name (returned), ``max_steps`` and 32-token texts."""
    page.get_by_role("tab", name="Train", exact=True).click()
    page.locator("#train-start").wait_for()
    page.get_by_role("button", name="drug-reviews-minilm", exact=True).click()
    page.get_by_text("builtin:drug_reviews").first.wait_for()  # the recipe's data is set
    model = page.locator("#train-model input")
    model.fill(str(model_dir))
    model.press("Enter")
    page.locator("#train-model-note").get_by_text("Local classifier").wait_for()
    name = f"{prefix}-{time.time_ns() % 10**8}"
    page.locator("#train-name textarea, #train-name input").first.fill(name)
    page.locator("#train-max_steps input").fill(str(max_steps))
    page.locator("#train-max_length input").fill("32")
    page.locator("#train-max_length input").press("Tab")
    return name
