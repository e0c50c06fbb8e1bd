"""The Playground through gradio_client and in a real browser, on the embedded SmolLM2."""

import json
import re

import pytest
from gradio_client.exceptions import AppError

from ft_core.catalog import SMOLLM

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SETTINGS = dict(do_sample=False, temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, typical_p=1.0,
                repetition_penalty=1.0, no_repeat_ngram_size=0, num_beams=1, length_penalty=1.0,
                early_stopping=False, num_return_sequences=1, max_new_tokens=8, seed=0)
PROMPT = "What is the capital of France?"


def _settings(**kw):
    return {**SETTINGS, **kw}


def _in_play(stats: str) -> int:
    return int(re.search(r"Tokens in play: \*\*([\d,]+)\*\*", stats).group(1).replace(",", ""))


def test_generate_and_distribution_over_the_api(client):
    chat, text, _notes, tokens, _pos = client.predict(
        SMOLLM, "Chat", PROMPT, [], **_settings(max_new_tokens=7), api_name="/generate")
    assert "Paris" in text
    assert chat[-1]["role"] == "assistant"
    assert "".join(t["token"] for t in tokens).startswith("The capital")

    raw = dict(model_name=SMOLLM, mode="Raw completion", prompt="The capital of France is",
               history=[])
    plot, stats, _table = client.predict(**raw, position=0, top_n=20,
                                         **_settings(do_sample=True, top_k=5),
                                         api_name="/distribution")
    figure = json.loads(plot["plot"])
    names = [trace.get("name") for trace in figure["data"]]
    assert {"raw", "after temperature", "after filters (sampled from)"} <= set(names)
    assert "removed by top-k" in names and _in_play(stats) == 5
    _, stats_all, _ = client.predict(**raw, position=0, top_n=20, **_settings(do_sample=True),
                                     api_name="/distribution")
    assert _in_play(stats_all) > 1000  # no filter: the whole vocabulary stays in play

    html, summary, _ = client.predict(**{**raw, "prompt": "Once upon a time"}, n=2,
                                      **_settings(do_sample=True, temperature=1.2,
                                                  max_new_tokens=6),
                                      api_name="/sample")
    assert html.count("pg-sample'") == 2 and "distinct-1" in summary


def test_bad_input_over_the_api_is_a_readable_error(client):
    with pytest.raises(AppError, match="empty"):
        client.predict(SMOLLM, "Chat", "  ", [], **_settings(), api_name="/generate")
    with pytest.raises(AppError, match="top_p 0"):
        client.predict(SMOLLM, "Chat", PROMPT, [], **_settings(top_p=0.0),
                       api_name="/generate")
    with pytest.raises(AppError, match="classifier"):
        client.predict("MiniLM-L6 (embedded)", "Chat", PROMPT, [], **_settings(),
                       api_name="/generate")
    with pytest.raises(AppError, match="offline|Hub"):
        client.predict("someone/not-a-cached-model", "Chat", PROMPT, [], **_settings(),
                       api_name="/generate")


def _stats_text(page) -> str:
    return page.locator("#pg-dist-stats").inner_text()


def test_moving_a_slider_redraws_the_chart(page):
    page.get_by_role("tab", name="Playground").click()
    page.get_by_role("button", name="Show distribution", exact=True).click()
    stats = page.locator("#pg-dist-stats")
    stats.get_by_text("Tokens in play").wait_for()
    before = _stats_text(page)
    assert "top-k" not in page.locator("#pg-dist-plot").inner_text()

    top_k_box = page.locator("#pg-top-k input[type=number]")
    top_k_box.fill("3")
    top_k_box.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('#pg-dist-stats').innerText.includes('Tokens in play: 3')")
    assert _stats_text(page) != before
    page.locator("#pg-dist-plot").get_by_text("removed by top-k").wait_for()


def test_generate_in_browser_colours_tokens(page):
    page.get_by_role("tab", name="Playground").click()
    page.locator("#pg-max-new-tokens input[type=number]").fill("8")
    page.locator("#pg-max-new-tokens input[type=number]").press("Enter")
    page.get_by_role("button", name="Generate", exact=True).click()
    page.locator("#pg-chat").get_by_text("Paris").wait_for()
    page.locator("#pg-tokens").get_by_text("capital").wait_for()
