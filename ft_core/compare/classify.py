"""Classification: one input side by side, and the whole test split with metrics.

Speed: texts are tokenized once without padding, sorted by length and run in batches
padded per batch under ``torch.inference_mode`` (bench/bench_compare.py measures the gain
over one-at-a-time prediction).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import UserError, require
from ..metrics import classification_metrics, confusion_matrix
from .pair import ComparePair, Side

Progress = Callable[[int, int, str], None]

OUTCOMES = {
    "all": "All disagreements",
    "fixed": "Fixed by fine-tuning",
    "broken": "Broken by fine-tuning",
    "both_wrong": "Both wrong, differently",
}


@dataclass
class EvalSet:
    """Rows to evaluate on, labels as indices into the pair's label list."""

    texts: list[str]
    labels: list[int] | None = None
    text_pairs: list[str] | None = None
    source: str = ""
    majority: int | None = None  # majority class of the training data, when known
    majority_source: str = ""

    def __post_init__(self):
        require(len(self.texts) > 0, "The evaluation data has no rows.",
                hint="Check the filters of the run's dataset or the uploaded file.")

    def row(self, index: int) -> tuple[str, str | None, int | None]:
        require(0 <= index < len(self.texts),
                f"Row {index} does not exist: the data has rows 0 to {len(self.texts) - 1}.")
        pair = self.text_pairs[index] if self.text_pairs else None
        label = self.labels[index] if self.labels is not None else None
        return self.texts[index], pair, label


@dataclass
class Settings:
    batch_size: int = 32
    max_length: int | None = None  # None: the run's max_length, else the model's (<= 512)
    sort_by_length: bool = True

    def __post_init__(self):
        require(1 <= self.batch_size <= 1024, "Batch size must be 1 to 1024.")
        require(self.max_length is None or self.max_length >= 8, "max_length must be >= 8.")


@dataclass
class ClassificationResult:
    labels: list[str]
    left_name: str
    right_name: str
    overall: pd.DataFrame
    per_class: pd.DataFrame
    confusion_left: np.ndarray
    confusion_right: np.ndarray
    rows: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    seconds: float = 0.0

    def disagreements(self, which: str = "all") -> pd.DataFrame:
        return disagreements(self.rows, which)


# -- Evaluation data ------------------------------------------------------------------------

def label_mapping(data_labels: list[str], model_labels: list[str]) -> list[int]:
    """Index in model_labels for each dataset label index (by name; by position when the
    model only has placeholder names LABEL_0..)."""
    lookup = {str(name).lower(): i for i, name in enumerate(model_labels)}
    if all(str(n).lower() in lookup for n in data_labels):
        return [lookup[str(n).lower()] for n in data_labels]
    if len(data_labels) == len(model_labels) and all(
            n.startswith("LABEL_") for n in model_labels):
        return list(range(len(data_labels)))
    raise UserError(f"The data's labels {list(data_labels)} are not the labels the models "
                    f"predict {list(model_labels)}.",
                    hint="Evaluate on data with the same label set the run was trained on.")


def eval_set_from_run(pair: ComparePair, split: str = "test") -> EvalSet:
    """The run's own split, re-created from its config.yaml by ft_core.data.prepare."""
    require(pair.run_config is not None, "These models come from no run, so there is no "
            "test split to use.", hint="Upload an evaluation file (CSV or JSONL) instead.")
    from ..data import prepare  # the data pipeline; deterministic for a given config
    prepared = prepare(pair.run_config.data)
    require(split in prepared.splits, f"The run's data has no {split!r} split.",
            hint=f"Splits: {', '.join(prepared.splits)}.")
    ds = prepared.splits[split]
    label_col = "label" if "label" in ds.column_names else prepared.label_column
    mapping = label_mapping(list(prepared.label_names), pair.labels)
    labels = [mapping[int(v)] for v in ds[label_col]]
    majority, where = None, ""
    if "train" in prepared.splits and len(prepared.splits["train"]):
        train_labels = [mapping[int(v)] for v in prepared.splits["train"][label_col]]
        majority, where = int(np.bincount(train_labels).argmax()), "the training split"
    pairs_col = prepared.text_pair_column
    return EvalSet([str(t) for t in ds[prepared.text_column]], labels,
                   [str(t) for t in ds[pairs_col]] if pairs_col else None,
                   source=f"{split} split of run {pair.run_dir.name} ({len(ds)} rows)",
                   majority=majority, majority_source=where)


