"""DataConfig -> PreparedData: clean, map labels to ids, split. Deterministic.

The Data tab runs these steps one by one on the data it already holds; the training
subprocess calls ``prepare(cfg)`` and gets the same rows, because every step depends only
on the config (and the source file, whose path and mtime key the load cache).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..catalog import BUILTIN_DATASETS
from ..config import DataConfig
from ..errors import UserError
from . import filters as F
from .load import BUILTIN_PREFIX, arrow_table, load_source, to_dataset
from .split import (
    SPLITS,
    allocate,
    check_not_empty,
    check_stratifiable,
    encode_labels,
    label_names,
    split_indices,
)

ROLES = ("text_column", "text_pair_column", "label_column", "response_column")
BUILTIN_ROLES = {
    "drug_reviews": {"text_column": "review", "label_column": "rating"},
    "chatterbot": {"text_column": "question", "response_column": "answer"},
}
_TEXT_NAMES = ("text", "sentence", "sentence1", "review", "content", "question", "prompt",
               "input", "instruction", "document")
_VALIDATION_NAMES = ("validation", "valid", "val", "dev")
PREPARED_INFO = "prepared.json"


@dataclass
class PreparedData:
    """train/validation/test splits plus the roles of their columns.

    ``splits[s]["label"]`` holds int label ids (when there is a label column); the original
    values stay in the column named by ``label_column``."""

    splits: object  # datasets.DatasetDict
    text_column: str
    text_pair_column: str | None = None
    label_column: str | None = None
    response_column: str | None = None
    label_names: list[str] = field(default_factory=list)
    label2id: dict[str, int] = field(default_factory=dict)
    config: DataConfig | None = None

    @property
    def id2label(self) -> dict[int, str]:
        return {i: name for name, i in self.label2id.items()}

    def sizes(self) -> dict[str, int]:
        return {name: len(ds) for name, ds in self.splits.items()}

    def label_counts(self) -> dict[str, dict[str, int]]:
        """{split: {label name: rows}} (empty when there is no label column)."""
        if not self.label_names:
            return {}
        out = {}
        for name, ds in self.splits.items():
            ids = arrow_table(ds).column("label").to_numpy()
            counts = np.bincount(ids, minlength=len(self.label_names)) if len(ids) else \
                np.zeros(len(self.label_names), int)
            out[name] = {label: int(c) for label, c in zip(self.label_names, counts,
                                                            strict=True)}
        return out

    def roles(self) -> dict:
        return {"text_column": self.text_column, "text_pair_column": self.text_pair_column,
                "label_column": self.label_column, "response_column": self.response_column,
                "label_names": self.label_names}


# -- Column roles ------------------------------------------------------------------------

def suggest_text_column(table: pa.Table) -> str | None:
    """A well-known text column name, else the string column with the longest texts."""
    names = [n for n in table.column_names
             if F._is_text(F.column(table, n).type)]
    for wanted in _TEXT_NAMES:
        if wanted in names:
            return wanted
    if not names:
        return None
    head = table.slice(0, 1000)
    import pyarrow.compute as pc
    return max(names, key=lambda n: pc.mean(pc.utf8_length(F.column(head, n))).as_py() or 0)


def default_roles(source: str, table: pa.Table) -> dict:
    """Column roles a source implies: built-in defaults, a saved prepared dataset's roles,
    or a guessed text column plus columns literally named label / response."""
    if source.startswith(BUILTIN_PREFIX):
        roles = BUILTIN_ROLES.get(source[len(BUILTIN_PREFIX):], {})
        return {r: roles.get(r) for r in ROLES}
    info = Path(source).expanduser() / PREPARED_INFO
    if info.is_file():
        saved = json.loads(info.read_text(encoding="utf-8"))
        return {r: saved.get(r) if saved.get(r) in table.column_names else None
                for r in ROLES}
    cols = table.column_names
    label = next((c for c in ("label", "labels") if c in cols), None)
    response = next((c for c in ("response", "answer", "output", "completion") if c in cols),
                    None)
    return {"text_column": suggest_text_column(table), "text_pair_column": None,
            "label_column": label, "response_column": response}


def resolve_roles(cfg: DataConfig, table: pa.Table) -> dict:
    """The config's roles; when it names none at all, the source's defaults.

    A text column is always needed: guessed when missing. Every named column must exist."""
    roles = {r: getattr(cfg, r) or None for r in ROLES}
    if not any(roles.values()):
        roles = default_roles(cfg.source, table)
    if not roles["text_column"]:
        roles["text_column"] = suggest_text_column(table)
    if not roles["text_column"]:
        raise UserError("The dataset has no text column.",
                        hint="Pick a source with at least one column of text.")
    for role, name in roles.items():
        if name and name not in table.column_names:
            raise UserError(f"The {role.replace('_', ' ')} {name!r} does not exist.",
                            hint="Columns: " + ", ".join(table.column_names) + ".")
    for cond in cfg.filters:
        F.column(table, cond.column)
    return roles


# -- Steps -------------------------------------------------------------------------------

def source_tables(dsdict) -> dict[str, pa.Table]:
    return {name: arrow_table(ds) for name, ds in dsdict.items()}


def concat(tables: list[pa.Table]) -> pa.Table:
    if len(tables) == 1:
        return tables[0]
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise UserError(f"The dataset's splits have different columns and cannot be merged: "
                        f"{exc}", hint="Keep the existing splits instead.") from None


def clean(table: pa.Table, cfg: DataConfig, roles: dict) -> pa.Table:
    """Unescape HTML, apply the filters, drop empty and duplicate texts (in that order)."""
    texts = [roles[r] for r in ("text_column", "text_pair_column", "response_column")
             if roles.get(r)]
    if cfg.unescape_html:
        table = F.unescape_html(table, texts)
    table = F.apply_filters(table, cfg.filters, cfg.combine)
    if cfg.drop_empty_text:
        table = F.drop_empty(table, texts)
    if cfg.drop_duplicates:
        table = F.drop_duplicates(table, [roles["text_column"]] +
                                  ([roles["text_pair_column"]] if roles["text_pair_column"]
                                   else []))
    return table


def _existing_splits(tables: dict[str, pa.Table], cfg: DataConfig) -> dict | None:
    """Map a source's own splits onto train/validation/test (None: split by ratios)."""
    if not cfg.keep_existing_splits or len(tables) < 2:
        return None
    names = list(tables)
    train = "train" if "train" in tables else names[0]
    validation = next((n for n in _VALIDATION_NAMES if n in tables and n != train), None)
    test = "test" if "test" in tables and train != "test" else None
    if validation is None and test is None:
        return None
    return {"train": train, "validation": validation, "test": test}


