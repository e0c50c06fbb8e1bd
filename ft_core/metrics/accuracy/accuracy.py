"""Accuracy: the share of predictions equal to the reference (local evaluate module)."""

import datasets  # noqa: F401 - evaluate requires its modules to import datasets
import evaluate  # noqa: F401

from ft_core.metrics.module_base import AccuracyMetric


class Accuracy(AccuracyMetric):
    pass
