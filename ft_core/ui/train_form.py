"""The training form: widgets for ModelConfig + TrainConfig, and the ONE place that turns
their values into a ``RunConfig``.

``TrainForm.inputs`` is ``[data_state, *widgets]`` and ``TrainForm.to_config(*values)``
takes those values in that order, so any handler (Start, Export, the hyperparameter
search panel) wires ``inputs=form.inputs`` and calls ``form.to_config(*values)``.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import gradio as gr

from ..catalog import MINILM, MODEL_PRESETS, presets_for
from ..config import DataConfig, ModelConfig, RunConfig, TrainConfig
from ..errors import UserError
from .state import AppContext

TASKS = [("Classification (text or text pair -> label)", "classification"),
         ("Causal LM: plain text (continued pre-training)", "causal_lm"),
         ("Causal LM: chat / instructions (SFT)", "causal_lm_chat")]
METHODS = [("Full fine-tuning", "full"), ("Head only (freeze the base)", "head"),
           ("LoRA (small adapters)", "lora")]
SCHEDULERS = ["linear", "cosine", "cosine_with_restarts", "polynomial", "constant",
              "constant_with_warmup", "inverse_sqrt"]
TRUNCATION_SIDES = [("Keep the start (cut the end)", "right"),
                    ("Keep the end (cut the start)", "left")]
BEST_METRICS = ["eval_loss", "eval_accuracy", "eval_f1_macro", "eval_perplexity"]

# Optional integer fields where 0 (or empty) means "off / none".
ZERO_IS_NONE = ("eval_steps", "save_steps", "save_total_limit", "early_stopping_patience")

_T, _M = TrainConfig(), ModelConfig()
_TH, _MH = TrainConfig.help(), ModelConfig.help()


def _number(name: str, label: str, integer: bool = False, minimum=None, **kw) -> gr.Number:
    default = getattr(_T, name)
    if name in ZERO_IS_NONE and default is None:
        default = 0
    info = _TH[name] + (" 0 = off." if name in ZERO_IS_NONE else "")
    return gr.Number(default, label=label, info=info, precision=0 if integer else None,
                     minimum=minimum, elem_id=f"train-{name}", **kw)


def model_note(model: str, task_choice: str) -> str:
    """A cheap, offline note on the chosen model (no weights loaded)."""
    task = "causal_lm" if task_choice.startswith("causal_lm") else "classification"
    model = (model or "").strip()
    preset = MODEL_PRESETS.get(model)
    if preset:
        note = f"**{model}**: {preset.note}."
        if preset.task != task:
            note += (f" ⚠️ This is a {preset.task.replace('_', ' ')} model but the task is "
                     f"{task.replace('_', ' ')}: pick a matching preset.")
        elif task == "classification":
            note += (" Its classification head is **newly initialised**: it starts random "
                     "and learns your labels during training.")
        return note
    folder = Path(model).expanduser()
    if (folder / "run.json").exists():
        return f"A fine-tuned run: training continues from `{folder.name}/model`."
    config_file = folder / "config.json"
    if config_file.is_file():
        try:
            archs = json.loads(config_file.read_text()).get("architectures") or []
        except (OSError, ValueError):
            archs = []
        has_head = any("SequenceClassification" in a for a in archs)
        if task == "classification" and not has_head:
            return ("Local model folder. Its classification head is **newly initialised** "
                    "(the folder has no trained head).")
        if task == "classification":
            return ("Local classifier. If your data has a different number of labels, the "
                    "head is **re-initialised** to match.")
        return "Local model folder."
    if not model:
        return "Pick a preset or type a Hub id / local folder."
    note = f"Hub model `{model}` (needs the internet the first time)."
    if task == "classification":
        note += (" Unless it is already a classifier for your labels, its classification "
                 "head is **newly initialised**.")
    return note


class TrainForm:
    """Builds the widgets (call inside a Blocks context) and converts their values."""

    def __init__(self, ctx: AppContext):
        self.ctx = ctx
        self.widgets: dict[str, gr.components.Component] = {}
        self._build()

    # -- layout ---------------------------------------------------------------------------

    def _build(self) -> None:
        w = self.widgets
        with gr.Row():
            w["task"] = gr.Radio(TASKS, value="classification", label="Task",
                                 elem_id="train-task", scale=2)
            w["method"] = gr.Radio(METHODS, value="full", label="Method", info=_MH["method"],
                                   elem_id="train-method", scale=2)
        with gr.Row():
            w["model"] = gr.Dropdown(presets_for("classification"), value=MINILM,
                                     allow_custom_value=True, label="Model",
                                     info="A preset, or type a Hub id, a local folder or a "
                                          "runs/<id> folder.", elem_id="train-model", scale=3)
            w["name"] = gr.Textbox("", label="Run name (optional)", elem_id="train-name",
                                   placeholder="e.g. minilm-reviews", scale=1)
        self.model_note = gr.Markdown(model_note(MINILM, "classification"),
                                      elem_id="train-model-note")
        with gr.Accordion("LoRA settings", open=True, visible=False) as self.lora_box:
            with gr.Row():
                w["lora_r"] = gr.Number(_M.lora_r, label="r", info=_MH["lora_r"], precision=0,
                                        minimum=1)
                w["lora_alpha"] = gr.Number(_M.lora_alpha, label="alpha",
                                            info=_MH["lora_alpha"], precision=0, minimum=1)
                w["lora_dropout"] = gr.Number(_M.lora_dropout, label="dropout",
                                              info=_MH["lora_dropout"], minimum=0, maximum=0.99)
            with gr.Row():
                w["lora_target_modules"] = gr.Textbox(
                    "", label="Target modules", info=_MH["lora_target_modules"] +
                    " Comma-separated, e.g. q_proj, v_proj.", placeholder="(defaults)")
                w["merge_lora"] = gr.Checkbox(_M.merge_lora, label="Also save a merged model",
                                              info=_MH["merge_lora"])
        with gr.Accordion("Basics", open=True):
            with gr.Row():
                w["learning_rate"] = _number("learning_rate", "Learning rate")
                w["num_train_epochs"] = _number("num_train_epochs", "Epochs", minimum=0)
                w["max_steps"] = _number("max_steps", "Max steps", integer=True)
            with gr.Row():
                w["per_device_train_batch_size"] = _number(
                    "per_device_train_batch_size", "Batch size", integer=True)
                w["max_length"] = _number("max_length", "Max length (tokens)", integer=True)
                w["truncation_side"] = gr.Dropdown(
                    TRUNCATION_SIDES, value=_T.truncation_side, label="Long texts",
                    info=_TH["truncation_side"], elem_id="train-truncation_side")
                w["seed"] = _number("seed", "Seed", integer=True)
        with gr.Accordion("Optimiser and schedule", open=False):
            with gr.Row():
                w["gradient_accumulation_steps"] = _number(
                    "gradient_accumulation_steps", "Gradient accumulation", integer=True)
                w["weight_decay"] = _number("weight_decay", "Weight decay", minimum=0)
                w["warmup_ratio"] = gr.Slider(0, 0.5, _T.warmup_ratio, step=0.01,
                                              label="Warm-up ratio", info=_TH["warmup_ratio"])
            with gr.Row():
                w["lr_scheduler_type"] = gr.Dropdown(SCHEDULERS, value=_T.lr_scheduler_type,
                                                     label="Scheduler",
                                                     info=_TH["lr_scheduler_type"])
                w["per_device_eval_batch_size"] = _number(
                    "per_device_eval_batch_size", "Eval batch size", integer=True)
                w["group_by_length"] = gr.Checkbox(_T.group_by_length, label="Group by length",
                                                   info=_TH["group_by_length"])
                w["class_weighting"] = gr.Checkbox(_T.class_weighting, label="Class weights",
                                                   info=_TH["class_weighting"],
                                                   elem_id="train-class_weighting")
        with gr.Accordion("Evaluation, logging and checkpoints", open=False):
            with gr.Row():
                w["eval_strategy"] = gr.Radio(["no", "steps", "epoch"], value=_T.eval_strategy,
                                              label="Evaluate", info=_TH["eval_strategy"],
                                              elem_id="train-eval_strategy")
                w["eval_steps"] = _number("eval_steps", "Eval every N steps", integer=True)
                w["logging_steps"] = _number("logging_steps", "Log every N steps",
                                             integer=True)
            with gr.Row():
                w["save_strategy"] = gr.Radio(["no", "steps", "epoch"], value=_T.save_strategy,
                                              label="Checkpoint", info=_TH["save_strategy"],
                                              elem_id="train-save_strategy")
                w["save_steps"] = _number("save_steps", "Checkpoint every N steps",
                                          integer=True)
                w["save_total_limit"] = _number("save_total_limit", "Keep checkpoints",
                                                integer=True)
            with gr.Row():
                w["early_stopping_patience"] = _number("early_stopping_patience",
                                                       "Early stopping patience", integer=True)
                w["load_best_model_at_end"] = gr.Checkbox(
                    _T.load_best_model_at_end, label="Load best model at end",
                    info=_TH["load_best_model_at_end"])
                w["eval_on_start"] = gr.Checkbox(_T.eval_on_start, label="Evaluate before "
                                                 "training", info=_TH["eval_on_start"])
                w["metric_for_best_model"] = gr.Dropdown(
                    [""] + BEST_METRICS, value="", allow_custom_value=True,
                    label="Metric for best model", info=_TH["metric_for_best_model"])
        with gr.Accordion("Hardware and chat data", open=False):
            with gr.Row():
                w["precision"] = gr.Radio(["auto", "fp32", "fp16", "bf16"],
                                          value=_T.precision, label="Precision",
                                          info=_TH["precision"])
                w["gradient_checkpointing"] = gr.Checkbox(
                    _T.gradient_checkpointing, label="Gradient checkpointing",
                    info=_TH["gradient_checkpointing"])
                w["loss_on_answers_only"] = gr.Checkbox(
                    _T.loss_on_answers_only, label="Loss on answers only (chat)",
                    info=_TH["loss_on_answers_only"])
        self._wire()

    def _wire(self) -> None:
        w = self.widgets
        w["task"].change(self._on_task, [w["task"], w["model"]], [w["model"], self.model_note],
                         show_progress="hidden", api_name=False)
        w["model"].change(model_note, [w["model"], w["task"]], self.model_note,
                          show_progress="hidden", api_name=False)
        w["method"].change(lambda m: gr.update(visible=m == "lora"), w["method"],
                           self.lora_box, show_progress="hidden", api_name=False)

    @staticmethod
    def _on_task(task_choice: str, model: str):
        task = "causal_lm" if task_choice.startswith("causal_lm") else "classification"
        choices = presets_for(task)
        preset = MODEL_PRESETS.get(model)
        if preset and preset.task != task:
            model = choices[0]
        return gr.update(choices=choices, value=model), model_note(model, task_choice)

    # -- values <-> config ------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return list(self.widgets)

    @property
    def components(self) -> list:
        return list(self.widgets.values())

    @property
    def inputs(self) -> list:
        """[data_state, *widgets]: pass as ``inputs=`` and hand the values to to_config."""
        return [self.ctx.data_state, *self.components]

    def named(self, fn):
        """``fn(data, *values, request=None)`` re-exposed with one named parameter per
        widget, so the API (gradio_client) shows 'learning_rate', not 'param_7'."""
        names = ["data", *self.names]
        params = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                  for n in names]
        # Gradio injects gr.Request only into a positional parameter annotated with it.
        params.append(inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                        default=None, annotation=gr.Request))
        signature = inspect.Signature(params)

        def call(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            values = [bound.arguments[n] for n in names]
            return fn(*values, request=bound.arguments.get("request"))

        call.__signature__ = signature
        call.__annotations__ = {"request": gr.Request}
        call.__name__ = getattr(fn, "__name__", "call")
        return call

    def to_config(self, data: dict | None, *values) -> RunConfig:
        """Build (and so validate) the RunConfig; UserError on any bad value."""
        if not data:
            raise UserError("Prepare a dataset in the Data tab first (or pick a recipe).",
                            hint="The Train tab trains on the dataset prepared there.")
        v = dict(zip(self.names, values, strict=True))
        task_choice = v.pop("task") or "classification"
        name = (v.pop("name") or "").strip() or None
        model_kw = {k: v.pop(k) for k in list(v) if k.startswith("lora_") or
                    k in ("merge_lora", "method", "model")}
        model_kw["name_or_path"] = (model_kw.pop("model") or "").strip()
        model_kw["task"] = "causal_lm" if task_choice.startswith("causal_lm") else \
            "classification"
        targets = model_kw.get("lora_target_modules") or ""
        model_kw["lora_target_modules"] = [t.strip() for t in str(targets).split(",")
                                           if t.strip()] or None
        train_kw = {k: _clean(k, val) for k, val in v.items()}
        train_kw["use_chat_template"] = task_choice == "causal_lm_chat"
        data_cfg = data if isinstance(data, DataConfig) else DataConfig.from_dict(data)
        return RunConfig(data=data_cfg, model=ModelConfig.from_dict(_ints(model_kw)),
                         train=TrainConfig.from_dict(train_kw), name=name,
                         runs_dir=str(self.ctx.runs_dir))

    def values_from(self, config: RunConfig) -> list:
        """Widget values that reproduce ``config`` (recipes, opening a run's config)."""
        m, t = config.model, config.train
        task = m.task
        if task == "causal_lm" and t.use_chat_template and config.data.response_column:
            task = "causal_lm_chat"
        values = {"task": task, "method": m.method, "model": m.name_or_path,
                  "name": config.name or "",
                  "lora_target_modules": ", ".join(m.lora_target_modules or [])}
        for name in self.names:
            if name in values:
                continue
            source = m if hasattr(m, name) else t
            value = getattr(source, name)
            if name in ZERO_IS_NONE and value is None:
                value = 0
            if name == "metric_for_best_model" and value is None:
                value = ""
            values[name] = value
        return [values[n] for n in self.names]


def _clean(name: str, value):
    """Widget value -> config field value (empty numbers are errors, 0 may mean None)."""
    if name in ZERO_IS_NONE:
        return int(value) if value else None
    if name == "metric_for_best_model":
        return value or None
    if value is None:
        label = name.replace("per_device_", "").replace("_", " ")
        raise UserError(f"The field '{label}' is empty.", hint="Type a number.")
    if isinstance(value, float) and value.is_integer() and name in (
            "max_steps", "per_device_train_batch_size", "per_device_eval_batch_size",
            "gradient_accumulation_steps", "max_length", "seed", "logging_steps"):
        return int(value)
    return value


def _ints(model_kw: dict) -> dict:
    for key in ("lora_r", "lora_alpha"):
        if model_kw.get(key) is None:
            raise UserError(f"LoRA {key.removeprefix('lora_')} is empty.", hint="Type a number.")
        model_kw[key] = int(model_kw[key])
    if model_kw.get("lora_dropout") is None:
        model_kw["lora_dropout"] = 0.0
    return model_kw
