"""Precision for classification (macro by default; micro, weighted or per class), as a local
evaluate module."""

import datasets  # noqa: F401 - evaluate requires its modules to import datasets
import evaluate  # noqa: F401

# evaluate takes the first Metric class in the module: import the module, not the base
from ft_core.metrics import module_base


class Precision(module_base.ScoreMetric):
    key = "precision"
    index = 0
