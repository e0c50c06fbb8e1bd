"""Label ids and deterministic (optionally stratified) splits, on numpy indices.

Same rows, same seed => same split: one numpy Generator seeded with the config's seed
drives every shuffle, classes are visited in label-id order, and the per-class split
sizes come from largest-remainder rounding (no float ties left to chance).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import UserError
from .filters import column

SPLITS = ("train", "validation", "test")


def label_names(columns: list[pa.ChunkedArray], name: str) -> list[str]:
    """Sorted label names over all splits: numerically when every label is a number."""
    values = set()
    for col in columns:
        missing = col.null_count + (pc.sum(pc.is_nan(col)).as_py() or 0
                                    if pa.types.is_floating(col.type) else 0)
        if missing:
            raise UserError(f"The label column {name!r} has {missing} missing value(s).",
                            hint=f"Add the filter '{name} not null', or pick another label "
                                 "column.")
        values.update(pc.unique(col).to_pylist())
    if not values:
        return []
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        ordered = sorted(values)
        return [str(int(v)) if float(v).is_integer() else str(v) for v in ordered]
    return sorted({str(v) for v in values})


def _as_label_text(col: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_floating(col.type):
        # 1.0 must read as "1", like label_names writes it
        as_int = pc.cast(col, pa.int64(), safe=False)
        if pc.all(pc.equal(pc.cast(as_int, col.type), col)).as_py() is not False:
            col = as_int
    if pa.types.is_boolean(col.type):
        return pa.chunked_array([pa.array([str(v) for v in col.to_pylist()], pa.string())])
    return col if pa.types.is_string(col.type) else col.cast(pa.string())


def encode_labels(table: pa.Table, name: str, names: list[str]) -> np.ndarray:
    """Label ids (int64) of a table's label column, given the sorted label names."""
    col = column(table, name)
    ids = pc.index_in(_as_label_text(col), value_set=pa.array(names, pa.string()))
    return ids.to_numpy(zero_copy_only=False).astype(np.int64) if table.num_rows else \
        np.zeros(0, np.int64)


def allocate(n: int, ratios: list[float]) -> list[int]:
    """Split n into parts proportional to ratios, summing exactly to n."""
    raw = np.asarray(ratios, dtype=float) * n
    counts = np.floor(raw).astype(int)
    remainder = n - counts.sum()
    order = np.argsort(-(raw - counts), kind="stable")  # largest fraction first
    counts[order[:remainder]] += 1
    return counts.tolist()


def split_indices(n: int, ratios: list[float], seed: int,
                  labels: np.ndarray | None = None) -> list[np.ndarray]:
    """Row indices for each part; stratified (per-class proportions) when labels are given."""
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in ratios]
    if labels is None:
        groups = [np.arange(n)]
    else:
        order = np.argsort(labels, kind="stable")
        counts = np.bincount(labels) if n else np.zeros(0, int)
        groups = np.split(order, np.cumsum(counts)[:-1]) if n else []
    for group in groups:
        shuffled = rng.permutation(group)
        bounds = np.cumsum([0] + allocate(len(group), ratios))
        for i in range(len(ratios)):
            parts[i].append(shuffled[bounds[i]:bounds[i + 1]])
    # Shuffle inside each part so classes interleave (a head(n) subset stays balanced).
    return [rng.permutation(np.concatenate(p)) if p else np.zeros(0, np.int64) for p in parts]


def check_stratifiable(ids: np.ndarray, names: list[str], ratios: list[float]) -> None:
    if sum(r > 0 for r in ratios) < 2:
        return
    counts = np.bincount(ids, minlength=len(names))
    single = [names[i] for i, c in enumerate(counts) if c == 1]
    if single:
        shown = ", ".join(repr(s) for s in single[:5]) + (" ..." if len(single) > 5 else "")
        raise UserError(f"Cannot stratify: class {shown} has a single row, so it cannot be "
                        "in both the training and the evaluation splits.",
                        hint="Turn off 'stratify', drop the rare class with a filter, or "
                             "add more rows for it.")


def check_not_empty(sizes: dict[str, int], ratios: dict[str, float], total: int) -> None:
    for name, size in sizes.items():
        if size == 0 and ratios.get(name, 0) > 0:
            raise UserError(
                f"The {name} split would be empty: {ratios[name]:g} of {total} rows rounds to "
                "0 rows.", hint=f"Raise the {name} ratio, use more rows, or set it to 0.")
