"""Recall for classification (macro by default; micro, weighted or per class), as a local
evaluate module."""

import datasets  # noqa: F401 - evaluate requires its modules to import datasets
import evaluate  # noqa: F401

from ft_core.metrics.module_base import ScoreMetric


class Recall(ScoreMetric):
    key = "recall"
    index = 1
