"""Choosing what to compare: a finished run (base vs fine-tuned) or any two models.

A ``ComparePair`` holds two ``Side``s that share nothing but the task. For a LoRA run both
sides are the *same* peft model: the left side runs it inside ``disable_adapter()``, so the
base weights are held once. Models come from shared read-only caches (keyed by the model's
identity), so re-opening a pair in the next click costs nothing.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from .. import models, runs
from ..catalog import ModelSource, resolve_model
from ..config import RunConfig
from ..errors import UserError

_GENERIC_LABEL = re.compile(r"^LABEL_\d+$")

# One lock per loaded model: a LoRA model toggled for one session must not be toggled
# back by another session half-way through a forward pass.
_locks: dict[int, threading.RLock] = {}
_locks_guard = threading.Lock()


def _model_lock(model) -> threading.RLock:
    with _locks_guard:
        return _locks.setdefault(id(model), threading.RLock())


@dataclass
class Side:
    """One side of the comparison: a model, its tokenizer and how to run it."""

    name: str
    model: object
    tokenizer: object
    adapter_off: bool = False  # run a peft model with its adapter disabled (= the base)
    new_head: bool = False  # a freshly initialised classification head: predicts at chance
    labels: list[str] | None = None

    @contextlib.contextmanager
    def active(self):
        """The model ready to run for this side (adapter toggled under a lock)."""
        with _model_lock(self.model):
            if self.adapter_off:
                with self.model.disable_adapter():
                    yield self.model
            else:
                yield self.model


@dataclass
class ComparePair:
    left: Side
    right: Side
    task: str
    notes: list[str] = field(default_factory=list)
    run_dir: Path | None = None
    run_config: RunConfig | None = None
    same_tokenizer: bool = True

    @property
    def labels(self) -> list[str] | None:
        return self.right.labels

    @property
    def sides(self) -> tuple[Side, Side]:
        return self.left, self.right


# -- Which runs can be compared ---------------------------------------------------------

def comparable_runs(runs_dir: str | Path) -> list[dict]:
    """Runs with a saved model (newest first); each dict is the run's run.json."""
    out = []
    for info in runs.list_runs(runs_dir):
        model_dir = Path(info["path"]) / "model"
        if (model_dir / "config.json").exists() or (model_dir / "adapter_config.json").exists():
            out.append(info)
    return out


def _resolve_name(name: str, runs_dir: str | Path | None) -> str:
    """A bare run id typed or picked in the UI means that run folder."""
    name = (name or "").strip()
    if runs_dir and name and "/" not in name and (Path(runs_dir) / name / "run.json").exists():
        return str(Path(runs_dir) / name)
    return name


def _run_source(run_dir: Path) -> ModelSource:
    info = runs.read_run_info(run_dir)
    status = info.get("status")
    if status in ("queued", "running"):
        raise UserError(f"Run {run_dir.name} is still {status}: it has no final model yet.",
                        hint="Wait for it to finish (Train tab), or pick a finished run.")
    return resolve_model(str(run_dir))  # raises a clear UserError when model/ is missing


# -- Opening a pair ---------------------------------------------------------------------

def open_run_pair(runs_dir: str | Path, run_id: str) -> ComparePair:
    """Left: the run's base model. Right: the run's fine-tuned model."""
    if not run_id:
        raise UserError("No run chosen.", hint="Pick a finished run from the list.")
    run_dir = runs.run_path(runs_dir, run_id)
    source = _run_source(run_dir)
    try:
        config = RunConfig.load(run_dir / "config.yaml")
    except UserError as exc:
        raise UserError(f"Run {run_id} has no readable config.yaml ({exc}).") from None
    task = runs.read_run_info(run_dir).get("task") or config.model.task
    base_name = config.model.name_or_path
    if "/" in base_name and Path(base_name).exists():  # a long local path: its folder name
        base_name = Path(base_name).name
    if source.adapter:  # LoRA: one model, adapter off on the left
        model, tok = (_lora_classifier(source, config) if task == "classification"
                      else models.cached_model(source, task))
        right = _side(f"{run_id} (fine-tuned, LoRA on)", model, tok, task)
        left = Side(f"{base_name} (base: LoRA off)", model, tok, adapter_off=True,
                    labels=right.labels)
        pair = ComparePair(left, right, task, run_dir=run_dir, run_config=config)
        pair.notes.append("LoRA run: the base model is loaded once; the left side runs it "
                          "with the adapter switched off.")
        if task == "classification":
            left.new_head = True
            pair.notes.append(_chance_note(left))
        return pair
    right_model, right_tok = models.cached_model(source, task)
    right = _side(f"{run_id} (fine-tuned)", right_model, right_tok, task)
    base_source = resolve_model(_resolve_name(config.model.name_or_path, runs_dir))
    if task == "classification":
        left = _classifier_side(f"{base_name} (base)", base_source, right.labels, force=True)
    else:
        model, tok = models.cached_model(base_source, task)
        left = _side(f"{base_name} (base)", model, tok, task)
    pair = ComparePair(left, right, task, run_dir=run_dir, run_config=config)
    _finish(pair)
    return pair