def read_table(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv"):
            return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
        if suffix == ".jsonl":
            return pd.read_json(path, lines=True)
        if suffix == ".json":
            return pd.read_json(path)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise UserError(f"Could not read {path.name}: {str(exc)[:200]}",
                        hint="Upload a well-formed CSV, TSV, JSON or JSONL file.") from None
    raise UserError(f"{path.name}: unsupported file type {suffix or '(none)'}.",
                    hint="Upload a .csv, .tsv, .json or .jsonl file.")


def eval_set_from_file(path: str | Path, model_labels: list[str], text_column: str = "text",
                       label_column: str = "label", text_pair_column: str | None = None
                       ) -> EvalSet:
    """An uploaded file with a text column and a label column (names or 0-based ids)."""
    df = read_table(path)
    needed = [c for c in (text_column, label_column, text_pair_column) if c]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise UserError(f"The file {Path(path).name} has no column(s) {missing}; its columns "
                        f"are {list(df.columns)}.",
                        hint="Set the text and label column names to match the file.")
    df = df.dropna(subset=needed)
    require(len(df) > 0, f"The file {Path(path).name} has no complete rows.")
    lookup = {name.lower(): i for i, name in enumerate(model_labels)}
    labels = []
    for value in df[label_column]:
        key = str(value).strip().lower()
        if key in lookup:
            labels.append(lookup[key])
        elif key.lstrip("-").isdigit() and 0 <= int(key) < len(model_labels):
            labels.append(int(key))
        else:
            raise UserError(f"The label {value!r} in {Path(path).name} is not one the models "
                            f"predict ({', '.join(model_labels)}).",
                            hint="Use those label names, or ids 0 to "
                                 f"{len(model_labels) - 1}.")
    pairs = [str(t) for t in df[text_pair_column]] if text_pair_column else None
    return EvalSet([str(t) for t in df[text_column]], labels, pairs,
                   source=f"{Path(path).name} ({len(df)} rows)",
                   majority=int(np.bincount(labels).argmax()),
                   majority_source="the evaluated file itself (no training split known)")


# -- Prediction -------------------------------------------------------------------------

def max_length_for(pair: ComparePair, side: Side, settings: Settings) -> int:
    if settings.max_length:
        return settings.max_length
    if pair.run_config is not None:
        return pair.run_config.train.max_length
    from ..models import model_max_length
    return min(model_max_length(side.tokenizer, side.model), 512)


def truncation_side_for(pair: ComparePair) -> str | None:
    """Both sides read long texts the way the fine-tuned run was trained to (its config)."""
    return pair.run_config.train.truncation_side if pair.run_config is not None else None


def predict_probs(side: Side, texts: list[str], text_pairs: list[str] | None = None, *,
                  batch_size: int = 32, max_length: int = 128, sort_by_length: bool = True,
                  progress: Progress | None = None, truncation_side: str | None = None
                  ) -> np.ndarray:
    """Class probabilities (rows x labels), in the order of ``texts``."""
    import torch

    from ..models import with_truncation_side
    tok = with_truncation_side(side.tokenizer, truncation_side)
    enc = tok(texts, text_pairs, truncation=True, max_length=max_length)
    keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc]
    lengths = np.array([len(ids) for ids in enc["input_ids"]])
    # Longest first: similar lengths share a batch (little padding) and an out-of-memory
    # error shows up in the first batch, not the last.
    order = np.argsort(-lengths, kind="stable") if sort_by_length else np.arange(len(texts))
    out = None
    with side.active() as model, torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            idx = order[start:start + batch_size]
            batch = tok.pad([{k: enc[k][i] for k in keys} for i in idx], return_tensors="pt")
            batch = {k: v.to(model.device) for k, v in batch.items()}
            probs = torch.softmax(model(**batch).logits.float(), dim=-1).cpu().numpy()
            if out is None:
                out = np.zeros((len(texts), probs.shape[1]), dtype=np.float32)
            out[idx] = probs
            if progress:
                progress(min(start + batch_size, len(texts)), len(texts), side.name)
    return out


def predict_one(pair: ComparePair, text: str, text_pair: str | None = None
                ) -> tuple[dict[str, float], dict[str, float]]:
    """Both sides' label probabilities for one input."""
    require(pair.task == "classification", "These models are not classifiers.")
    require(bool((text or "").strip()), "The text is empty.",
            hint="Type a text, or pick a row from the dataset.")
    out = []
    for side in pair.sides:
        probs = predict_probs(side, [text], [text_pair] if text_pair else None,
                              max_length=max_length_for(pair, side, Settings()),
                              truncation_side=truncation_side_for(pair))[0]
        out.append({label: float(p) for label, p in zip(pair.labels, probs, strict=True)})
    return out[0], out[1]


