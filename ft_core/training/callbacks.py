"""TrainerCallbacks that turn a Trainer run into run-folder events, Stop and pruning.

Only the main process writes (``state.is_world_process_zero``), so the same code is
right under ``accelerate launch`` on several GPUs.
"""

from __future__ import annotations

import time
from pathlib import Path

from transformers import TrainerCallback

from .. import runs
from ..metrics import perplexity

PROGRESS_EVERY_S = 1.0  # throttle: a progress line a second is plenty for a UI


class EventsCallback(TrainerCallback):
    """Writes start / log / progress / eval / checkpoint events to events.jsonl."""

    def __init__(self, run_dir: Path, start_info: dict, perplexity: bool = True):
        self.run_dir = Path(run_dir)
        self.perplexity = perplexity  # language models only: exp(cross-entropy per token)
        self.start_info = start_info
        self.t0 = None
        self.first_step = 0
        self.last_progress = 0.0
        self.last_eval: dict | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        self.t0 = time.time()
        self.first_step = state.global_step  # > 0 when resuming
        if state.is_world_process_zero:
            runs.append_event(self.run_dir, "start", total_steps=state.max_steps,
                              num_train_epochs=args.num_train_epochs,
                              resumed_from_step=state.global_step, **self.start_info)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs or "loss" not in logs:
            return
        runs.append_event(self.run_dir, "log", step=state.global_step, epoch=state.epoch,
                          loss=logs.get("loss"), learning_rate=logs.get("learning_rate"),
                          grad_norm=logs.get("grad_norm"))

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if not metrics or not any(k.startswith("eval_") for k in metrics):
            return  # e.g. the final test-split evaluation: reported as a 'test' event
        # Perplexity next to the loss: added in place, so the Trainer's best-model
        # selection and the returned metrics see it too.
        if self.perplexity and "eval_loss" in metrics and "eval_perplexity" not in metrics:
            metrics["eval_perplexity"] = perplexity(metrics["eval_loss"])
        self.last_eval = dict(metrics)
        if state.is_world_process_zero:
            runs.append_event(self.run_dir, "eval", step=state.global_step,
                              epoch=state.epoch, metrics=_clean(metrics))

    def on_step_end(self, args, state, control, **kwargs):
        now = time.time()
        last = state.global_step >= state.max_steps
        if not state.is_world_process_zero or (now - self.last_progress < PROGRESS_EVERY_S
                                               and not last):
            return
        self.last_progress = now
        elapsed = now - (self.t0 or now)
        done = state.global_step - self.first_step
        eta = elapsed / done * (state.max_steps - state.global_step) if done > 0 else None
        runs.append_event(self.run_dir, "progress", step=state.global_step,
                          total_steps=state.max_steps, epoch=state.epoch,
                          eta_s=eta, elapsed_s=elapsed)

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            path = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            runs.append_event(self.run_dir, "checkpoint", step=state.global_step,
                              path=str(path))


def _clean(metrics: dict) -> dict:
    out = {}
    for k, v in metrics.items():
        try:
            out[k] = float(v)
        except (TypeError, ValueError):
            out[k] = v
    return out


class StopCallback(TrainerCallback):
    """Ends the run at the next step when runs/<id>/STOP exists, saving a checkpoint.

    Under several processes every rank must stop at the same step (or the others would
    wait forever in the next all-reduce), so the flag is reduced across ranks."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.stopped = False

    def _requested(self, args) -> bool:
        flag = runs.stop_requested(self.run_dir)
        if args.world_size > 1:
            import torch
            import torch.distributed as dist
            if dist.is_available() and dist.is_initialized():
                t = torch.tensor([1.0 if flag else 0.0], device=args.device)
                dist.all_reduce(t, op=dist.ReduceOp.MAX)
                flag = bool(t.item() > 0)
        return flag

    def on_step_end(self, args, state, control, **kwargs):
        if self._requested(args):
            self.stopped = True
            control.should_save = True  # a resumable checkpoint (weights + optimizer)
            control.should_training_stop = True


class TrialCallback(TrainerCallback):
    """Reports each evaluation's objective to an Optuna trial; prunes when told to."""

    def __init__(self, trial, objective: str):
        self.trial = trial
        self.objective = objective
        self.pruned_at: int | None = None

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if not metrics:
            return
        value = metrics.get(self.objective)
        if value is None and "eval_loss" in metrics and self.objective == "eval_perplexity":
            value = perplexity(metrics["eval_loss"])
        if value is None:
            return
        self.trial.report(float(value), state.global_step)
        if self.trial.should_prune():
            self.pruned_at = state.global_step
            control.should_training_stop = True