def _split_one(table: pa.Table, ratios: dict[str, float], cfg: DataConfig,
               ids: np.ndarray | None, names: list[str]) -> dict[str, pa.Table]:
    """Split one table into the parts named in ratios (ratios renormalised to sum 1)."""
    total = sum(ratios.values())
    parts = list(ratios)
    fractions = [ratios[p] / total for p in parts]
    stratified = cfg.stratify and ids is not None
    if stratified:
        check_stratifiable(ids, names, fractions)
    index = split_indices(table.num_rows, fractions, cfg.seed, ids if stratified else None)
    check_not_empty({p: len(i) for p, i in zip(parts, index, strict=True)},
                    dict(zip(parts, fractions, strict=True)), table.num_rows)
    return {p: table.take(i) for p, i in zip(parts, index, strict=True)}


def split_tables(tables: dict[str, pa.Table], cfg: DataConfig, label_col: str | None,
                 names: list[str]) -> dict[str, pa.Table]:
    """train/validation/test tables from cleaned source tables."""
    ratios = {"train": cfg.train_ratio, "validation": cfg.validation_ratio,
              "test": cfg.test_ratio}

    def ids_of(t):
        return encode_labels(t, label_col, names) if label_col else None

    mapping = _existing_splits(tables, cfg)
    if mapping is None:
        whole = concat(list(tables.values()))
        wanted = {k: v for k, v in ratios.items() if v > 0}
        out = _split_one(whole, wanted, cfg, ids_of(whole), names)
    else:
        train = tables[mapping["train"]]
        out = {s: tables[mapping[s]] for s in ("validation", "test") if mapping[s]}
        missing = {s: ratios[s] for s in ("validation", "test") if s not in out and ratios[s]}
        if missing:  # carve what the source lacks out of its train split
            carved = _split_one(train, {"train": ratios["train"], **missing}, cfg,
                                ids_of(train), names)
            out.update(carved)
        else:
            out["train"] = train
    empty = next(iter(tables.values())).slice(0, 0)
    return {s: out.get(s, empty) for s in SPLITS}