# -- Whole split ------------------------------------------------------------------------

def compare_classification(pair: ComparePair, data: EvalSet, settings: Settings | None = None,
                           progress: Progress | None = None) -> ClassificationResult:
    import time
    require(pair.task == "classification", "These models are not classifiers.")
    require(data.labels is not None, "The evaluation data has no labels.")
    settings = settings or Settings()
    start = time.perf_counter()
    probs = []
    for side_no, side in enumerate(pair.sides):
        def step(done, total, name, _n=side_no):  # one bar over both sides
            if progress:
                progress(_n * total + done, 2 * total, f"Predicting with {name}")
        probs.append(predict_probs(side, data.texts, data.text_pairs,
                                   batch_size=settings.batch_size,
                                   max_length=max_length_for(pair, side, settings),
                                   sort_by_length=settings.sort_by_length, progress=step,
                                   truncation_side=truncation_side_for(pair)))
    result = summarize(data.labels, probs[0], probs[1], pair.labels, texts=data.texts,
                       majority=data.majority)
    result.left_name, result.right_name = pair.left.name, pair.right.name
    result.notes = list(pair.notes)
    if data.majority is not None:
        result.notes.append(f"Majority-class baseline: always '{pair.labels[data.majority]}' "
                            f"(the most common label in {data.majority_source}).")
    result.settings = {"data": data.source, "batch_size": settings.batch_size,
                       "max_length": max_length_for(pair, pair.right, settings),
                       "sort_by_length": settings.sort_by_length}
    result.seconds = time.perf_counter() - start
    return result


def summarize(labels, left_probs: np.ndarray, right_probs: np.ndarray, label_names: list[str],
              texts: list[str] | None = None, majority: int | None = None
              ) -> ClassificationResult:
    """Metrics, per-class scores, confusion matrices and per-row outcomes for both sides."""
    refs = np.asarray(labels, dtype=np.int64)
    lp, rp = left_probs.argmax(1), right_probs.argmax(1)
    k = len(label_names)
    ml = classification_metrics(refs, lp, label_names)
    mr = classification_metrics(refs, rp, label_names)
    names = ["accuracy", "f1_macro", "precision_macro", "recall_macro"]
    overall = pd.DataFrame({"metric": names, "left": [ml[n] for n in names],
                            "right": [mr[n] for n in names]})
    overall["difference"] = overall["right"] - overall["left"]
    if majority is not None:
        mm = classification_metrics(refs, np.full_like(refs, majority), label_names)
        overall["majority baseline"] = [mm[n] for n in names]
    support = np.bincount(refs, minlength=k)
    per_class = pd.DataFrame({"label": label_names, "support": support})
    for metric in ("precision", "recall"):
        left = [ml[f"{metric}_{n}"] for n in label_names]
        right = [mr[f"{metric}_{n}"] for n in label_names]
        per_class[f"{metric} left"] = left
        per_class[f"{metric} right"] = right
        per_class[f"{metric} difference"] = np.subtract(right, left)
    rows = pd.DataFrame({
        "row": np.arange(len(refs)),
        "text": texts if texts is not None else [""] * len(refs),
        "true": [label_names[i] for i in refs],
        "left": [label_names[i] for i in lp],
        "left p": left_probs.max(1).round(4),
        "right": [label_names[i] for i in rp],
        "right p": right_probs.max(1).round(4),
        "outcome": [_outcome(t, a, b) for t, a, b in zip(refs, lp, rp, strict=True)],
    })
    return ClassificationResult(label_names, "left", "right", overall, per_class,
                                confusion_matrix(refs, lp, k), confusion_matrix(refs, rp, k),
                                rows)


def _outcome(true: int, left: int, right: int) -> str:
    if left == right:
        return "both right" if left == true else "both wrong, same"
    if right == true:
        return "fixed"
    if left == true:
        return "broken"
    return "both wrong"


def disagreements(rows: pd.DataFrame, which: str = "all") -> pd.DataFrame:
    """Rows where the two sides predict differently; 'fixed', 'broken' or 'both_wrong'."""
    if which not in OUTCOMES:
        inverse = {v: k for k, v in OUTCOMES.items()}
        require(which in inverse, f"Unknown filter {which!r}.",
                hint=f"Use one of: {', '.join(OUTCOMES.values())}.")
        which = inverse[which]
    wanted = {"all": ("fixed", "broken", "both wrong"), "fixed": ("fixed",),
              "broken": ("broken",), "both_wrong": ("both wrong",)}[which]
    return rows[rows["outcome"].isin(wanted)].reset_index(drop=True)
