"""One real transformers Trainer run, written into a run folder.

``train(config, run_dir)`` is what the CLI, the background jobs and the Optuna search
all call. The story of a run:

1. prepare the data (``ft_core.data.prepare``) and check everything cheap first
   (``validate``): a bad label column or an offline Hub id fails before any model loads;
2. load the model for the task (full, head-only or LoRA) and tokenise once (cached);
3. train with callbacks that write events.jsonl, honour the STOP file and report to an
   Optuna trial;
4. save the model + tokenizer (label maps in its config), the model card and run.json.

Only the main process writes to the run folder, so ``accelerate launch`` on several GPUs
runs the same code.
"""

from __future__ import annotations

import math
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import runs
from .config import RunConfig
from .errors import UserError
from .space import SpaceSettings, limit_callbacks
from .training.callbacks import EventsCallback, StopCallback, TrialCallback
from .training.card import write_model_card
from .training.distributed import distributed_on_cpu, is_main_process
from .training.lora import apply_lora, default_target_modules, freeze_base
from .training.losses import inverse_frequency_weights, weighted_cross_entropy
from .training.tokenize import (
    check_not_empty_after_tokenize,
    make_collator,
    spec_for,
    tokenize_splits,
)

MAX_CLASSES = 200
LOWER_IS_BETTER = ("loss", "perplexity")


@dataclass
class PreparedData:
    """The shape ``ft_core.data.prepare`` returns (used directly by tests and benches)."""

    splits: Any  # DatasetDict with train / validation / test
    text_column: str
    text_pair_column: str | None = None
    label_column: str | None = None
    response_column: str | None = None
    label_names: list = field(default_factory=list)
    label2id: dict = field(default_factory=dict)


# -- data ---------------------------------------------------------------------------------

def prepare_data(config: RunConfig):
    """The prepared dataset for this run (the Data tab's deterministic ``prepare``)."""
    try:
        from .data import prepare
    except ImportError as exc:
        raise UserError(f"The data module is not available: {exc}") from None
    return prepare(config.data)


def _split(prepared, name: str):
    splits = prepared.splits
    return splits[name] if name in splits and len(splits[name]) > 0 else None


def _eval_split_name(prepared) -> str | None:
    for name in ("validation", "test"):
        if _split(prepared, name) is not None:
            return name
    return None


def check_data(config: RunConfig, prepared) -> list[str]:
    """Fatal data problems raise UserError; the rest come back as notes."""
    notes: list[str] = []
    task = config.model.task
    train = _split(prepared, "train")
    if prepared is None or train is None:
        raise UserError("There is no prepared training data (the train split is empty).",
                        hint="Load a dataset in the Data tab, check its filters, and make "
                             "sure the train ratio is above 0.")
    if not prepared.text_column or prepared.text_column not in train.column_names:
        raise UserError("No text column is set for training.",
                        hint="Pick the text column in the Data tab.")
    texts = train[prepared.text_column]
    empty = sum(1 for t in texts if t is None or not str(t).strip())
    if empty == len(texts):
        raise UserError(f"Every text in column '{prepared.text_column}' is empty.",
                        hint="Pick another text column.")
    if empty:
        raise UserError(f"{empty} of {len(texts)} training texts in "
                        f"'{prepared.text_column}' are empty.",
                        hint="Turn on 'drop empty texts' in the Data tab.")
    if task == "classification":
        if not prepared.label_column or "label" not in train.column_names:
            raise UserError("Classification needs a label column, and this data has none.",
                            hint="Pick the label column in the Data tab, or choose the "
                                 "causal LM task to train on the text alone.")
        n = len(prepared.label_names or [])
        if n < 2:
            raise UserError(f"The label column '{prepared.label_column}' has "
                            f"{'one class' if n == 1 else 'no classes'}: a classifier needs "
                            "at least two.", hint="Pick another label column or relax the "
                                                  "filters.")
        if n > MAX_CLASSES:
            raise UserError(f"The label column '{prepared.label_column}' has {n} classes "
                            f"(more than {MAX_CLASSES}): it looks like free text or an id, "
                            "not a label.", hint="Pick a column with a few categories.")
        seen = set(train["label"])
        if len(seen) < 2:
            raise UserError("The train split holds only one class.",
                            hint="Use a stratified split or relax the filters.")
        if len(seen) < n:
            notes.append(f"{n - len(seen)} of {n} classes never occur in the train split.")
    else:
        if prepared.response_column and prepared.response_column not in train.column_names:
            raise UserError(f"Response column '{prepared.response_column}' is missing.")
        if prepared.label_column and not prepared.response_column:
            notes.append("The label column is ignored: a causal LM learns from the text.")
    if _eval_split_name(prepared) is None:
        notes.append("No validation or test split: nothing is evaluated during training.")
    return notes


