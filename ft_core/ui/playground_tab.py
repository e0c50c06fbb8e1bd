"""The Playground tab: generate with any causal LM and watch the next-token distribution.

Wiring only: generation, beams, samples and the distribution transforms live in
ft_core.generate and ft_core.distribution. The logits for a prefix are cached there, so
moving a slider reruns only the cheap transforms and redraws the chart.
"""

from __future__ import annotations

import html
import inspect
import threading

import gradio as gr
import pandas as pd
import plotly.graph_objects as go

from .. import distribution as D
from .. import generate as G
from ..catalog import SMOLLM, presets_for
from ..config import GenerationConfig
from ..runs import list_runs
from .common import handler, session_id
from .state import AppContext

# Widget order = the order of the values the handlers receive after their fixed inputs.
SETTINGS = ("do_sample", "temperature", "top_k", "top_p", "min_p", "typical_p",
            "repetition_penalty", "no_repeat_ngram_size", "num_beams", "length_penalty",
            "early_stopping", "num_return_sequences", "max_new_tokens", "seed")
CHAT, RAW = "Chat", "Raw completion"
PROB_COLOURS = {"≥ 50%": "#2e7d32", "20–50%": "#9ccc65", "5–20%": "#ffca28", "< 5%": "#ef5350"}
STEP_COLOURS = {"no-repeat n-gram": "#6d4c41", "temperature 0 (greedy)": "#455a64",
                "top-k": "#e53935", "top-p": "#8e24aa", "min-p": "#fb8c00",
                "typical-p": "#1e88e5"}

# Per-session stop flags for running generations (keyed by session hash, removed when the
# generation ends): one visitor's Stop never stops anyone else.
_stop_events: dict[str, threading.Event] = {}


def settings_config(*values) -> GenerationConfig:
    data = dict(zip(SETTINGS, values, strict=True))
    for name in ("top_k", "no_repeat_ngram_size", "num_beams", "num_return_sequences",
                 "max_new_tokens"):
        data[name] = int(data[name])
    data["seed"] = None if data["seed"] in (None, "") else int(data["seed"])
    return GenerationConfig.from_dict(data)


def _model_choices(runs_dir: str) -> list[str]:
    runs = [r["path"] for r in list_runs(runs_dir)
            if r.get("task") == "causal_lm" and r.get("status") in ("finished", "stopped")]
    return presets_for("causal_lm") + runs


# -- Distribution chart ---------------------------------------------------------------------

def _prob_class(p: float) -> str:
    return "≥ 50%" if p >= 0.5 else "20–50%" if p >= 0.2 else "5–20%" if p >= 0.05 else "< 5%"


