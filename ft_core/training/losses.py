"""The classification loss: cross-entropy, optionally class-weighted.

Passed to the Trainer as ``compute_loss_func`` (a narrow extension: the training loop is
untouched) for every classification run. It divides by the item count the Trainer gathers
over all processes and accumulated batches, so the loss has one scale on one process or
many. With 65% of drug reviews 'positive', plain cross-entropy learns to answer 'positive'
and macro-F1 barely moves; weighting each class by its inverse frequency makes the rare
classes count as much as the common one (weights of 1 give the plain loss).
"""

from __future__ import annotations

import numpy as np
import torch


def inverse_frequency_weights(labels, num_labels: int) -> torch.Tensor:
    """weight[c] = n / (num_labels * count[c]); a class absent from training gets 1."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_labels)
    weights = np.where(counts > 0, len(labels) / (num_labels * np.maximum(counts, 1)), 1.0)
    return torch.tensor(weights, dtype=torch.float32)


def weighted_cross_entropy(weights: torch.Tensor, model: torch.nn.Module | None = None):
    """A Trainer ``compute_loss_func``: (outputs, labels, num_items_in_batch) -> loss.

    The weights shape training only: while ``model`` is in eval mode the plain loss is
    returned, so eval loss stays comparable with unweighted runs and the base model."""
    def loss_fn(outputs, labels, num_items_in_batch=None):
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs.logits
        w = weights.to(device=logits.device, dtype=logits.dtype)
        if model is not None and not model.training:
            w = torch.ones_like(w)
        if num_items_in_batch is None:
            return torch.nn.functional.cross_entropy(logits, labels, weight=w)
        # The Trainer counts items over the accumulated batches and skips its own
        # gradient-accumulation scaling when a compute_loss_func is given: sum, then divide.
        total = torch.nn.functional.cross_entropy(logits, labels, weight=w, reduction="sum")
        return total / num_items_in_batch
    return loss_fn