# -- model checks (cheap: configs only, no weights) ---------------------------------------

def _hf_config(source):
    from transformers import AutoConfig

    from .models import _from_pretrained_errors, materialize
    try:
        return AutoConfig.from_pretrained(materialize(source))
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise _from_pretrained_errors(source, exc) from None


def check_model(config: RunConfig, prepared=None) -> list[str]:
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES,
    )

    from .catalog import resolve_model
    from .models import model_max_length, resolve_precision

    notes: list[str] = []
    m, t = config.model, config.train
    source = resolve_model(m.name_or_path)  # offline Hub ids fail here, fast
    if source.adapter:
        raise UserError(f"'{m.name_or_path}' is a LoRA adapter, not a full model.",
                        hint="Train from its merged/ folder or from the base model.")
    hf = _hf_config(source)
    archs = " ".join(hf.architectures or [])
    encoder_only = hf.model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES or (
        "SequenceClassification" in archs or "MaskedLM" in archs or archs.endswith("Model")
    ) and hf.model_type in ("bert", "distilbert", "roberta", "xlm-roberta", "electra",
                            "albert", "deberta", "deberta-v2", "mpnet")
    if m.task == "causal_lm" and encoder_only:
        raise UserError(f"'{m.name_or_path}' is an encoder ({hf.model_type}) made for "
                        "classification: it cannot generate text.",
                        hint="Pick a causal LM (e.g. SmolLM2-135M-Instruct) or switch the "
                             "task to classification.")
    if m.task == "classification":
        if hf.model_type not in MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES:
            raise UserError(f"'{m.name_or_path}' ({hf.model_type}) has no sequence-"
                            "classification head in transformers.",
                            hint="Pick an encoder such as MiniLM-L6, or the causal LM task.")
        if not encoder_only:
            notes.append("A causal LM used as a classifier reads the last token; an encoder "
                         "(MiniLM, BERT) is usually better and faster for this.")
        labels = list(prepared.label_names) if prepared is not None else []
        old = [str(v) for _, v in sorted((int(k), v) for k, v in
                                         (hf.id2label or {}).items())]
        if "SequenceClassification" not in archs or old != [str(x) for x in labels]:
            notes.append("The classification head is newly initialised (random): it "
                         "learns from scratch for these labels, so the model knows nothing "
                         "about them before training.")
    if m.method == "head" and m.task != "classification":
        raise UserError("Head-only training applies to classifiers (a causal LM's output "
                        "head is tied to its embeddings).",
                        hint="Use LoRA to train a causal LM cheaply.")

    from .models import load_tokenizer
    tokenizer = load_tokenizer(source)
    limit = model_max_length(tokenizer, _Holder(hf))
    if t.max_length > limit:
        raise UserError(f"max_length {t.max_length} is above what '{m.name_or_path}' "
                        f"accepts ({limit} tokens).", hint=f"Use max_length <= {limit}.")
    precision = resolve_precision(t.precision)
    from .models import device_info
    device = device_info()["device"]
    if precision in ("fp16", "bf16") and device == "cpu":
        raise UserError(f"{precision} training needs a GPU; this machine has none.",
                        hint="Use precision 'auto' or 'fp32'.")
    if t.load_best_model_at_end and t.eval_strategy != t.save_strategy:
        raise UserError("'Load best model at end' needs the same evaluation and save "
                        f"strategy (now eval: {t.eval_strategy}, save: {t.save_strategy}).",
                        hint="Set both to 'epoch' (or both to 'steps').")
    if t.load_best_model_at_end and t.eval_strategy == "steps" and \
            (t.save_steps or 0) % (t.eval_steps or 1):
        raise UserError("'Load best model at end' needs save_steps to be a multiple of "
                        "eval_steps.")
    return notes


class _Holder:  # model_max_length reads ``model.config``
    def __init__(self, config):
        self.config = config


def validate(config: RunConfig, prepared=None) -> list[str]:
    """Notes for the user; UserError for anything that would make the run fail.

    Cheap enough to call when Start is pressed: data preparation and model configs only,
    no weights are loaded."""
    if prepared is None:
        prepared = prepare_data(config)
    notes = check_data(config, prepared)
    notes += check_model(config, prepared)
    return notes