def open_model_pair(left_name: str, right_name: str,
                    runs_dir: str | Path | None = None) -> ComparePair:
    """Any two models: catalog presets, Hub ids, local folders or run ids."""
    if not (left_name or "").strip() or not (right_name or "").strip():
        raise UserError("Choose two models to compare.",
                        hint="Fill in both the left and the right model.")
    names = [_resolve_name(n, runs_dir) for n in (left_name, right_name)]
    sources = []
    for n in names:
        p = Path(n)
        sources.append(_run_source(p) if (p / "run.json").exists() else resolve_model(n))
    tasks = [models.detect_task(s) for s in sources]
    if tasks[0] != tasks[1]:
        kinds = {"classification": "a classifier", "causal_lm": "a causal language model"}
        raise UserError(f"'{left_name}' is {kinds[tasks[0]]} but '{right_name}' is "
                        f"{kinds[tasks[1]]}: they cannot be compared.",
                        hint="Pick two classifiers or two causal language models.")
    task = tasks[0]
    if task == "classification":
        labels = _shared_labels(left_name, right_name, sources)
        left = _classifier_side(left_name, sources[0], labels)
        right = _classifier_side(right_name, sources[1], labels)
    else:
        left = _side(left_name, *models.cached_model(sources[0], task), task)
        right = _side(right_name, *models.cached_model(sources[1], task), task)
    pair = ComparePair(left, right, task)
    for p in names:  # a run on either side gives the report a home
        if (Path(p) / "run.json").exists():
            pair.run_dir = Path(p)
            pair.run_config = RunConfig.load(Path(p) / "config.yaml")
    _finish(pair)
    return pair


def open_pair(spec: dict, runs_dir: str | Path) -> ComparePair:
    """From the small dict the UI keeps per session: {'run': id} or {'left':, 'right':}."""
    if spec.get("run"):
        return open_run_pair(runs_dir, spec["run"])
    return open_model_pair(spec.get("left", ""), spec.get("right", ""), runs_dir)


# -- Helpers ------------------------------------------------------------------------------

def _side(name: str, model, tok, task: str) -> Side:
    labels = _model_labels(model.config) if task == "classification" else None
    return Side(name, model, tok, labels=labels)


def _model_labels(config) -> list[str]:
    id2label = getattr(config, "id2label", None) or {}
    return [str(id2label.get(i, id2label.get(str(i), f"LABEL_{i}")))
            for i in range(config.num_labels)]


def _is_generic(labels: list[str]) -> bool:
    return all(_GENERIC_LABEL.match(label) for label in labels)


def _head_labels(source: ModelSource) -> list[str] | None:
    """The labels of a trained classification head, or None when the model has none."""
    from transformers import AutoConfig
    if source.adapter:
        return None
    config = AutoConfig.from_pretrained(models.materialize(source))
    archs = " ".join(config.architectures or [])
    return _model_labels(config) if "SequenceClassification" in archs else None


def _shared_labels(left_name, right_name, sources) -> list[str]:
    heads = [_head_labels(s) if not s.adapter else
             _model_labels(models.cached_model(s, "classification")[0].config)
             for s in sources]
    if heads[0] is None and heads[1] is None:
        raise UserError("Neither model has a trained classification head, so both would "
                        "guess at random.", hint="Compare a fine-tuned classifier (a run) "
                                                 "with its base model.")
    if heads[0] is None or heads[1] is None:
        return heads[1] if heads[0] is None else heads[0]
    a, b = heads
    if a == b:
        return a
    if len(a) == len(b) and (_is_generic(a) or _is_generic(b)):
        return b if _is_generic(a) else a  # one side only has placeholder names
    raise UserError(f"The two classifiers predict different label sets: '{left_name}' has "
                    f"{a}, '{right_name}' has {b}.",
                    hint="Compare models fine-tuned on the same labels.")


