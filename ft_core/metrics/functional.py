"""Classification metrics in plain numpy (what the local evaluate modules wrap).

Kept dependency-free so the evaluate modules, the Trainer's compute_metrics and the
Compare tab all compute the same numbers the same way.
"""

from __future__ import annotations

import numpy as np


def confusion_matrix(references, predictions, num_labels: int | None = None) -> np.ndarray:
    """Rows: true label, columns: predicted label."""
    refs = np.asarray(references, dtype=np.int64)
    preds = np.asarray(predictions, dtype=np.int64)
    n = num_labels or int(max(refs.max(initial=-1), preds.max(initial=-1)) + 1)
    matrix = np.zeros((n, n), dtype=np.int64)
    np.add.at(matrix, (refs, preds), 1)
    return matrix


def accuracy(references, predictions) -> float:
    refs, preds = np.asarray(references), np.asarray(predictions)
    return float((refs == preds).mean()) if len(refs) else 0.0


def precision_recall_f1(references, predictions, average: str | None = "macro",
                        num_labels: int | None = None):
    """Per-class arrays when average is None, else floats ('macro', 'micro', 'weighted').

    A class with no predicted (or no true) rows gets 0 for that score, as scikit-learn's
    zero_division=0 does."""
    matrix = confusion_matrix(references, predictions, num_labels)
    tp = np.diag(matrix).astype(float)
    predicted = matrix.sum(axis=0).astype(float)
    actual = matrix.sum(axis=1).astype(float)
    if average == "micro":
        total_tp, total = tp.sum(), matrix.sum()
        p = r = total_tp / total if total else 0.0
        f = p
        return float(p), float(r), float(f)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(actual > 0, tp / actual, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    if average is None:
        return precision, recall, f1
    if average == "weighted":
        weights = actual / actual.sum() if actual.sum() else actual
        return (float((precision * weights).sum()), float((recall * weights).sum()),
                float((f1 * weights).sum()))
    # macro over the classes that occur in references or predictions
    present = (predicted + actual) > 0
    if not present.any():
        return 0.0, 0.0, 0.0
    return (float(precision[present].mean()), float(recall[present].mean()),
            float(f1[present].mean()))
