"""The Compare tab: base vs fine-tuned (or any two models), side by side.

Only wiring: every button calls one function of ``ft_core.compare``. Per-session values
(which pair is open, the last results for export) live in gr.State; the models themselves
sit in the shared read-only caches of ft_core.models / ft_core.compare.pair.
"""

from __future__ import annotations

import random
import threading

import gradio as gr
import pandas as pd
import plotly.express as px

from .. import compare as C
from ..catalog import MODEL_PRESETS
from ..config import GenerationConfig
from ..errors import require
from .common import handler, session_id
from .state import AppContext

RUN_MODE, TWO_MODE = "A run: base vs fine-tuned", "Any two models"
RUN_SPLIT, UPLOAD = "The run's test split", "An uploaded file"
SETTINGS = ("do_sample", "temperature", "top_k", "top_p", "repetition_penalty", "num_beams",
            "max_new_tokens", "seed")

INTRO = """## Compare
What did fine-tuning change? Pick a finished run (left: its base model, right: the
fine-tuned one) or any two models, then look at single inputs and at whole-split metrics."""


def _runs_dir(ctx: AppContext, request: gr.Request | None) -> str:
    per_session = getattr(ctx, "runs_dir_for", None)
    return per_session(request) if per_session else str(ctx.runs_dir)


def _progress_cb(progress):
    return lambda done, total, desc: progress((done, total), desc=desc)


def confusion_figure(matrix, labels: list[str], title: str):
    fig = px.imshow(matrix, x=labels, y=labels, text_auto=True, color_continuous_scale="Blues",
                    labels={"x": "predicted", "y": "true", "color": "rows"}, title=title)
    fig.update_layout(height=360, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      coloraxis_showscale=False)
    return fig


def _round(df: pd.DataFrame) -> pd.DataFrame:
    return df.round(4)


# -- Stop flags per session (Stop must stop only this visitor's generation) ---------------

_stops: dict[str, threading.Event] = {}
_stops_lock = threading.Lock()


def _stop_event(request) -> threading.Event:
    with _stops_lock:
        event = _stops[session_id(request)] = threading.Event()
        return event


def _forget_session(request: gr.Request = None) -> None:
    with _stops_lock:
        _stops.pop(session_id(request), None)