# -- the run ------------------------------------------------------------------------------

def train(config: RunConfig, run_dir: str | Path, *, resume: bool = False, trial=None,
          extra_callbacks=()) -> dict:
    """Run one Trainer fine-tuning into ``run_dir``; return the final eval metrics."""
    run_dir = Path(run_dir)
    _init_run_dir(config, run_dir)
    try:
        prepared = prepare_data(config)
    except UserError as exc:
        _mark_failed(run_dir, str(exc))
        raise
    return train_prepared(config, run_dir, prepared, resume=resume, trial=trial,
                          extra_callbacks=extra_callbacks)


def train_prepared(config: RunConfig, run_dir: str | Path, prepared, *, resume=False,
                   trial=None, extra_callbacks=()) -> dict:
    """``train`` on an already prepared dataset (tests and benches build one in memory)."""
    run_dir = Path(run_dir)
    _init_run_dir(config, run_dir)
    try:
        return _run(config, run_dir, prepared, resume, trial, extra_callbacks)
    except UserError as exc:
        _mark_failed(run_dir, str(exc))
        raise
    except Exception as exc:  # noqa: BLE001 - sorted into user errors where we can
        if type(exc).__name__ == "TrialPruned":
            raise
        user = _as_user_error(exc)
        _mark_failed(run_dir, str(user or exc), detail=traceback.format_exc())
        if user is not None:
            raise user from exc
        raise


def _init_run_dir(config: RunConfig, run_dir: Path) -> None:
    if not is_main_process():
        return
    try:
        runs.init_run_folder(config, run_dir)
    except OSError as exc:
        raise UserError(f"Cannot write the run folder {run_dir}: {exc.strerror or exc}.",
                        hint="Check the disk has space and the folder is writable.") from None


def _mark_failed(run_dir: Path, message: str, detail: str | None = None) -> None:
    if not is_main_process() or not run_dir.is_dir():
        return
    try:
        runs.write_run_info(run_dir, status="failed", error=message, finished=time.time())
        runs.append_event(run_dir, "status", status="failed", message=message)
        if detail:
            runs.append_event(run_dir, "message", text=detail[-4000:])
    except OSError:
        pass  # the disk itself is the problem; the exception still reaches the caller


def _as_user_error(exc: Exception) -> UserError | None:
    import torch
    text = str(exc)
    if isinstance(exc, torch.OutOfMemoryError) or "out of memory" in text.lower():
        return UserError("Training ran out of memory.",
                         hint="Use a smaller batch size (with gradient accumulation to keep "
                              "the effective batch), a shorter max_length, gradient "
                              "checkpointing, or LoRA.")
    if isinstance(exc, OSError) and exc.errno is not None:
        return UserError(f"Could not write to the run folder: {exc.strerror or exc}.",
                         hint="Free some disk space or pick a writable runs folder.")
    return None