def distribution_figure(view: D.DistributionView, tokenizer, cfg: GenerationConfig, n: int,
                        chosen: int | None = None) -> go.Figure:
    """Bars for the top-n tokens (raw / after temperature / after filters), removed tokens
    marked with the step that removed them, and the cumulative (nucleus) mass line."""
    ids = view.top(n)
    labels = [f"{i + 1}. {G.show_token(tokenizer, t)}" + (" ◀" if t == chosen else "")
              for i, t in enumerate(ids)]
    raw = [float(view.raw_probs[t]) for t in ids]
    temp = [float(view.temp_probs[t]) for t in ids]
    final = [float(view.final_probs[t]) for t in ids]
    fig = go.Figure()
    fig.add_bar(x=labels, y=raw, name="raw", marker_color="#b0bec5")
    fig.add_bar(x=labels, y=temp, name="after temperature", marker_color="#64b5f6")
    fig.add_bar(x=labels, y=final, name="after filters (sampled from)", marker_color="#1565c0")
    removed = [(lab, tp, view.step_of(t)) for lab, tp, t in zip(labels, temp, ids, strict=True)
               if view.step_of(t)]
    for step in dict.fromkeys(s for _, _, s in removed):
        pts = [(lab, tp) for lab, tp, s in removed if s == step]
        fig.add_scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="markers+text",
                        marker=dict(symbol="x", size=11, color=STEP_COLOURS.get(step, "#000")),
                        text=["✗"] * len(pts), textposition="top center",
                        name=f"removed by {step}")
    cumulative, total = [], 0.0
    for p in temp:
        total += p
        cumulative.append(total)
    fig.add_scatter(x=labels, y=cumulative, mode="lines+markers", name="cumulative mass",
                    line=dict(color="#43a047", dash="dot"), yaxis="y2")
    if cfg.top_p < 1:
        fig.add_hline(y=cfg.top_p, line_dash="dash", line_color="#8e24aa", yref="y2",
                      annotation_text=f"top_p = {cfg.top_p}", annotation_position="top left")
    fig.update_layout(barmode="group", height=420, margin=dict(l=40, r=50, t=40, b=90),
                      yaxis=dict(title="probability", rangemode="tozero"),
                      yaxis2=dict(title="cumulative", overlaying="y", side="right",
                                  range=[0, 1.05], showgrid=False),
                      legend=dict(orientation="h", y=1.12), xaxis=dict(tickangle=-40),
                      title=dict(text="Next-token distribution", x=0.01, y=0.99))
    return fig


def _placeholder(message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper",
                       yref="paper", font=dict(size=15))
    fig.update_layout(height=420, xaxis=dict(visible=False), yaxis=dict(visible=False))
    return fig


def _stats(view: D.DistributionView, where: str, chosen_note: str) -> str:
    parts = [f"**{where}**{chosen_note}",
             f"Tokens in play: **{view.tokens_in_play:,}** · nucleus mass kept: "
             f"**{view.nucleus_mass:.3f}** · entropy: **{view.entropy_raw:.2f} bits** raw → "
             f"**{view.entropy_final:.2f} bits** after the steps (like choosing among "
             f"~{D.effective_choices(view.entropy_final):.1f} equally likely tokens)",
             f"Steps applied: {' → '.join(view.steps) or 'none (all settings neutral)'}",
             D.ORDER_NOTE]
    if view.greedy_reason:
        parts.insert(1, f"⚠️ {view.greedy_reason}")
    return "\n\n".join(parts)


def _alternatives(view: D.DistributionView, tokenizer, n: int, chosen: int | None):
    rows = [{"token": G.show_token(tokenizer, t), "raw p": round(float(view.raw_probs[t]), 4),
             "after temperature": round(float(view.temp_probs[t]), 4),
             "after filters": round(float(view.final_probs[t]), 4),
             "removed by": view.step_of(t) or "", "chosen": "◀" if t == chosen else ""}
            for t in view.top(n)]
    return pd.DataFrame(rows)


def _prefix(tokenizer, model, mode, prompt, history, position, state, cfg):
    """Prefix ids for the view: the last generation up to ``position`` when it is what the
    prompt box shows, else the prompt box itself. Returns (ids, position, chosen, label)."""
    if state and (not (prompt or "").strip() or prompt == state.get("prompt")) \
            and state.get("mode") == mode:
        out = state["output_ids"]
        pos = max(0, min(int(position or 0), len(out)))
        chosen = out[pos] if pos < len(out) else None
        label = "After the prompt" if pos == 0 else f"After {pos} generated token(s)"
        return state["input_ids"] + out[:pos], pos, chosen, label
    budget = G.input_budget(model, tokenizer, cfg)
    ids, _ = G.build_inputs(tokenizer, prompt, mode == CHAT, history, budget)
    return ids[0].tolist(), 0, None, "After the prompt (not generated yet)"