class CompareTab:
    def __init__(self, ctx: AppContext):
        self.ctx = ctx

    # -- choosing -------------------------------------------------------------------------

    def run_choices(self, request: gr.Request = None):
        ids = [r["id"] for r in C.comparable_runs(_runs_dir(self.ctx, request))]
        models = list(MODEL_PRESETS) + ids
        return (gr.Dropdown(choices=ids, value=ids[0] if ids else None),
                gr.Dropdown(choices=models), gr.Dropdown(choices=models))

    def open(self, mode, run_id, left, right, request: gr.Request = None):
        spec = {"run": run_id} if mode == RUN_MODE else {"left": left, "right": right}
        pair = C.open_pair(spec, _runs_dir(self.ctx, request))
        is_cls = pair.task == "classification"
        return (spec, C.describe(pair), gr.update(visible=is_cls),
                gr.update(visible=not is_cls))

    def _pair(self, spec, request):
        require(bool(spec), "No models loaded yet.", hint="Choose a run or two models and "
                                                          "press 'Load models' first.")
        return C.open_pair(spec, _runs_dir(self.ctx, request))

    # -- classification: one input ------------------------------------------------------

    def _eval_set(self, pair, source, upload, text_col, label_col, pair_col):
        if source == UPLOAD:
            require(upload is not None, "No evaluation file uploaded.",
                    hint="Upload a CSV / JSONL file with a text and a label column.")
            return C.eval_set_from_file(upload, pair.labels, text_col.strip() or "text",
                                        label_col.strip() or "label",
                                        (pair_col or "").strip() or None)
        return C.eval_set_from_run(pair)

    def pick_row(self, spec, index, source, upload, text_col, label_col, pair_col,
                 request: gr.Request = None):
        pair = self._pair(spec, request)
        data = self._eval_set(pair, source, upload, text_col, label_col, pair_col)
        index = random.randrange(len(data.texts)) if index is None or index < 0 else int(index)
        text, text_pair, label = data.row(index)
        true = f"**True label (row {index}):** {pair.labels[label]}" if label is not None \
            else ""
        return index, text, text_pair or "", true

    def random_row(self, spec, source, upload, text_col, label_col, pair_col,
                   request: gr.Request = None):
        return self.pick_row(spec, -1, source, upload, text_col, label_col, pair_col, request)

    def predict(self, spec, text, text_pair, request: gr.Request = None):
        pair = self._pair(spec, request)
        return C.predict_one(pair, text, text_pair or None)

    # -- classification: whole split --------------------------------------------------------

    def evaluate(self, spec, source, upload, text_col, label_col, pair_col, batch_size,
                 request: gr.Request = None, progress=gr.Progress()):
        pair = self._pair(spec, request)
        progress(0, desc="Preparing the data")
        data = self._eval_set(pair, source, upload, text_col, label_col, pair_col)
        result = C.compare_classification(pair, data, C.Settings(batch_size=int(batch_size)),
                                          _progress_cb(progress))
        summary = (f"**{len(result.rows)} rows** from {data.source}, both models in "
                   f"{result.seconds:.1f} s.\n\n" + "\n".join(f"- {n}" for n in result.notes))
        state = {"result": result, "run_dir": str(pair.run_dir) if pair.run_dir else None}
        return (summary, _round(result.overall), _round(result.per_class),
                confusion_figure(result.confusion_left, result.labels, "Left: " +
                                 result.left_name),
                confusion_figure(result.confusion_right, result.labels, "Right: " +
                                 result.right_name),
                result.disagreements("all"), state)

    def filter_rows(self, state, which):
        require(bool(state), "Run the comparison on the whole split first.")
        return state["result"].disagreements(which)

    def export_classification(self, state, request: gr.Request = None):
        require(bool(state), "Nothing to export yet.",
                hint="Run the comparison on the whole split first.")
        out = C.report_dir(state["run_dir"], _runs_dir(self.ctx, request))
        paths = C.export_classification(state["result"], out)
        return [str(p) for p in paths], f"Saved to `{out}`."

    # -- causal LM --------------------------------------------------------------------------

    def generate(self, spec, prompt, chat, samples, do_sample, temperature, top_k, top_p,
                 repetition_penalty, num_beams, max_new_tokens, seed,
                 request: gr.Request = None):
        pair = self._pair(spec, request)
        cfg = GenerationConfig(do_sample=bool(do_sample), temperature=float(temperature),
                               top_k=int(top_k), top_p=float(top_p),
                               repetition_penalty=float(repetition_penalty),
                               num_beams=int(num_beams), max_new_tokens=int(max_new_tokens),
                               seed=int(seed or 0))
        stop = _stop_event(request)
        left = right = ""
        for left, right in C.generate_pair(pair, prompt, cfg, bool(chat), stop):
            yield left, right, samples
        settings = ", ".join(f"{k}={getattr(cfg, k)}" for k in SETTINGS)
        samples = list(samples or []) + [{"prompt": prompt, "chat": bool(chat), "left": left,
                                          "right": right, "settings": settings}]
        yield left, right, samples

    def stop(self, request: gr.Request = None):
        with _stops_lock:
            event = _stops.get(session_id(request))
        if event:
            event.set()

    def loss(self, spec, split, max_rows, upload, text_col, resp_col, lm_state,
             request: gr.Request = None, progress=gr.Progress()):
        pair = self._pair(spec, request)
        max_rows = int(max_rows) if max_rows else None
        if split == UPLOAD:
            require(upload is not None, "No evaluation file uploaded.",
                    hint="Upload a CSV / JSONL file with a text (and answer) column.")
            rows = C.lm_rows_from_file(upload, text_col.strip() or "text",
                                       (resp_col or "").strip() or None, max_rows)
        else:
            rows = C.lm_rows_from_run(pair, split, max_rows)
        result = C.compare_loss(pair, rows, progress=_progress_cb(progress))
        notes = f"Data: {result.source}\n\n" + "\n".join(f"- {n}" for n in result.notes)
        return _round(result.table), notes, {**(lm_state or {}), "loss": result}

    def next_token(self, spec, prefix, prompt, chat, top_n, lm_state,
                   request: gr.Request = None):
        pair = self._pair(spec, request)
        result = C.compare_next_token(pair, prefix or prompt, bool(chat), int(top_n))
        kl = (f"**KL(right ‖ left) = {result.kl_right_left:.4f} nats**, "
              f"KL(left ‖ right) = {result.kl_left_right:.4f} nats, after "
              f"{result.prefix_tokens} prefix tokens. 0 means the two models agree exactly.")
        return (kl, _round(result.top), _round(result.movers),
                {**(lm_state or {}), "next_token": result})

    def export_lm(self, spec, samples, lm_state, request: gr.Request = None):
        pair = self._pair(spec, request)
        lm_state = lm_state or {}
        out = C.report_dir(pair.run_dir, _runs_dir(self.ctx, request))
        paths = C.export_lm(out, (pair.left.name, pair.right.name), {"pair": spec},
                            samples=samples, loss=lm_state.get("loss"),
                            next_token=lm_state.get("next_token"), notes=pair.notes)
        return [str(p) for p in paths], f"Saved to `{out}`."


