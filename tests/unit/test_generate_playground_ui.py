"""The Playground tab's handlers, called directly on a tiny Llama (no server)."""

import pytest

from ft_core.errors import UserError
from ft_core.ui import playground_tab as P

DEFAULTS = dict(do_sample=False, temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, typical_p=1.0,
                repetition_penalty=1.0, no_repeat_ngram_size=0, num_beams=1, length_penalty=1.0,
                early_stopping=False, num_return_sequences=1, max_new_tokens=6, seed=0)


def _values(**kw):
    merged = {**DEFAULTS, **kw}
    return [merged[name] for name in P.SETTINGS]


def test_settings_and_presets():
    cfg = P.settings_config(*_values(top_k=7.0, seed=""))
    assert cfg.top_k == 7 and cfg.seed is None
    with pytest.raises(UserError, match="top_p 0"):
        P.settings_config(*_values(top_p=0.0))
    note, *values = P.apply_preset("creative")
    assert "creative" in note and len(values) == len(P.SETTINGS)
    assert dict(zip(P.SETTINGS, values, strict=True))["temperature"] > 1


def test_distribution_handler_and_generation_state(tiny_llama_dir):
    model = str(tiny_llama_dir)
    fig, stats, table = P.show_distribution(model, P.RAW, "Hello", [], 0, 10, None,
                                            *_values(do_sample=True, top_k=3))
    names = [t.name for t in fig.data]
    assert "raw" in names and "removed by top-k" in names
    assert "Tokens in play: **3**" in stats and "Order" in stats
    assert len(table) == 10 and (table["removed by"] == "top-k").sum() == 7

    *_, final = P.run_generation(model, P.RAW, "Hello", [], *_values())
    _chat, text, _notes, tokens, _slider, state = final
    assert state["output_ids"] and "".join(t for t, _ in tokens).startswith(text[:1])
    _, stats2, table2 = P.show_distribution(model, P.RAW, "Hello", [], 2, 10, state,
                                            *_values())
    assert "After 2 generated token(s)" in stats2 and "◀" in "".join(table2["chosen"])
    placeholder, msg, _ = P.show_distribution(model, P.RAW, "", [], 0, 10, None, *_values())
    assert "Type a prompt" in msg


def test_stop_without_a_running_generation():
    assert P.request_stop(None) == "Nothing is running."


def test_stop_is_per_session(tiny_llama_dir):
    from types import SimpleNamespace
    model = str(tiny_llama_dir)
    mine, other = SimpleNamespace(session_hash="me"), SimpleNamespace(session_hash="other")
    values = _values(max_new_tokens=200)
    gen_mine = P.run_generation(model, P.RAW, "Hello", [], *values, request=mine)
    gen_other = P.run_generation(model, P.RAW, "Hello", [], *values, request=other)
    next(gen_mine)
    next(gen_other)
    assert P.request_stop(mine) == "Stopping…"
    *_, last_mine = gen_mine
    assert "Stopped." in last_mine[2] and len(last_mine[5]["output_ids"]) < 200
    assert "other" in P._stop_events and not P._stop_events["other"].is_set()
    gen_other.close()


def test_beam_view_handler(tiny_llama_dir):
    beams, steps, _notes = P.run_beam_view(str(tiny_llama_dir), P.RAW, "Hello", [],
                                           *_values(num_beams=3, num_return_sequences=2))
    assert len(beams) == 2 and list(beams["rank"]) == [1, 2]
    assert steps["beam"].max() <= 3 and steps["step"].max() >= 2
    with pytest.raises(UserError, match="num_beams"):
        P.run_beam_view(str(tiny_llama_dir), P.RAW, "Hello", [], *_values())