def _run(config, run_dir, prepared, resume, trial, extra_callbacks) -> dict:
    import torch
    from transformers import EarlyStoppingCallback, Trainer, set_seed

    from .catalog import resolve_model
    from .models import (
        cache_root,
        count_parameters,
        device_info,
        load_model,
        load_tokenizer,
        resolve_precision,
    )

    m, t = config.model, config.train
    main = is_main_process()
    notes = check_data(config, prepared) + check_model(config, prepared)
    checkpoint = None
    if resume:
        checkpoint = runs.latest_checkpoint(run_dir)
        if checkpoint is None:
            raise UserError("This run has no checkpoint to resume from.",
                            hint="Start it again instead.")
        if main:
            runs.clear_stop(run_dir)  # the Stop that ended the previous attempt
    set_seed(t.seed)

    # -- model ------------------------------------------------------------------------------
    source = resolve_model(m.name_or_path)
    tokenizer = load_tokenizer(source)
    # Saved with the tokenizer: the fine-tuned model reads long texts as it was trained to.
    tokenizer.truncation_side = t.truncation_side
    label_kw = {}
    if m.task == "classification":
        names = [str(n) for n in prepared.label_names]
        label_kw = dict(num_labels=len(names), id2label=dict(enumerate(names)),
                        label2id={n: i for i, n in enumerate(names)})
    model, info = load_model(source, m.task, **label_kw)
    if model.config.pad_token_id is None:  # decoder classifiers need it to find the end
        model.config.pad_token_id = tokenizer.pad_token_id
    lora_targets = None
    if m.method == "head":
        freeze_base(model)
    elif m.method == "lora":
        lora_targets = m.lora_target_modules or default_target_modules(model.config.model_type)
        model = apply_lora(model, m, m.task)
        if t.gradient_checkpointing:
            model.enable_input_require_grads()
    trainable, total = count_parameters(model)

    # -- data -------------------------------------------------------------------------------
    spec = spec_for(config, prepared)
    tokenized, cached = tokenize_splits(prepared.splits, tokenizer, spec,
                                        cache_root() / "tokenized")
    check_not_empty_after_tokenize(tokenized, spec)
    eval_name = _eval_split_name(prepared)
    # Held-out splits sorted by length: evaluation batches then pad little (the loss and
    # metrics do not depend on the order).
    eval_ds = tokenized[eval_name].sort("length") if eval_name else None
    test_ds = tokenized["test"].sort("length") if eval_name == "validation" and \
        "test" in tokenized else None

    # -- trainer ----------------------------------------------------------------------------
    precision = resolve_precision(t.precision)
    args = _training_args(config, run_dir, precision, has_eval=eval_ds is not None)
    callbacks = [EventsCallback(run_dir, {}, perplexity=m.task == "causal_lm"),
                 StopCallback(run_dir)]
    trial_cb = None
    if trial is not None:
        objective = (config.search.objective if config.search else None) or "eval_loss"
        trial_cb = TrialCallback(trial, objective)
        callbacks.append(trial_cb)
    if t.early_stopping_patience and eval_ds is not None:
        callbacks.append(EarlyStoppingCallback(t.early_stopping_patience))
    callbacks.extend(extra_callbacks)
    # Space mode (the app exports its settings to the environment): the step and time
    # limits hold in every training process, whoever started it (UI, CLI or a search).
    callbacks.extend(limit_callbacks(SpaceSettings.from_env(), run_dir))
    compute_metrics = None
    if m.task == "classification":
        from .metrics import classification_compute_metrics
        compute_metrics = classification_compute_metrics([str(n) for n in
                                                          prepared.label_names])
    loss_func = None
    if m.task == "classification":
        # Our own cross-entropy, weighted or not: it divides by the item count the Trainer
        # gathers over all processes. The models' built-in classification loss ignores that
        # count, yet under several processes transformers 5 still multiplies it by the
        # process count (the training and eval loss came out doubled with 2 processes).
        n_labels = len(prepared.label_names)
        weights = inverse_frequency_weights(tokenized["train"]["labels"], n_labels) \
            if t.class_weighting else torch.ones(n_labels)
        loss_func = weighted_cross_entropy(weights, model)
        if t.class_weighting:
            notes.append("Class weights (inverse frequency): " + ", ".join(
                f"{n}={w:.2f}" for n, w in zip(prepared.label_names, weights.tolist(),
                                               strict=True)))
    pad_multiple = 8 if torch.cuda.is_available() else None  # tensor cores like multiples
    trainer = Trainer(model=model, args=args, train_dataset=tokenized["train"],
                      eval_dataset=eval_ds, processing_class=tokenizer,
                      data_collator=make_collator(tokenizer, spec, pad_multiple),
                      compute_metrics=compute_metrics, callbacks=callbacks,
                      compute_loss_func=loss_func)
    _add_tensorboard(trainer, run_dir)
    events_cb, stop_cb = callbacks[0], callbacks[1]
    dev = device_info()
    start_info = dict(task=m.task, method=m.method, trainable_params=trainable,
                      total_params=total, new_head=bool(info.get("new_head")),
                      device=dev["device"], device_name=dev["name"], precision=precision,
                      train_rows=len(tokenized["train"]),
                      eval_rows=len(eval_ds) if eval_ds is not None else 0,
                      tokenized_from_cache=cached)
    events_cb.start_info = start_info
    if main:
        runs.write_run_info(run_dir, status="running", pid=os.getpid(), started=time.time(),
                            trainable_params=trainable, total_params=total,
                            new_head=bool(info.get("new_head")), error=None)
        runs.append_event(run_dir, "status", status="running",
                          message="resumed from " + checkpoint.name if checkpoint else
                          "started")
        for note in notes:
            runs.append_event(run_dir, "message", text=note)

    # -- train --------------------------------------------------------------------------------
    train_output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint
                                 else None)

    if trial_cb is not None and trial_cb.pruned_at is not None:
        if main:
            runs.write_run_info(run_dir, status="pruned", finished=time.time(),
                                metrics=_floats(events_cb.last_eval or {}))
            runs.append_event(run_dir, "status", status="pruned",
                              message=f"pruned by the search at step {trial_cb.pruned_at}")
        import optuna
        raise optuna.TrialPruned(f"pruned at step {trial_cb.pruned_at}")

    stopped = stop_cb.stopped
    metrics: dict = {}
    if eval_ds is not None:
        last = events_cb.last_eval
        metrics = dict(last) if last and not t.load_best_model_at_end and \
            trainer.state.global_step == _eval_step(trainer) else trainer.evaluate()
    test_metrics = {}
    if test_ds is not None and not stopped:
        test_metrics = trainer.evaluate(test_ds, metric_key_prefix="test")
        if "test_loss" in test_metrics and m.task == "causal_lm":
            from .metrics import perplexity
            test_metrics["test_perplexity"] = perplexity(test_metrics["test_loss"])
        if main:
            runs.append_event(run_dir, "test", step=trainer.state.global_step,
                              metrics=_floats(test_metrics))

    # -- save ---------------------------------------------------------------------------------
    status = "stopped" if stopped else "finished"
    # Every process enters save_model (DeepSpeed ZeRO-3 / FSDP gather the weights across
    # ranks there); the Trainer writes files from the main process only.
    trainer.save_model(str(run_dir / "model"))  # the adapter only, for a peft model
    if main:
        _save_extras(trainer, tokenizer, config, run_dir, merge=m.merge_lora and not stopped)
        best = _best_metric(config, metrics, trainer)
        info_out = runs.write_run_info(
            run_dir, status=status, finished=time.time(), metrics=_floats(metrics),
            test_metrics=_floats(test_metrics), best_metric=best,
            global_step=trainer.state.global_step, error=None,
            # Seconds inside Trainer.train (steps and the evaluations during training).
            train_runtime=float(train_output.metrics.get("train_runtime", 0.0)))
        card_info = dict(info_out, **start_info, label_names=list(prepared.label_names or []),
                         lora_target_modules=lora_targets)
        write_model_card(run_dir, config, card_info, _floats(metrics), _floats(test_metrics))
        runs.append_event(run_dir, "status", status=status,
                          message=f"{status} at step {trainer.state.global_step}")
    return {**_floats(metrics), **_floats(test_metrics)}