def show_distribution(model_name, mode, prompt, history, position, top_n, state, *settings):
    """(figure, stats markdown, alternatives table) for the chosen prefix and settings."""
    cfg = settings_config(*settings)
    if state and state.get("model") != model_name:
        state = None  # that generation's token ids belong to another tokenizer
    if not (prompt or "").strip() and not state:
        return _placeholder("Type a prompt to see the next-token distribution"), \
            "Type a prompt, then move the sliders.", pd.DataFrame()
    model, tokenizer = G.load_causal_lm(model_name)
    ids, pos, chosen, label = _prefix(tokenizer, model, mode, prompt, history, position,
                                      state, cfg)
    view = D.apply_transforms(D.next_token_distribution(model, tokenizer, ids), cfg,
                              input_ids=ids)
    chosen_note = ""
    if chosen is not None:
        rank = int((view.raw_probs > view.raw_probs[chosen]).sum()) + 1
        chosen_note = (f": the model then chose **{G.show_token(tokenizer, chosen)}** "
                       f"(raw p = {float(view.raw_probs[chosen]):.3f}, rank {rank}) ◀")
    n = int(top_n)
    return (distribution_figure(view, tokenizer, cfg, n, chosen),
            _stats(view, label, chosen_note), _alternatives(view, tokenizer, n, chosen))


# -- Generation -----------------------------------------------------------------------------

def _token_view(infos: list[G.TokenInfo]) -> list[tuple[str, str]]:
    return [(i.text, _prob_class(i.prob)) for i in infos]


def _notes_md(notes: list[str]) -> str:
    return "\n".join(f"- {n}" for n in notes)


def _chat_turn(history, prompt, text):
    return list(history or []) + [{"role": "user", "content": prompt},
                                  {"role": "assistant", "content": text}]


def run_generation(model_name, mode, prompt, history, *settings, request: gr.Request = None):
    """Stream the answer; at the end colour its tokens and remember them for the views."""
    cfg = settings_config(*settings)
    model, tokenizer = G.load_causal_lm(model_name)
    chat, sid = mode == CHAT, session_id(request)
    stop = _stop_events[sid] = threading.Event()
    try:
        if cfg.num_beams > 1 and not cfg.do_sample:
            yield from _beam_generation(model, tokenizer, model_name, mode, prompt, history, cfg)
            return
        update = None
        for update in G.stream_updates(model, tokenizer, prompt, cfg, chat, history, stop):
            shown = _chat_turn(history, prompt, update.text) if chat else history
            yield (shown, update.text, _notes_md(update.notes), gr.skip(), gr.skip(),
                   gr.skip())
        infos = G.token_infos(model, tokenizer, update.input_ids, update.output_ids)
        yield _finish(model_name, mode, prompt, history, update.text, update.input_ids,
                      update.output_ids, infos, update.notes, chat)
    finally:
        if _stop_events.get(sid) is stop:
            del _stop_events[sid]


def _finish(model_name, mode, prompt, history, text, input_ids, output_ids, infos, notes,
            chat):
    state = {"model": model_name, "mode": mode, "prompt": prompt,
             "input_ids": input_ids[0].tolist(), "output_ids": list(output_ids)}
    slider = gr.Slider(minimum=0, maximum=max(1, len(output_ids)), value=0, step=1)
    shown = _chat_turn(history, prompt, text) if chat else history
    return shown, text, _notes_md(notes), _token_view(infos), slider, state


def _beam_generation(model, tokenizer, model_name, mode, prompt, history, cfg):
    result = G.beam_search(model, tokenizer, prompt, cfg, mode == CHAT, history)
    best = result["beams"][0]
    notes = result["notes"] + ["Beam search cannot stream; returned beams (length-normalised "
                               "log-prob score): " + "; ".join(
                                   f"{b['score']:.3f}: {b['text'][:80]!r}"
                                   for b in result["beams"])]
    infos = G.token_infos(model, tokenizer, result["input_ids"], best["tokens"])
    yield _finish(model_name, mode, prompt, history, best["text"], result["input_ids"],
                  best["tokens"], infos, notes, mode == CHAT)