def _with_label_ids(table: pa.Table, label_col: str, names: list[str]) -> tuple[pa.Table, str]:
    """Add the int 'label' column; an original column named 'label' becomes 'label_original'."""
    ids = pa.array(encode_labels(table, label_col, names), pa.int64())
    if label_col == "label":
        table = table.rename_columns(["label_original" if c == "label" else c
                                      for c in table.column_names])
        label_col = "label_original"
    elif "label" in table.column_names:  # e.g. a reloaded prepared dataset: recompute
        table = table.drop_columns(["label"])
    return table.append_column("label", ids), label_col


def prepare_loaded(dsdict, cfg: DataConfig) -> PreparedData:
    """prepare() on a DatasetDict that is already loaded (the UI holds one)."""
    from datasets import ClassLabel, DatasetDict
    tables = source_tables(dsdict)
    roles = resolve_roles(cfg, next(iter(tables.values())))
    if _existing_splits(tables, cfg) is None:
        tables = {"all": concat(list(tables.values()))}
    tables = {k: clean(t, cfg, roles) for k, t in tables.items()}
    total = sum(t.num_rows for t in tables.values())
    if total == 0:
        raise UserError("No rows are left after the filters.",
                        hint="Loosen or remove a filter (or switch AND to OR).")
    label_col = roles["label_column"]
    names = label_names([F.column(t, label_col) for t in tables.values()], label_col) \
        if label_col else []
    parts = split_tables(tables, cfg, label_col, names)
    splits = {}
    for name, table in parts.items():
        if cfg.max_rows:
            table = table.slice(0, cfg.max_rows)
        ds_label_col = label_col
        if label_col:
            table, ds_label_col = _with_label_ids(table, label_col, names)
        splits[name] = to_dataset(table, {"label": ClassLabel(names=names)}
                                  if label_col else None)
    if label_col:
        roles["label_column"] = ds_label_col
    return PreparedData(DatasetDict(splits), roles["text_column"], roles["text_pair_column"],
                        roles["label_column"], roles["response_column"], names,
                        {n: i for i, n in enumerate(names)}, cfg)


def prepare(cfg: DataConfig) -> PreparedData:
    """Load the config's source, clean, map labels, split. Same config => same rows."""
    if isinstance(cfg, dict):
        cfg = DataConfig.from_dict(cfg)
    return prepare_loaded(load_source(cfg.source, cfg.hub_config, cfg.hub_split), cfg)


# -- Saving ------------------------------------------------------------------------------

def save_prepared(prepared: PreparedData, folder: str | Path, fmt: str = "disk") -> Path:
    """Save the splits (save_to_disk, or one Parquet file per split) plus prepared.json.

    The folder loads back as a source (``load_source(folder)``) with the same splits."""
    if fmt not in ("disk", "parquet"):
        raise UserError(f"Unknown save format {fmt!r}.", hint="Use 'disk' or 'parquet'.")
    folder = Path(folder).expanduser()
    if folder.exists() and folder.is_file():
        raise UserError(f"{folder} is a file.", hint="Pick a folder name.")
    if folder.exists() and any(folder.iterdir()) and \
            not (folder / PREPARED_INFO).exists():
        raise UserError(f"The folder {folder} exists and holds other files.",
                        hint="Pick a new or empty folder (nothing was overwritten).")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if fmt == "disk":
            prepared.splits.save_to_disk(str(folder))
        else:
            import pyarrow.parquet as pq
            for old in folder.glob("*.parquet"):
                old.unlink()
            for name, ds in prepared.splits.items():
                pq.write_table(arrow_table(ds), folder / f"{name}.parquet")
    except OSError as exc:
        raise UserError(f"Could not save to {folder}: {exc.strerror or exc}",
                        hint="Pick a folder you can write to.") from None
    info = {**prepared.roles(), "format": fmt, "sizes": prepared.sizes(),
            "config": prepared.config.to_dict() if prepared.config else None}
    # Roles for a reload: the int ids are in 'label', the original values in label_column.
    (folder / PREPARED_INFO).write_text(json.dumps(info, indent=2), encoding="utf-8")
    return folder


def describe_builtins() -> dict[str, str]:
    return {BUILTIN_PREFIX + k: v[2] for k, v in BUILTIN_DATASETS.items()}


__all__ = ["PreparedData", "prepare", "prepare_loaded", "save_prepared", "clean",
           "resolve_roles", "default_roles", "split_tables", "allocate"]