def _eval_step(trainer) -> int:
    for entry in reversed(trainer.state.log_history):
        if "eval_loss" in entry:
            return entry.get("step", -1)
    return -1


def _floats(d: dict) -> dict:
    out = {}
    for k, v in (d or {}).items():
        try:
            out[k] = float(v)
        except (TypeError, ValueError):
            continue
    return out


def _metric_name(config) -> str:
    name = config.train.metric_for_best_model or "eval_loss"
    return name if name.startswith("eval_") else f"eval_{name}"


def _best_metric(config, metrics: dict, trainer) -> dict | None:
    name = _metric_name(config)
    lower = any(s in name for s in LOWER_IS_BETTER)
    # Step 0 is the untrained model's evaluation (eval_on_start), a baseline, not a result
    # of this run: a short run that got worse must not report the base model's score.
    history = [e for e in trainer.state.log_history if e.get("step", 1) > 0]
    values = [e[name] for e in history if name in e]
    if name == "eval_perplexity" and not values:
        values = [math.exp(min(e["eval_loss"], 50)) for e in history if "eval_loss" in e]
    if name in metrics:
        values.append(metrics[name])
    if not values:
        return None
    return {"name": name, "value": float(min(values) if lower else max(values))}


def _training_args(config, run_dir: Path, precision: str, has_eval: bool):
    from transformers import TrainingArguments
    t = config.train
    eval_strategy = t.eval_strategy if has_eval else "no"
    metric = _metric_name(config) if t.load_best_model_at_end or t.early_stopping_patience \
        else None
    load_best = bool(t.load_best_model_at_end and has_eval)
    kw = dict(
        output_dir=str(run_dir / "checkpoints"),
        per_device_train_batch_size=t.per_device_train_batch_size,
        per_device_eval_batch_size=t.per_device_eval_batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        learning_rate=t.learning_rate, weight_decay=t.weight_decay,
        num_train_epochs=t.num_train_epochs, max_steps=t.max_steps,
        lr_scheduler_type=t.lr_scheduler_type,
        warmup_steps=t.warmup_ratio,  # transformers 5: a float < 1 is a ratio of all steps
        seed=t.seed, bf16=precision == "bf16", fp16=precision == "fp16",
        activation_checkpointing=t.gradient_checkpointing,  # v5 name of gradient ckpt
        dataloader_pin_memory=_has_gpu(),
        use_cpu=distributed_on_cpu(),  # several processes, no CUDA: join them over gloo
        logging_strategy="steps", logging_steps=t.logging_steps, logging_first_step=True,
        eval_strategy=eval_strategy, eval_steps=t.eval_steps if eval_strategy == "steps"
        else None,
        eval_on_start=bool(getattr(t, "eval_on_start", False) and has_eval),
        save_strategy=t.save_strategy, save_steps=t.save_steps if t.save_strategy ==
        "steps" else None, save_total_limit=t.save_total_limit,
        load_best_model_at_end=load_best, metric_for_best_model=metric,
        greater_is_better=None if metric is None else
        not any(s in metric for s in LOWER_IS_BETTER),
        # Precomputed lengths ride along in a 'length' column that the collator drops;
        # the Trainer's column removal would drop it before the length-grouped sampler.
        train_sampling_strategy="group_by_length" if t.group_by_length else "random",
        length_column_name="length", remove_unused_columns=False,
        report_to="none", disable_tqdm=True, save_only_model=False,
        # A causal LM's metrics come from the loss alone: without this the Trainer keeps
        # every eval batch's logits (batch x length x vocabulary floats) and pads and
        # concatenates them, which made evaluation many times slower than the forward.
        prediction_loss_only=config.model.task == "causal_lm",
    )
    try:
        return TrainingArguments(**kw)
    except ValueError as exc:
        raise UserError(f"These training settings do not fit together: {exc}") from None