def request_stop(request: gr.Request = None):
    event = _stop_events.get(session_id(request))
    if event is not None:
        event.set()
        return "Stopping…"
    return "Nothing is running."


def pick_token(evt: gr.SelectData):
    """Clicking a generated token moves the view to the step where it was chosen."""
    index = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
    return gr.Slider(value=int(index or 0))


# -- Samples and beams -------------------------------------------------------------------------

def _samples_html(texts: list[str]) -> str:
    cells = "".join(f"<div class='pg-sample'><b>#{i + 1}</b><br>{html.escape(t)}</div>"
                    for i, t in enumerate(texts))
    return ("<div id='pg-samples-grid' style='display:grid;grid-template-columns:"
            f"repeat({min(len(texts), 4)},1fr);gap:8px'>{cells}</div>"
            "<style>.pg-sample{border:1px solid #ccc;border-radius:6px;padding:6px;"
            "white-space:pre-wrap;font-size:0.9em}</style>")


def run_samples(model_name, mode, prompt, history, n, *settings):
    cfg = settings_config(*settings)
    model, tokenizer = G.load_causal_lm(model_name)
    texts, notes = G.sample_n(model, tokenizer, prompt, cfg, int(n), mode == CHAT, history)
    d = G.diversity(texts)
    summary = (f"distinct-1 **{d['distinct_1']:.3f}** · distinct-2 **{d['distinct_2']:.3f}** · "
               f"repetition rate **{d['repetition_rate']:.3f}** · identical texts "
               f"**{d['identical_texts']}** · mean length {d['mean_words']} words\n\n"
               "distinct-n: unique word n-grams / all n-grams over the samples (higher = more "
               "varied); repetition rate: share of bigrams a text repeats from itself.")
    return _samples_html(texts), summary + ("\n\n" + _notes_md(notes) if notes else ""), \
        {"texts": texts, **d}


def run_beam_view(model_name, mode, prompt, history, *settings):
    cfg = settings_config(*settings)
    model, tokenizer = G.load_causal_lm(model_name)
    result = G.beam_search(model, tokenizer, prompt, cfg, mode == CHAT, history)
    beams = pd.DataFrame([{"rank": i + 1, "text": b["text"], "score": round(b["score"], 4)}
                          for i, b in enumerate(result["beams"])])
    steps = pd.DataFrame([{"step": s + 1, "beam": r + 1,
                           "text so far": beam["text"].replace("\n", "↵")[-120:],
                           "cumulative log-prob": round(beam["logprob"], 3)}
                          for s, step in enumerate(result["steps"])
                          for r, beam in enumerate(step)])
    return beams, steps, _notes_md(result["notes"])


def apply_preset(name):
    values, explanation = G.PRESETS[name]
    cfg = G.preset_config(name)
    updates = [getattr(cfg, f) for f in SETTINGS]
    return [f"**{name}**: {explanation}"] + updates


def _api(fn, fixed: list[str]):
    """handler(fn) whose signature names every setting, so API clients see real names."""
    wrapped = handler(fn)
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [inspect.Parameter(n, kind) for n in fixed + list(SETTINGS)]
    if "request" in inspect.signature(fn).parameters:
        params.append(inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY,
                                        default=None, annotation=gr.Request))
    wrapped.__signature__ = inspect.Signature(params)
    return wrapped


# -- Layout --------------------------------------------------------------------------------

