"""A person in a browser: load the drug reviews, add a filter, apply it, split, and see
each split's size (and the Train tab learns about the prepared dataset)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _pick(page, elem_id: str, value: str) -> None:
    """Choose a value in a Gradio dropdown (type it, then click the matching option)."""
    box = page.locator(f"#{elem_id} input")
    box.click()
    box.fill(value)
    page.get_by_role("option", name=value, exact=True).first.click()


def test_load_filter_split_in_browser(page):
    page.get_by_role("tab", name="Data", exact=True).click()
    page.locator("#data-source textarea, #data-source input").first.fill("builtin:drug_reviews")
    page.locator("#data-load").click()
    status = page.locator("#data-status")
    status.get_by_text("Loaded").wait_for()
    assert "train: 600" in status.inner_text() and "test: 379" in status.inner_text()
    expect(page.locator("#data-preview")).to_contain_text("drugName")

    _pick(page, "data-filter-column", "condition")
    _pick(page, "data-filter-op", "in")
    page.locator("#data-filter-value textarea, #data-filter-value input").first.fill(
        "Depression, Pain, Birth Control")
    page.locator("#data-filter-add").click()
    expect(page.locator("#data-conditions")).to_contain_text("Birth Control")
    page.locator("#data-apply").click()
    status.get_by_text("Filters kept").wait_for()
    kept = int(re.search(r"kept \*?\*?([\d,]+) of 979", status.inner_text().replace("**", ""))
               .group(1).replace(",", ""))
    assert 0 < kept < 979

    page.locator("#data-split").click()
    summary = page.locator("#data-summary")
    summary.get_by_text("Ready for training").wait_for()
    table = page.locator("#data-split-sizes")
    expect(table).to_contain_text("validation")
    text = table.inner_text()
    sizes = {name: int(n) for name, n in re.findall(r"(train|validation|test)\s+(\d+)", text)}
    assert set(sizes) == {"train", "validation", "test"}
    assert sum(sizes.values()) == kept, (sizes, kept)
    assert f"test {sizes['test']:,}" in summary.inner_text()

    # The Train tab now names the prepared dataset (ctx.data_state holds its DataConfig).
    page.get_by_role("tab", name="Train", exact=True).click()
    expect(page.locator("#train-data-summary")).to_contain_text("1 filter(s)")
    expect(page.locator("#train-data-summary")).to_contain_text("builtin:drug_reviews")
