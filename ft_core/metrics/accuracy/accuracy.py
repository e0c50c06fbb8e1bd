"""Accuracy: the share of predictions equal to the reference (local evaluate module)."""

import datasets  # noqa: F401 - evaluate requires its modules to import datasets
import evaluate  # noqa: F401

# evaluate takes the first Metric class in the module: import the module, not the base
from ft_core.metrics import module_base


class Accuracy(module_base.AccuracyMetric):
    pass