def _settings_widgets() -> dict:
    w = {}
    with gr.Row():
        w["do_sample"] = gr.Checkbox(False, label="sample (do_sample)", elem_id="pg-do-sample",
                                     info="Off: greedy / beams. On: draw at random.")
        w["temperature"] = gr.Slider(0, 2, 1.0, step=0.05, label="temperature",
                                     elem_id="pg-temperature",
                                     info="<1 sharpens, >1 flattens; 0 = greedy")
        w["top_k"] = gr.Slider(0, 200, 0, step=1, label="top_k", elem_id="pg-top-k",
                               info="keep the k most likely (0 = off)")
        w["top_p"] = gr.Slider(0, 1, 1.0, step=0.01, label="top_p", elem_id="pg-top-p",
                               info="smallest set with this mass (1 = off; 0 refused)")
    with gr.Row():
        w["min_p"] = gr.Slider(0, 0.99, 0.0, step=0.01, label="min_p", elem_id="pg-min-p",
                               info="drop tokens below min_p × top prob")
        w["typical_p"] = gr.Slider(0.01, 1, 1.0, step=0.01, label="typical_p",
                                   elem_id="pg-typical-p", info="locally typical mass (1 = off)")
        w["repetition_penalty"] = gr.Slider(0.5, 2, 1.0, step=0.05, label="repetition_penalty",
                                            elem_id="pg-rep-penalty", info=">1 discourages repeats")
        w["no_repeat_ngram_size"] = gr.Slider(0, 6, 0, step=1, label="no_repeat_ngram_size",
                                              info="ban repeating n-grams (0 = off)")
    with gr.Row():
        w["num_beams"] = gr.Slider(1, 8, 1, step=1, label="num_beams", elem_id="pg-num-beams")
        w["length_penalty"] = gr.Slider(-2, 2, 1.0, step=0.1, label="length_penalty (beams)")
        w["early_stopping"] = gr.Checkbox(False, label="early_stopping (beams)")
        w["num_return_sequences"] = gr.Slider(1, 8, 1, step=1, label="num_return_sequences")
        w["max_new_tokens"] = gr.Slider(1, 512, 64, step=1, label="max_new_tokens",
                                        elem_id="pg-max-new-tokens")
        w["seed"] = gr.Number(0, label="seed", precision=0, elem_id="pg-seed",
                              info="same settings + seed = same text")
    return w


