"""Fold a run's events.jsonl into what the Train tab shows: progress, curves, log lines.

No gradio here (plain Python + pandas), so the folding is unit-tested on its own. A
``RunView`` lives in the session's gr.State and reads only the bytes appended since its
last look (``runs.read_events(offset)``), so a long run costs the same per tick as a
short one.
"""

from __future__ import annotations

import html
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .. import runs

FINAL = ("finished", "stopped", "failed", "pruned")
# Eval metrics worth a curve; the rest (runtime, samples/s, per-class) stay in the log.
PLOT_METRICS = ("eval_accuracy", "eval_f1_macro", "eval_perplexity", "eval_precision_macro",
                "eval_recall_macro")
NOT_METRICS = ("eval_loss", "eval_runtime", "eval_samples_per_second",
               "eval_steps_per_second", "epoch", "step")
MAX_LOG_LINES = 400


def _fmt_time(seconds) -> str:
    if seconds is None:
        return "?"
    seconds = int(max(0, float(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _num(value, digits: int = 4) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


@dataclass
class RunView:
    run_id: str
    run_dir: str
    offset: int = 0
    status: str = "queued"
    message: str = ""
    step: int = 0
    total_steps: int | None = None
    epoch: float | None = None
    num_epochs: float | None = None
    eta_s: float | None = None
    elapsed_s: float | None = None
    train_loss: list = field(default_factory=list)  # (step, loss)
    evals: list = field(default_factory=list)  # (step, {metric: value})
    logs: deque = field(default_factory=lambda: deque(maxlen=MAX_LOG_LINES))
    pinned: bool = False  # opened from the runs table: the monitor does not jump away
    queue_position: int | None = None

    @classmethod
    def open(cls, run_dir: str | Path, pinned: bool = False) -> RunView:
        view = cls(Path(run_dir).name, str(run_dir), pinned=pinned)
        view.poll()
        return view

    @property
    def final(self) -> bool:
        return self.status in FINAL

    # -- reading ----------------------------------------------------------------------

    def poll(self) -> bool:
        """Read new events and the run's status; True when something changed."""
        events, self.offset = runs.read_events(self.run_dir, self.offset)
        for event in events:
            self._apply(event)
        info = runs.read_run_info(self.run_dir)
        status = info.get("status", self.status)
        changed = bool(events) or status != self.status
        if status != self.status:
            self.status = status
            if status == "failed" and info.get("error") and info["error"] not in self.message:
                self.message = info["error"]
                self.logs.append(f"FAILED: {info['error']}")
        return changed

    def _apply(self, e: dict) -> None:
        kind = e.get("type")
        if kind == "start":
            self.total_steps = e.get("total_steps") or self.total_steps
            self.num_epochs = e.get("num_train_epochs") or self.num_epochs
            self.logs.append(_start_line(e))
        elif kind == "log":
            if e.get("loss") is not None:
                self.train_loss.append((e.get("step", 0), float(e["loss"])))
            parts = [f"step {e.get('step')}", f"epoch {_num(e.get('epoch'), 3)}",
                     f"loss {_num(e.get('loss'))}", f"lr {_num(e.get('learning_rate'), 3)}"]
            if e.get("grad_norm") is not None:
                parts.append(f"grad norm {_num(e.get('grad_norm'), 3)}")
            self.logs.append(" · ".join(parts))
        elif kind == "progress":
            self.step = e.get("step", self.step)
            self.total_steps = e.get("total_steps") or self.total_steps
            self.epoch = e.get("epoch", self.epoch)
            self.eta_s, self.elapsed_s = e.get("eta_s"), e.get("elapsed_s")
        elif kind == "eval":
            metrics = {k: v for k, v in (e.get("metrics") or {}).items()
                       if isinstance(v, (int, float))}
            self.evals.append((e.get("step", 0), metrics))
            shown = " · ".join(f"{k} {_num(v)}" for k, v in metrics.items()
                               if k not in NOT_METRICS[1:])
            self.logs.append(f"eval @ step {e.get('step')}: {shown}")
        elif kind == "test":
            shown = " · ".join(f"{k} {_num(v)}" for k, v in (e.get("metrics") or {}).items()
                               if isinstance(v, (int, float)) and "runtime" not in k
                               and "per_second" not in k)
            self.logs.append(f"test split (held out): {shown}")
        elif kind == "checkpoint":
            self.logs.append(f"checkpoint saved at step {e.get('step')}")
        elif kind == "message":
            self.logs.append(str(e.get("text", "")))
        elif kind == "status":
            self.status = e.get("status", self.status)
            self.message = e.get("message") or ""
            self.logs.append(f"status: {self.status}" +
                             (f" — {self.message}" if self.message else ""))

    # -- what the page shows -------------------------------------------------------------

    def loss_frame(self) -> pd.DataFrame:
        rows = [{"step": s, "loss": v, "series": "train loss"} for s, v in self.train_loss]
        rows += [{"step": s, "loss": m["eval_loss"], "series": "eval loss"}
                 for s, m in self.evals if "eval_loss" in m]
        return pd.DataFrame(rows, columns=["step", "loss", "series"])

    def metric_frame(self) -> pd.DataFrame:
        names = [k for k in PLOT_METRICS if any(k in m for _, m in self.evals)]
        if not names:  # e.g. a custom metric: show what there is
            names = sorted({k for _, m in self.evals for k in m if k not in NOT_METRICS})[:4]
        rows = [{"step": s, "value": m[k], "metric": k.removeprefix("eval_")}
                for s, m in self.evals for k in names if k in m]
        return pd.DataFrame(rows, columns=["step", "value", "metric"])

    def fraction(self) -> float:
        if self.status == "finished":
            return 1.0
        if not self.total_steps:
            return 0.0
        return min(1.0, self.step / self.total_steps)

    def summary(self) -> str:
        if self.status == "queued":
            where = (f"position {self.queue_position} in the queue"
                     if self.queue_position else "starting")
            return f"Run {self.run_id}: waiting ({where})"
        parts = [f"Run {self.run_id}: {self.status}"]
        if self.total_steps:
            parts.append(f"step {self.step} / {self.total_steps}")
        if self.epoch is not None:
            total = f" / {_num(float(self.num_epochs), 3)}" if self.num_epochs else ""
            parts.append(f"epoch {_num(float(self.epoch), 3)}{total}")
        if self.elapsed_s is not None:
            parts.append(f"elapsed {_fmt_time(self.elapsed_s)}")
        if self.status == "running" and self.eta_s is not None:
            parts.append(f"ETA {_fmt_time(self.eta_s)}")
        return " · ".join(parts)

    def progress_html(self) -> str:
        pct = round(100 * self.fraction(), 1)
        colour = {"failed": "#d9534f", "stopped": "#f0ad4e", "finished": "#5cb85c"}.get(
            self.status, "#4a7bd0")
        message = (f"<div class='ft-small'>{html.escape(self.message[:600])}</div>"
                   if self.message and self.status in FINAL else "")
        return (f"<div class='ft-progress' data-status='{self.status}' data-step='{self.step}'>"
                f"<div style='background:#ddd;border-radius:4px;height:14px'>"
                f"<div style='width:{pct}%;background:{colour};height:14px;border-radius:4px'>"
                f"</div></div><div>{html.escape(self.summary())} ({pct:g}%)</div>{message}"
                f"</div>")

    def log_text(self) -> str:
        return "\n".join(self.logs)


def _start_line(e: dict) -> str:
    trainable, total = e.get("trainable_params"), e.get("total_params")
    share = f" ({100 * trainable / total:.2f}%)" if trainable and total else ""
    line = (f"started: {e.get('task')} · {e.get('method')} · {trainable:,} of {total:,} "
            f"parameters trainable{share}" if trainable and total else
            f"started: {e.get('task')} · {e.get('method')}")
    line += (f" · {e.get('device')} {e.get('precision') or ''} · {e.get('train_rows')} train / "
             f"{e.get('eval_rows')} eval rows · {e.get('total_steps')} steps")
    if e.get("new_head"):
        line += "\nnote: the classification head is newly initialised (it learns from your labels)"
    return line


def empty_progress() -> str:
    return ("<div class='ft-progress' data-status='none'>No run yet: prepare a dataset "
            "(Data tab or a recipe), pick a model and press Start.</div>")


def runs_table(runs_dir: str | Path) -> pd.DataFrame:
    """One row per run for the runs table, newest first."""
    rows = []
    for info in runs.list_runs(runs_dir):
        start = info.get("started") or info.get("created")
        end = time.time() if info.get("status") == "running" else info.get("finished")
        best = info.get("best_metric")
        rows.append({
            "run": info.get("id"),
            "status": info.get("status"),
            "task": info.get("task"),
            "model": info.get("base_model"),
            "method": info.get("method"),
            "dataset": info.get("dataset"),
            "best metric": _best(best),
            "duration": _fmt_time(end - start) if start and end else "",
            "reason": _reason(info),
        })
    columns = ["run", "status", "task", "model", "method", "dataset", "best metric",
               "duration", "reason"]
    return pd.DataFrame(rows, columns=columns)


def _best(best) -> str:
    """run.json's best_metric: {"name": "eval_f1_macro", "value": 0.61} (or a number)."""
    if isinstance(best, dict) and isinstance(best.get("value"), (int, float)):
        return f"{str(best.get('name', '')).removeprefix('eval_')} {_num(best['value'])}"
    if isinstance(best, (int, float)):
        return _num(best)
    return ""


def _reason(info: dict) -> str:
    error = info.get("error") or ""
    if info.get("status") not in ("failed", "stopped") or not error:
        return ""
    first = error.strip().splitlines()[0]
    return first[:200]
