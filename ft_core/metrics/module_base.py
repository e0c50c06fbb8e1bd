"""The shared body of the local evaluate modules (accuracy, f1, precision, recall).

evaluate loads each module from its own folder by file name, so every metric keeps a tiny
file of its own; what they have in common lives here.
"""

import datasets
import evaluate

from .functional import accuracy, precision_recall_f1

_INT_PAIRS = datasets.Features({"predictions": datasets.Value("int64"),
                                "references": datasets.Value("int64")})
_INPUTS = "predictions, references: lists of int labels"


class AccuracyMetric(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="Share of predictions that equal the reference label.",
            citation="", inputs_description=_INPUTS, features=_INT_PAIRS)

    def _compute(self, predictions, references):
        return {"accuracy": accuracy(references, predictions)}


class ScoreMetric(evaluate.Metric):
    """precision, recall or f1 with average = macro (default), micro, weighted or None."""

    key = "f1"
    index = 2  # position in precision_recall_f1's (precision, recall, f1)

    def _info(self):
        return evaluate.MetricInfo(
            description=f"{self.key} for classification (macro, micro, weighted or per "
                        "class).", citation="", inputs_description=_INPUTS,
            features=_INT_PAIRS)

    def _compute(self, predictions, references, average="macro", num_labels=None):
        value = precision_recall_f1(references, predictions, average, num_labels)[self.index]
        return {self.key: value.tolist() if average is None else value}