def build(ctx: AppContext) -> None:
    gr.Markdown("## Playground\nGenerate with a real model and watch what temperature, "
                "top-k, top-p, min-p and beams do to the next-token distribution.")
    with gr.Row():
        model = gr.Dropdown(_model_choices(ctx.runs_dir), value=SMOLLM, allow_custom_value=True,
                            label="Model (preset, finished run, Hub id or folder)",
                            elem_id="pg-model", scale=4)
        refresh = gr.Button("↻ runs", scale=0, elem_id="pg-refresh")
        mode = gr.Radio([CHAT, RAW], value=CHAT, label="Mode", elem_id="pg-mode", scale=2)
    with gr.Row():
        preset = gr.Radio(list(G.PRESETS), value="greedy", label="Preset", elem_id="pg-preset")
        preset_note = gr.Markdown(f"**greedy**: {G.PRESETS['greedy'][1]}")
    with gr.Accordion("Settings", open=True):
        widgets = _settings_widgets()
    settings = [widgets[name] for name in SETTINGS]

    chatbot = gr.Chatbot(label="Conversation", elem_id="pg-chat", height=260)
    output = gr.Textbox(label="Generated text", lines=4, elem_id="pg-output", interactive=False)
    prompt = gr.Textbox(label="Prompt", lines=2, elem_id="pg-prompt",
                        value="What is the capital of France?")
    with gr.Row():
        go_btn = gr.Button("Generate", variant="primary", elem_id="pg-generate")
        stop_btn = gr.Button("Stop", variant="stop", elem_id="pg-stop")
        clear_btn = gr.Button("Clear conversation", elem_id="pg-clear")
    notes = gr.Markdown(elem_id="pg-notes")
    gen_state = gr.State(None)

    gr.Markdown("### The next-token distribution")
    tokens = gr.HighlightedText(label="Generated tokens, coloured by the model's probability "
                                "(click one to see what else it could have chosen)",
                                color_map=PROB_COLOURS, show_legend=True,
                                show_inline_category=False, elem_id="pg-tokens")
    with gr.Row():
        position = gr.Slider(0, 1, 0, step=1, label="Position (0 = right after the prompt)",
                             elem_id="pg-position")
        top_n = gr.Slider(5, 40, 20, step=1, label="Tokens shown", elem_id="pg-top-n")
        show_btn = gr.Button("Show distribution", elem_id="pg-show-dist", scale=0)
    dist_plot = gr.Plot(label="Top tokens: raw, after temperature, after filters",
                        elem_id="pg-dist-plot")
    dist_stats = gr.Markdown(elem_id="pg-dist-stats")
    alternatives = gr.Dataframe(label="Alternatives at this position", elem_id="pg-alts",
                                interactive=False)

    with gr.Accordion("Sample N times", open=False):
        with gr.Row():
            n_samples = gr.Slider(2, 8, 4, step=1, label="N", elem_id="pg-n-samples")
            sample_btn = gr.Button("Sample N times", elem_id="pg-sample")
        samples_html = gr.HTML(elem_id="pg-samples")
        diversity_md = gr.Markdown(elem_id="pg-diversity")
        samples_json = gr.JSON(visible=False)
    with gr.Accordion("Beam view", open=False):
        gr.Markdown("Runs beam search with the current num_beams (sampling off) and lists the "
                    "beams kept at every step with their cumulative log-probabilities, as "
                    "transformers' beam search kept them.")
        beam_btn = gr.Button("Show beam search steps", elem_id="pg-beams")
        beams_df = gr.Dataframe(label="Returned beams", elem_id="pg-beams-out",
                                interactive=False)
        steps_df = gr.Dataframe(label="Beams kept at each step", elem_id="pg-beam-steps",
                                interactive=False)
        beam_notes = gr.Markdown()

    # -- wiring --
    base = [model, mode, prompt, chatbot]
    dist_inputs = base + [position, top_n, gen_state] + settings
    dist_outputs = [dist_plot, dist_stats, alternatives]
    base_names = ["model_name", "mode", "prompt", "history"]
    show_dist = _api(show_distribution, base_names + ["position", "top_n", "state"])

    def refresh_models(request: gr.Request):
        return gr.Dropdown(choices=_model_choices(ctx.runs_dir_for(request)))

    private = dict(queue=False, api_visibility="private")
    refresh.click(refresh_models, None, model, **private)
    mode.change(lambda m: gr.Chatbot(visible=m == CHAT), mode, chatbot, **private)
    preset.change(apply_preset, preset, [preset_note] + settings, **private)
    gen_event = gr.on([go_btn.click, prompt.submit], _api(run_generation, base_names),
                      base + settings, [chatbot, output, notes, tokens, position, gen_state],
                      api_name="generate", concurrency_limit=4)
    gen_event.then(show_dist, dist_inputs, dist_outputs, show_progress="hidden",
                   api_visibility="private")
    stop_btn.click(request_stop, None, notes, queue=False, api_name="stop")
    clear_btn.click(lambda: ([], "", None, [], ""), None,
                    [chatbot, output, gen_state, tokens, notes], **private)
    tokens.select(pick_token, None, position, **private)
    gr.on([show_btn.click], show_dist, dist_inputs, dist_outputs, api_name="distribution")
    # Every knob redraws the chart; the logits are cached, so this costs milliseconds.
    gr.on([w.change for w in settings] + [position.change, top_n.change, mode.change],
          show_dist, dist_inputs, dist_outputs, trigger_mode="always_last",
          show_progress="hidden", api_visibility="private")
    sample_btn.click(_api(run_samples, base_names + ["n"]),
                     base + [n_samples] + settings,
                     [samples_html, diversity_md, samples_json], api_name="sample",
                     concurrency_limit=2)
    beam_btn.click(_api(run_beam_view, base_names), base + settings,
                   [beams_df, steps_df, beam_notes], api_name="beams", concurrency_limit=2)
