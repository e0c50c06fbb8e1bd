"""F1 for classification (macro by default; micro, weighted or per class), as a local
evaluate module."""

import datasets  # noqa: F401 - evaluate requires its modules to import datasets
import evaluate  # noqa: F401

# evaluate takes the first Metric class in the module: import the module, not the base
from ft_core.metrics import module_base


class F1(module_base.ScoreMetric):
    key = "f1"
    index = 2
