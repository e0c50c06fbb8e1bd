"""Precision for classification, average = macro (default), micro, weighted or None
(per class), as a local evaluate module."""

import datasets
import evaluate

from ft_core.metrics.functional import precision_recall_f1


class Precision(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="Precision (macro, micro, weighted or per class).",
            citation="", inputs_description="predictions, references: lists of int labels",
            features=datasets.Features({"predictions": datasets.Value("int64"),
                                        "references": datasets.Value("int64")}))

    def _compute(self, predictions, references, average="macro", num_labels=None):
        value = precision_recall_f1(references, predictions, average, num_labels)[0]
        return {"precision": value.tolist() if average is None else value}
