"""Metrics: local evaluate modules (work offline) and the functions the Trainer uses.

``load_metric("f1")`` loads the project's own module from this folder; any other name is
passed to ``evaluate.load`` (a Hub metric, online only).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import UserError
from .functional import accuracy, confusion_matrix, precision_recall_f1

LOCAL_METRICS = ("accuracy", "f1", "precision", "recall")
_HERE = Path(__file__).parent


def load_metric(name: str):
    import evaluate
    if name in LOCAL_METRICS:
        return evaluate.load(str(_HERE / name))
    from ..catalog import hub_reachable
    if not hub_reachable():
        raise UserError(f"The metric '{name}' is not local and the Hub is unreachable.",
                        hint=f"Local metrics: {', '.join(LOCAL_METRICS)}.")
    try:
        return evaluate.load(name)
    except Exception as exc:  # noqa: BLE001
        raise UserError(f"Could not load the metric '{name}': {exc}") from None


def classification_metrics(references, predictions, label_names: list[str] | None = None
                           ) -> dict:
    """accuracy, f1_macro, f1_micro, precision/recall (macro) and per-class scores."""
    n = len(label_names) if label_names else None
    p_macro, r_macro, f_macro = precision_recall_f1(references, predictions, "macro", n)
    _, _, f_micro = precision_recall_f1(references, predictions, "micro", n)
    per_p, per_r, per_f = precision_recall_f1(references, predictions, None, n)
    out = {"accuracy": accuracy(references, predictions), "f1_macro": f_macro,
           "f1_micro": f_micro, "precision_macro": p_macro, "recall_macro": r_macro}
    names = label_names or [str(i) for i in range(len(per_p))]
    for i, name in enumerate(names[:len(per_p)]):
        out[f"precision_{name}"] = float(per_p[i])
        out[f"recall_{name}"] = float(per_r[i])
    return out


def classification_compute_metrics(label_names: list[str] | None = None):
    """A Trainer ``compute_metrics`` for sequence classification."""
    def compute(eval_pred):
        logits, labels = eval_pred.predictions, eval_pred.label_ids
        if isinstance(logits, tuple):
            logits = logits[0]
        return classification_metrics(labels, np.argmax(logits, axis=-1), label_names)
    return compute


def perplexity(loss: float) -> float:
    """exp(loss), capped so a diverged run shows inf rather than overflowing."""
    return math.exp(loss) if loss < 50 else float("inf")


__all__ = ["LOCAL_METRICS", "load_metric", "classification_metrics",
           "classification_compute_metrics", "confusion_matrix", "perplexity"]