def _has_gpu() -> bool:
    import torch
    return torch.cuda.is_available()


def _add_tensorboard(trainer, run_dir: Path) -> None:
    """TensorBoard logs in run_dir/tb (when tensorboard is installed)."""
    try:
        from transformers.integrations import TensorBoardCallback
        cb = TensorBoardCallback()
    except (ImportError, RuntimeError):
        return
    cb.logging_dir = str(run_dir / "tb")
    trainer.add_callback(cb)


def _save_extras(trainer, tokenizer, config, run_dir: Path, merge: bool) -> None:
    tokenizer.save_pretrained(str(run_dir / "model"))
    if config.model.method == "lora" and merge:
        merged = trainer.model.merge_and_unload()
        merged.save_pretrained(str(run_dir / "merged"))
        tokenizer.save_pretrained(str(run_dir / "merged"))


# -- evaluation without training ----------------------------------------------------------

def evaluate_model(config: RunConfig, split: str = "test", prepared=None) -> dict:
    """Metrics of ``config.model`` as it is (e.g. the base model) on one split.

    The "before" figure next to a run's "after": same tokenisation, collator and metrics
    as training, no weights change."""
    import tempfile

    from transformers import Trainer, TrainingArguments, set_seed

    from .catalog import resolve_model
    from .metrics import classification_compute_metrics, perplexity
    from .models import cache_root, load_model, load_tokenizer

    prepared = prepared if prepared is not None else prepare_data(config)
    check_data(config, prepared)
    if _split(prepared, split) is None:
        raise UserError(f"The {split} split is empty.", hint="Pick another split.")
    set_seed(config.train.seed)  # a new head is random: seeded, it is reproducible
    source = resolve_model(config.model.name_or_path)
    tokenizer = load_tokenizer(source)
    kw, compute = {}, None
    if config.model.task == "classification":
        names = [str(n) for n in prepared.label_names]
        kw = dict(num_labels=len(names), id2label=dict(enumerate(names)),
                  label2id={n: i for i, n in enumerate(names)})
        compute = classification_compute_metrics(names)
    model, _ = load_model(source, config.model.task, **kw)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    spec = spec_for(config, prepared)
    tokenized, _ = tokenize_splits({split: prepared.splits[split]}, tokenizer, spec,
                                   cache_root() / "tokenized")
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(output_dir=tmp, report_to="none", disable_tqdm=True,
                                 per_device_eval_batch_size=config.train.
                                 per_device_eval_batch_size, remove_unused_columns=False,
                                 prediction_loss_only=config.model.task == "causal_lm")
        trainer = Trainer(model=model, args=args, processing_class=tokenizer,
                          data_collator=make_collator(tokenizer, spec),
                          compute_metrics=compute)
        metrics = trainer.evaluate(tokenized[split].sort("length"), metric_key_prefix=split)
    if f"{split}_loss" in metrics and config.model.task == "causal_lm":
        metrics[f"{split}_perplexity"] = perplexity(metrics[f"{split}_loss"])
    return _floats(metrics)