# -- Layout --------------------------------------------------------------------------------

def _settings_widgets() -> list:
    with gr.Accordion("Sampling settings (the same for both sides)", open=False):
        with gr.Row():
            do_sample = gr.Checkbox(False, label="do_sample", elem_id="cmp-do-sample")
            temperature = gr.Slider(0, 2, 0.7, step=0.05, label="temperature")
            top_k = gr.Slider(0, 200, 50, step=1, label="top_k")
            top_p = gr.Slider(0.01, 1, 0.95, step=0.01, label="top_p")
        with gr.Row():
            rep = gr.Slider(0.5, 2, 1.1, step=0.05, label="repetition_penalty")
            beams = gr.Slider(1, 8, 1, step=1, label="num_beams (> 1: not streamed)")
            max_new = gr.Slider(1, 512, 64, step=1, label="max_new_tokens",
                                elem_id="cmp-max-new")
            seed = gr.Number(0, precision=0, label="seed")
    return [do_sample, temperature, top_k, top_p, rep, beams, max_new, seed]


def build(ctx: AppContext) -> None:
    tab = CompareTab(ctx)
    gr.Markdown(INTRO)
    spec = gr.State(None)
    with gr.Row():
        mode = gr.Radio([RUN_MODE, TWO_MODE], value=RUN_MODE, label="Compare",
                        elem_id="cmp-mode")
        run_dd = gr.Dropdown([], label="Finished run", allow_custom_value=True,
                             elem_id="cmp-run")
        refresh_btn = gr.Button("Refresh runs", size="sm", elem_id="cmp-refresh")
    with gr.Row(visible=False) as two_row:
        left_dd = gr.Dropdown(list(MODEL_PRESETS), label="Left model (preset, Hub id, folder "
                              "or run id)", allow_custom_value=True, elem_id="cmp-left")
        right_dd = gr.Dropdown(list(MODEL_PRESETS), label="Right model",
                               allow_custom_value=True, elem_id="cmp-right")
    load_btn = gr.Button("Load models", variant="primary", elem_id="cmp-load")
    summary = gr.Markdown(elem_id="cmp-summary")

    with gr.Column(visible=False, elem_id="cmp-cls") as cls_col:
        cls = _classification_layout()
    with gr.Column(visible=False, elem_id="cmp-lm") as lm_col:
        lm = _lm_layout()

    # -- events ----------------------------------------------------------------------
    mode.change(lambda m: (gr.update(visible=m == TWO_MODE), gr.update(visible=m == RUN_MODE)),
                mode, [two_row, run_dd], api_name=False)
    choice_outputs = [run_dd, left_dd, right_dd]
    refresh_btn.click(handler(tab.run_choices), None, choice_outputs, api_name="compare_runs")
    demo = gr.context.Context.root_block
    if demo is not None:
        demo.load(handler(tab.run_choices), None, choice_outputs, api_name=False)
        demo.unload(_forget_session)
    load_btn.click(handler(tab.open), [mode, run_dd, left_dd, right_dd],
                   [spec, summary, cls_col, lm_col], api_name="compare_load")

    source_inputs = [cls["source"], cls["upload"], cls["text_col"], cls["label_col"],
                     cls["pair_col"]]
    row_outputs = [cls["row"], cls["text"], cls["text_pair"], cls["true"]]
    cls["pick"].click(handler(tab.pick_row), [spec, cls["row"], *source_inputs], row_outputs,
                      api_name="compare_pick_row")
    cls["random"].click(handler(tab.random_row), [spec, *source_inputs], row_outputs,
                        api_name=False)
    gr.on([cls["predict"].click, cls["text"].submit], handler(tab.predict),
          [spec, cls["text"], cls["text_pair"]], [cls["left_label"], cls["right_label"]],
          api_name="compare_predict")
    cls["eval"].click(handler(tab.evaluate), [spec, *source_inputs, cls["batch"]],
                      [cls["summary"], cls["overall"], cls["per_class"], cls["cm_left"],
                       cls["cm_right"], cls["rows"], cls["state"]],
                      api_name="compare_classification", concurrency_limit=2)
    cls["filter"].change(handler(tab.filter_rows), [cls["state"], cls["filter"]], cls["rows"],
                         api_name=False)
    cls["export"].click(handler(tab.export_classification), cls["state"],
                        [cls["files"], cls["saved"]], api_name="compare_export_classification")

    gen = gr.on([lm["generate"].click, lm["prompt"].submit], handler(tab.generate),
                [spec, lm["prompt"], lm["chat"], lm["samples"], *lm["settings"]],
                [lm["left_text"], lm["right_text"], lm["samples"]],
                api_name="compare_generate", concurrency_limit=2)
    lm["stop"].click(handler(tab.stop), None, None, cancels=[gen], queue=False,
                     api_name=False)
    lm["loss_btn"].click(handler(tab.loss),
                         [spec, lm["split"], lm["max_rows"], lm["upload"], lm["text_col"],
                          lm["resp_col"], lm["state"]],
                         [lm["loss"], lm["loss_notes"], lm["state"]],
                         api_name="compare_loss", concurrency_limit=2)
    lm["next_btn"].click(handler(tab.next_token),
                         [spec, lm["prefix"], lm["prompt"], lm["chat"], lm["top_n"],
                          lm["state"]],
                         [lm["kl"], lm["top"], lm["movers"], lm["state"]],
                         api_name="compare_next_token")
    lm["export"].click(handler(tab.export_lm), [spec, lm["samples"], lm["state"]],
                       [lm["files"], lm["saved"]], api_name="compare_export_lm")


