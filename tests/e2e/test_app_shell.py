"""The app serves its four tabs in a real browser and over the API."""

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_four_tabs_in_browser(page):
    for name in ("Data", "Train", "Compare", "Playground"):
        assert page.get_by_role("tab", name=name).count() == 1
