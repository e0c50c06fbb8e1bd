"""Typed configs, one per concern. A run is fully described by a ``RunConfig`` YAML file.

Every field has a help text (shown in the UI and in ``python -m ft_core --help-config``)
and every config checks itself in ``__post_init__`` with messages a user understands.
The UI builds these from its widgets, the CLI loads them from YAML, tests construct them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import UserError, require

TASKS = ("classification", "causal_lm")
METHODS = ("full", "head", "lora")
FILTER_OPS = ("==", "!=", "<", "<=", ">", ">=", "contains", "not contains", "regex", "in",
              "length between", "is null", "not null")


def _help(text: str, default: Any = dataclasses.MISSING, **kw) -> Any:
    if default is dataclasses.MISSING and "default_factory" not in kw:
        return field(metadata={"help": text}, **kw)
    if "default_factory" in kw:
        return field(metadata={"help": text}, **kw)
    return field(default=default, metadata={"help": text}, **kw)


class _Config:
    """Shared dict/YAML round-trip for the config dataclasses."""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None):
        data = dict(data or {})
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        require(not unknown, f"Unknown {cls.__name__} field(s): {', '.join(unknown)}.",
                hint=f"Known fields: {', '.join(sorted(names))}.")
        return cls(**data)

    @classmethod
    def help(cls) -> dict[str, str]:
        return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(cls)}


@dataclass
class FilterCondition(_Config):
    """One structured filter condition. Values are data, never code."""

    column: str = _help("Column to test.")
    op: str = _help("Operator: " + ", ".join(FILTER_OPS) + ".", "==")
    value: Any = _help("Value to compare with; a list for 'in', [low, high] for "
                       "'length between'; ignored for 'is null' / 'not null'.", None)

    def __post_init__(self):
        require(bool(self.column), "A filter condition needs a column.")
        require(self.op in FILTER_OPS, f"Unknown filter operator {self.op!r}.",
                hint=f"Use one of: {', '.join(FILTER_OPS)}.")


@dataclass
class DataConfig(_Config):
    source: str = _help(
        "Where the data comes from: 'builtin:drug_reviews', 'builtin:chatterbot', a local "
        "file (.csv .tsv .json .jsonl .parquet) or folder saved with save_to_disk, or a Hub "
        "dataset name (online).", "builtin:drug_reviews")
    hub_config: str | None = _help("Hub dataset config name (e.g. 'cola' for glue).", None)
    hub_split: str | None = _help("Hub split to load (default: all splits).", None)
    filters: list = _help("Filter conditions (column, op, value).", default_factory=list)
    combine: str = _help("How filter conditions combine: 'and' or 'or'.", "and")
    drop_duplicates: bool = _help("Drop rows whose text duplicates an earlier row.", False)
    drop_empty_text: bool = _help("Drop rows whose text column is empty.", True)
    unescape_html: bool = _help("Turn HTML entities such as &#039; into characters.", False)
    text_column: str | None = _help("Text column (the prompt/question for chat data).", None)
    text_pair_column: str | None = _help(
        "Optional second text column for sentence pairs (as in GLUE MRPC/RTE).", None)
    label_column: str | None = _help("Label column (classification).", None)
    response_column: str | None = _help("Answer column for chat/instruction data (causal LM).",
                                        None)
    keep_existing_splits: bool = _help("Use the dataset's own train/validation/test splits "
                                       "where it has them.", True)
    train_ratio: float = _help("Share of rows for training.", 0.8)
    validation_ratio: float = _help("Share of rows for validation.", 0.1)
    test_ratio: float = _help("Share of rows for the test split.", 0.1)
    stratify: bool = _help("Keep label proportions equal across splits.", True)
    seed: int = _help("Seed for shuffling and splitting: same seed, same split.", 42)
    max_rows: int | None = _help("Use at most this many rows per split (a quick subset).",
                                 None)

    def __post_init__(self):
        require(bool(self.source and str(self.source).strip()), "No data source given.",
                hint="Pick a built-in dataset, upload a file or type a Hub dataset name.")
        require(self.combine in ("and", "or"), "Filters combine with 'and' or 'or'.")
        self.filters = [f if isinstance(f, FilterCondition) else FilterCondition.from_dict(f)
                        for f in (self.filters or [])]
        ratios = (self.train_ratio, self.validation_ratio, self.test_ratio)
        require(all(0 <= r <= 1 for r in ratios), "Split ratios must lie between 0 and 1.")
        require(abs(sum(ratios) - 1) < 1e-6,
                f"Split ratios sum to {sum(ratios):.3f}, not 1.",
                hint="Adjust train/validation/test so they add up to 1.")
        require(self.train_ratio > 0, "The train split cannot be empty (train ratio 0).")
        require(self.max_rows is None or self.max_rows > 0, "max_rows must be positive.")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["filters"] = [dataclasses.asdict(f) for f in self.filters]
        return d


@dataclass
class ModelConfig(_Config):
    name_or_path: str = _help("Catalog preset, Hub model id, local folder or runs/<id>.",
                              "MiniLM-L6 (embedded)")
    task: str = _help("'classification' (sequence classification) or 'causal_lm'.",
                      "classification")
    method: str = _help("'full' fine-tuning, 'head' only (freeze the base) or 'lora'.", "full")
    lora_r: int = _help("LoRA rank.", 16)
    lora_alpha: int = _help("LoRA alpha (scale = alpha / r).", 32)
    lora_dropout: float = _help("Dropout on the LoRA path.", 0.05)
    lora_target_modules: list | None = _help(
        "Module names LoRA adapts; empty = sensible defaults for the architecture.", None)
    merge_lora: bool = _help("Also save a merged model (base + adapter) after a LoRA run.",
                             False)

    def __post_init__(self):
        require(bool(self.name_or_path and str(self.name_or_path).strip()),
                "No model chosen.", hint="Pick a catalog preset or type a Hub id / folder.")
        require(self.task in TASKS, f"Unknown task {self.task!r}.",
                hint=f"Use one of: {', '.join(TASKS)}.")
        require(self.method in METHODS, f"Unknown method {self.method!r}.",
                hint=f"Use one of: {', '.join(METHODS)}.")
        require(self.lora_r > 0, "LoRA r must be a positive integer.")
        require(self.lora_alpha > 0, "LoRA alpha must be positive.")
        require(0 <= self.lora_dropout < 1, "LoRA dropout must be in [0, 1).")


@dataclass
class TrainConfig(_Config):
    learning_rate: float = _help("Peak learning rate.", 5e-5)
    num_train_epochs: float = _help("Number of passes over the training data.", 3.0)
    max_steps: int = _help("Stop after this many optimizer steps (-1 = use epochs).", -1)
    per_device_train_batch_size: int = _help("Examples per step per device.", 16)
    per_device_eval_batch_size: int = _help("Examples per evaluation batch.", 32)
    gradient_accumulation_steps: int = _help("Steps to accumulate before an update.", 1)
    weight_decay: float = _help("AdamW weight decay.", 0.0)
    warmup_ratio: float = _help("Share of steps for linear warm-up.", 0.0)
    lr_scheduler_type: str = _help("linear, cosine, constant, constant_with_warmup, ...",
                                   "linear")
    max_length: int = _help("Truncate texts to this many tokens (padding is per batch).", 128)
    truncation_side: str = _help(
        "Which part of a text longer than max_length is kept: 'right' cuts the end (keeps "
        "the start), 'left' cuts the start (keeps the end, where a review often gives its "
        "verdict). Saved with the tokenizer, so the fine-tuned model reads texts the same "
        "way later.", "right")
    seed: int = _help("Random seed for model init and data order.", 42)
    eval_strategy: str = _help("When to evaluate: 'no', 'steps' or 'epoch'.", "epoch")
    eval_steps: int | None = _help("Evaluate every N steps (eval_strategy='steps').", None)
    logging_steps: int = _help("Log the training loss every N steps.", 10)
    save_strategy: str = _help("When to checkpoint: 'no', 'steps' or 'epoch'.", "epoch")
    save_steps: int | None = _help("Checkpoint every N steps (save_strategy='steps').", None)
    save_total_limit: int | None = _help("Keep at most this many checkpoints.", 2)
    precision: str = _help("'auto' (bf16 where supported, else fp16 on GPU, fp32 on CPU), "
                           "'fp32', 'fp16' or 'bf16'.", "auto")
    gradient_checkpointing: bool = _help("Trade compute for memory.", False)
    early_stopping_patience: int | None = _help(
        "Stop after this many evaluations without improvement (empty = off).", None)
    load_best_model_at_end: bool = _help("Keep the best checkpoint, not the last.", False)
    metric_for_best_model: str | None = _help(
        "Metric that picks the best model (default: eval loss).", None)
    group_by_length: bool = _help("Batch texts of similar length together (less padding).",
                                  True)
    loss_on_answers_only: bool = _help("Chat data: compute the loss on answers only.", True)
    use_chat_template: bool = _help("Chat data: format with the tokenizer's chat template.",
                                    True)
    eval_on_start: bool = _help("Evaluate the untrained model first: a baseline point on "
                                "the curves.", False)
    class_weighting: bool = _help(
        "Classification: weight the loss by inverse class frequency so rare classes count "
        "as much as common ones (raises macro-F1 on imbalanced labels).", False)

    def __post_init__(self):
        require(self.learning_rate > 0, f"Learning rate must be > 0 (got {self.learning_rate}).",
                hint="Typical values: 1e-5 to 5e-4.")
        require(self.learning_rate < 1, f"Learning rate {self.learning_rate} is absurdly large.",
                hint="Typical values: 1e-5 to 5e-4.")
        require(self.num_train_epochs > 0 or self.max_steps > 0,
                "Train for at least one epoch or set max_steps > 0.")
        require(self.per_device_train_batch_size >= 1,
                f"Batch size must be at least 1 (got {self.per_device_train_batch_size}).")
        require(self.per_device_train_batch_size <= 4096, "Batch size above 4096 is absurd.")
        require(self.per_device_eval_batch_size >= 1, "Eval batch size must be at least 1.")
        require(self.gradient_accumulation_steps >= 1,
                "Gradient accumulation steps must be at least 1.")
        require(self.weight_decay >= 0, "Weight decay cannot be negative.")
        require(0 <= self.warmup_ratio < 1, "Warm-up ratio must be in [0, 1).")
        require(self.max_length >= 8, f"max_length {self.max_length} is too short (min 8).")
        require(self.truncation_side in ("left", "right"),
                f"truncation_side is 'left' or 'right' (got {self.truncation_side!r}).",
                hint="'right' keeps the start of long texts, 'left' keeps their end.")
        require(self.eval_strategy in ("no", "steps", "epoch"),
                "eval_strategy must be 'no', 'steps' or 'epoch'.")
        require(self.save_strategy in ("no", "steps", "epoch"),
                "save_strategy must be 'no', 'steps' or 'epoch'.")
        require(self.eval_strategy != "steps" or (self.eval_steps or 0) > 0,
                "eval_strategy 'steps' needs eval_steps > 0.")
        require(self.save_strategy != "steps" or (self.save_steps or 0) > 0,
                "save_strategy 'steps' needs save_steps > 0.")
        require(self.logging_steps >= 1, "logging_steps must be at least 1.")
        require(self.precision in ("auto", "fp32", "fp16", "bf16"),
                "precision must be auto, fp32, fp16 or bf16.")
        require(self.early_stopping_patience is None or self.early_stopping_patience >= 1,
                "Early stopping patience must be at least 1 (or empty for off).")
        require(self.early_stopping_patience is None or self.eval_strategy != "no",
                "Early stopping needs evaluation: set eval_strategy to 'steps' or 'epoch'.")


@dataclass
class SearchParam(_Config):
    """One row of the search space."""

    name: str = _help("Hyperparameter (a TrainConfig or LoRA field).")
    kind: str = _help("'float', 'int' or 'categorical'.", "float")
    low: float | None = _help("Lower bound (float/int).", None)
    high: float | None = _help("Upper bound (float/int).", None)
    log: bool = _help("Sample on a log scale.", False)
    choices: list | None = _help("Values for a categorical parameter.", None)

    def __post_init__(self):
        require(self.kind in ("float", "int", "categorical"),
                f"Search parameter {self.name}: kind must be float, int or categorical.")
        if self.kind == "categorical":
            require(bool(self.choices), f"Search parameter {self.name}: give some choices.")
        else:
            require(self.low is not None and self.high is not None,
                    f"Search parameter {self.name}: give low and high.")
            require(self.low <= self.high,
                    f"Search parameter {self.name}: low ({self.low}) is above high "
                    f"({self.high}).")
            require(not self.log or self.low > 0,
                    f"Search parameter {self.name}: a log range must be above 0 "
                    f"(got low={self.low}).")


@dataclass
class SearchConfig(_Config):
    n_trials: int = _help("Number of trials.", 10)
    timeout_s: float | None = _help("Stop starting trials after this many seconds.", None)
    objective: str = _help("Metric to optimise: eval_loss or any eval metric "
                           "(eval_accuracy, eval_f1_macro, eval_perplexity...).", "eval_loss")
    direction: str = _help("'minimize' or 'maximize'.", "minimize")
    sampler: str = _help("'tpe', 'random' or 'grid'.", "tpe")
    pruner: str = _help("'median', 'hyperband', 'successive_halving' or 'none'.", "median")
    space: list = _help("Search space rows.", default_factory=list)
    storage: str | None = _help("Optuna storage URL (default: sqlite in the run folder).",
                                None)
    study_name: str | None = _help("Study name (default: the run id).", None)
    seed: int | None = _help("Sampler seed (empty = random; give each worker of a shared "
                             "study its own seed or none).", None)

    def __post_init__(self):
        require(self.n_trials >= 1, f"Run at least one trial (got {self.n_trials}).")
        require(self.timeout_s is None or self.timeout_s > 0, "Time budget must be positive.")
        require(self.direction in ("minimize", "maximize"),
                "direction must be 'minimize' or 'maximize'.")
        require(self.sampler in ("tpe", "random", "grid"), "sampler: tpe, random or grid.")
        require(self.pruner in ("median", "hyperband", "successive_halving", "none"),
                "pruner: median, hyperband, successive_halving or none.")
        self.space = [p if isinstance(p, SearchParam) else SearchParam.from_dict(p)
                      for p in (self.space or [])]

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["space"] = [dataclasses.asdict(p) for p in self.space]
        return d


@dataclass
class GenerationConfig(_Config):
    do_sample: bool = _help("Sample (True) or pick the most likely token (False).", False)
    temperature: float = _help("Divide logits by this (0 = greedy).", 1.0)
    top_k: int = _help("Keep the k most likely tokens (0 = off).", 0)
    top_p: float = _help("Keep the smallest set of tokens with this much mass (1 = off).",
                         1.0)
    min_p: float = _help("Drop tokens below min_p x the top probability (0 = off).", 0.0)
    typical_p: float = _help("Locally typical sampling mass (1 = off).", 1.0)
    repetition_penalty: float = _help("> 1 discourages repeating tokens.", 1.0)
    no_repeat_ngram_size: int = _help("Never repeat an n-gram of this size (0 = off).", 0)
    num_beams: int = _help("Beam search width (1 = no beams).", 1)
    length_penalty: float = _help("Beam score length exponent (> 0 favours longer).", 1.0)
    early_stopping: bool = _help("Beams stop when num_beams finished candidates exist.", False)
    num_return_sequences: int = _help("How many sequences to return.", 1)
    max_new_tokens: int = _help("Generate at most this many tokens.", 64)
    seed: int | None = _help("Seed: same settings and seed, same text.", 0)

    def __post_init__(self):
        require(0 <= self.temperature <= 2, f"Temperature must be in [0, 2] "
                f"(got {self.temperature}).")
        require(0 <= self.top_k <= 1000, "top_k must be in [0, 1000] (0 = off).")
        require(self.top_p > 0, "top_p 0 would remove every token.",
                hint="Use a value in (0, 1]; 1 turns top-p off.")
        require(self.top_p <= 1, "top_p must be at most 1.")
        require(0 <= self.min_p < 1, "min_p must be in [0, 1).")
        require(0 < self.typical_p <= 1, "typical_p must be in (0, 1].")
        require(self.repetition_penalty > 0, "repetition_penalty must be > 0.")
        require(self.no_repeat_ngram_size >= 0, "no_repeat_ngram_size cannot be negative.")
        require(1 <= self.num_beams <= 8, f"num_beams must be 1 to 8 (got {self.num_beams}).")
        require(self.num_return_sequences >= 1, "num_return_sequences must be at least 1.")
        require(self.do_sample or self.num_return_sequences <= self.num_beams,
                f"Without sampling, at most num_beams ({self.num_beams}) different sequences "
                f"exist; {self.num_return_sequences} were asked for.",
                hint="Turn sampling on or raise num_beams.")
        require(1 <= self.max_new_tokens <= 4096, "max_new_tokens must be 1 to 4096.")


@dataclass
class RunConfig(_Config):
    """Everything needed to re-run an experiment: what the UI exports and the CLI runs."""

    data: DataConfig = _help("Data source, filters, columns and split.",
                             default_factory=DataConfig)
    model: ModelConfig = _help("Model and fine-tuning method.", default_factory=ModelConfig)
    train: TrainConfig = _help("Training hyperparameters.", default_factory=TrainConfig)
    search: SearchConfig | None = _help("Hyperparameter search (optional).", None)
    name: str | None = _help("A short name for the run.", None)
    runs_dir: str = _help("Folder that holds run folders.", "runs")

    def __post_init__(self):
        for attr, cls in (("data", DataConfig), ("model", ModelConfig),
                          ("train", TrainConfig), ("search", SearchConfig)):
            value = getattr(self, attr)
            if isinstance(value, dict):
                setattr(self, attr, cls.from_dict(value))

    def to_dict(self) -> dict:
        return {"name": self.name, "runs_dir": self.runs_dir, "data": self.data.to_dict(),
                "model": self.model.to_dict(), "train": self.train.to_dict(),
                "search": self.search.to_dict() if self.search else None}

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.to_yaml(), encoding="utf-8")
        return path

    @classmethod
    def from_yaml(cls, text: str) -> RunConfig:
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise UserError(f"The config is not valid YAML: {exc}") from None
        require(isinstance(data, dict), "The config must be a YAML mapping.")
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        path = Path(path)
        require(path.is_file(), f"Config file {path} does not exist.")
        return cls.from_yaml(path.read_text(encoding="utf-8"))