def _classification_layout() -> dict:
    w: dict = {}
    gr.Markdown("### One input")
    with gr.Row():
        w["source"] = gr.Radio([RUN_SPLIT, UPLOAD], value=RUN_SPLIT, label="Rows come from",
                               elem_id="cmp-source")
        w["upload"] = gr.File(label="Evaluation file (.csv .tsv .json .jsonl)",
                              file_types=[".csv", ".tsv", ".json", ".jsonl"], type="filepath",
                              elem_id="cmp-upload")
        with gr.Column():
            w["text_col"] = gr.Textbox("text", label="Text column (file)")
            w["label_col"] = gr.Textbox("label", label="Label column (file)")
            w["pair_col"] = gr.Textbox("", label="Second text column (optional)")
    with gr.Row():
        w["row"] = gr.Number(0, precision=0, label="Row", elem_id="cmp-row")
        w["pick"] = gr.Button("Use this row", elem_id="cmp-pick")
        w["random"] = gr.Button("Random row", elem_id="cmp-random")
    w["text"] = gr.Textbox(label="Text", lines=3, elem_id="cmp-text",
                           placeholder="Type a text, or pick a row")
    w["text_pair"] = gr.Textbox(label="Second text (sentence-pair tasks only)", lines=1)
    w["true"] = gr.Markdown(elem_id="cmp-true")
    w["predict"] = gr.Button("Predict with both", variant="primary", elem_id="cmp-predict")
    with gr.Row():
        w["left_label"] = gr.Label(label="Left (base)", num_top_classes=10,
                                   elem_id="cmp-left-label")
        w["right_label"] = gr.Label(label="Right (fine-tuned)", num_top_classes=10,
                                    elem_id="cmp-right-label")
    gr.Markdown("### Whole split")
    with gr.Row():
        w["batch"] = gr.Slider(1, 128, 32, step=1, label="Batch size")
        w["eval"] = gr.Button("Compare on the whole split", variant="primary",
                              elem_id="cmp-eval")
    w["summary"] = gr.Markdown(elem_id="cmp-eval-summary")
    w["overall"] = gr.Dataframe(label="Metrics (difference = right - left)",
                                interactive=False, elem_id="cmp-overall")
    w["per_class"] = gr.Dataframe(label="Per class", interactive=False, elem_id="cmp-per-class")
    with gr.Row():
        w["cm_left"] = gr.Plot(label="Confusion matrix, left")
        w["cm_right"] = gr.Plot(label="Confusion matrix, right")
    w["filter"] = gr.Radio(list(C.OUTCOMES.values()), value=C.OUTCOMES["all"],
                           label="Rows where they disagree", elem_id="cmp-filter")
    w["rows"] = gr.Dataframe(interactive=False, wrap=True, max_height=400,
                             elem_id="cmp-rows")
    w["state"] = gr.State(None)
    with gr.Row():
        w["export"] = gr.Button("Export report (Markdown + CSV)", elem_id="cmp-export")
        w["saved"] = gr.Markdown()
    w["files"] = gr.File(label="Report files", file_count="multiple", interactive=False)
    return w