_head_cache: OrderedDict[tuple, tuple] = OrderedDict()
_head_lock = threading.Lock()


def _classifier_side(name: str, source: ModelSource, labels: list[str],
                     force: bool = False) -> Side:
    """A classifier over ``labels``; a model without that head gets a new, seeded one."""
    own = None if source.adapter else _head_labels(source)
    if source.adapter or own == labels or (own and _is_generic(own) and len(own) == len(labels)
                                           and not force):
        model, tok = models.cached_model(source, "classification")
        return Side(name, model, tok, labels=labels)
    key = (source.identity, tuple(labels))
    with _head_lock:
        if key not in _head_cache:
            import torch
            torch.manual_seed(0)  # the same "random" head every time: reproducible numbers
            id2label = dict(enumerate(labels))
            model, info = models.load_model(source, "classification", num_labels=len(labels),
                                            id2label=id2label,
                                            label2id={v: k for k, v in id2label.items()})
            model.eval()
            _head_cache[key] = (model, models.load_tokenizer(source), info["new_head"])
            while len(_head_cache) > 2:
                _head_cache.popitem(last=False)
        model, tok, new_head = _head_cache[key]
    # A head not trained on these labels (none, or other labels) guesses: say so.
    return Side(name, model, tok, new_head=new_head or own != labels, labels=labels)


def _lora_classifier(source: ModelSource, config: RunConfig):
    """A LoRA classification run: the base gets a head sized for the run's labels first
    (peft's Auto class would build a 2-label head and refuse the saved 3-label one)."""
    key = (source.identity, "lora")
    with _head_lock:
        if key not in _head_cache:
            import torch
            from peft import PeftConfig, PeftModel
            from transformers import AutoModelForSequenceClassification

            from ..data import prepare
            labels = list(prepare(config.data).label_names)
            base_path = PeftConfig.from_pretrained(source.path).base_model_name_or_path
            id2label = dict(enumerate(labels))
            torch.manual_seed(0)
            try:
                base = AutoModelForSequenceClassification.from_pretrained(
                    base_path, num_labels=len(labels), id2label=id2label,
                    label2id={v: k for k, v in id2label.items()},
                    ignore_mismatched_sizes=True)
                model = PeftModel.from_pretrained(base, source.path).eval()
            except Exception as exc:  # noqa: BLE001 - a readable message, not a traceback
                raise UserError(f"Could not load the LoRA run's adapter: {str(exc)[:300]}",
                                hint="Was the run trained on the same data config?") from None
            _head_cache[key] = (model, models.load_tokenizer(source), True)
            while len(_head_cache) > 2:
                _head_cache.popitem(last=False)
        model, tok, _ = _head_cache[key]
    return model, tok


def _chance_note(side: Side) -> str:
    n = len(side.labels or []) or 2
    return (f"'{side.name}' has a newly initialised classification head: it predicts at "
            f"about chance (1/{n} = {1 / n:.0%} on balanced data). Compare the fine-tuned "
            "model with the majority-class baseline too.")


def same_tokenizer(a, b) -> bool:
    probe = "Fine-tuning changed THIS sentence: 123 naïve tokens!"
    return (type(a).__name__ == type(b).__name__ and len(a) == len(b)
            and a(probe)["input_ids"] == b(probe)["input_ids"])


def _finish(pair: ComparePair) -> None:
    for side in pair.sides:
        if side.new_head:
            pair.notes.append(_chance_note(side))
    pair.same_tokenizer = same_tokenizer(pair.left.tokenizer, pair.right.tokenizer)
    if not pair.same_tokenizer:
        pair.notes.append(
            f"The tokenizers differ ({type(pair.left.tokenizer).__name__}, "
            f"{len(pair.left.tokenizer)} tokens vs {type(pair.right.tokenizer).__name__}, "
            f"{len(pair.right.tokenizer)} tokens): each side reads the text its own way.")


def describe(pair: ComparePair) -> str:
    """A short Markdown summary for the page."""
    task = "classification" if pair.task == "classification" else "causal language model"
    text = (f"**Left:** {pair.left.name}  \n**Right:** {pair.right.name}  \n"
            f"**Task:** {task}")
    if pair.labels:
        text += f"  \n**Labels:** {', '.join(pair.labels)}"
    if pair.notes:
        text += "\n\n" + "\n".join(f"- {n}" for n in pair.notes)
    return text
