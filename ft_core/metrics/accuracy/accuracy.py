"""Accuracy: the share of predictions equal to the reference (local evaluate module)."""

import datasets
import evaluate

from ft_core.metrics.functional import accuracy


class Accuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="Share of predictions that equal the reference label.",
            citation="", inputs_description="predictions, references: lists of int labels",
            features=datasets.Features({"predictions": datasets.Value("int64"),
                                        "references": datasets.Value("int64")}))

    def _compute(self, predictions, references):
        return {"accuracy": accuracy(references, predictions)}