def _lm_layout() -> dict:
    w: dict = {}
    gr.Markdown("### One prompt, both models")
    with gr.Row():
        w["prompt"] = gr.Textbox(label="Prompt", lines=2, elem_id="cmp-prompt", scale=4)
        w["chat"] = gr.Checkbox(True, label="Chat (use the chat template)", elem_id="cmp-chat")
    w["settings"] = _settings_widgets()
    with gr.Row():
        w["generate"] = gr.Button("Generate with both", variant="primary",
                                  elem_id="cmp-generate")
        w["stop"] = gr.Button("Stop", variant="stop", elem_id="cmp-stop")
    with gr.Row():
        w["left_text"] = gr.Textbox(label="Left (base)", lines=8, elem_id="cmp-left-text")
        w["right_text"] = gr.Textbox(label="Right (fine-tuned)", lines=8,
                                     elem_id="cmp-right-text")
    w["samples"] = gr.State([])
    gr.Markdown("### Held-out loss and perplexity")
    with gr.Row():
        w["split"] = gr.Radio(["validation", "test", UPLOAD], value="validation",
                              label="Data", elem_id="cmp-lm-split")
        w["max_rows"] = gr.Number(200, precision=0, label="At most this many rows")
        w["upload"] = gr.File(label="Evaluation file", type="filepath",
                              file_types=[".csv", ".tsv", ".json", ".jsonl"])
        with gr.Column():
            w["text_col"] = gr.Textbox("text", label="Text / prompt column (file)")
            w["resp_col"] = gr.Textbox("", label="Answer column (file, optional)")
    w["loss_btn"] = gr.Button("Compute held-out loss", elem_id="cmp-loss-btn")
    w["loss"] = gr.Dataframe(interactive=False, elem_id="cmp-loss")
    w["loss_notes"] = gr.Markdown()
    gr.Markdown("### Next-token distribution at the same prefix")
    with gr.Row():
        w["prefix"] = gr.Textbox(label="Prefix (empty: the prompt above)", scale=4)
        w["top_n"] = gr.Slider(5, 40, 15, step=1, label="Tokens shown")
    w["next_btn"] = gr.Button("Compare next-token distributions", elem_id="cmp-next-btn")
    w["kl"] = gr.Markdown(elem_id="cmp-kl")
    w["top"] = gr.Dataframe(label="Top tokens of either model", interactive=False,
                            elem_id="cmp-top")
    w["movers"] = gr.Dataframe(label="Tokens whose rank moved most (rank change > 0: up)",
                               interactive=False)
    w["state"] = gr.State({})
    with gr.Row():
        w["export"] = gr.Button("Export report (Markdown + CSV)", elem_id="cmp-lm-export")
        w["saved"] = gr.Markdown()
    w["files"] = gr.File(label="Report files", file_count="multiple", interactive=False)
    return w

