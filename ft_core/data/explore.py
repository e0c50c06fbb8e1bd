"""What the Data tab shows: one page of rows, the schema, label counts, text lengths.

Everything is computed in Arrow; pandas appears only for the small tables that are shown.
A preview slices one page (O(page size), whatever the dataset size).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import UserError
from . import filters as F
from .load import arrow_table

MAX_CELL_CHARS = 1000  # longer texts are cut in the preview (the data keeps them whole)


def as_table(data) -> pa.Table:
    return data if isinstance(data, pa.Table) else arrow_table(data)


def page_count(n_rows: int, page_size: int) -> int:
    return max(1, math.ceil(n_rows / max(1, page_size)))


def preview_page(data, page: int = 1, page_size: int = 20) -> tuple[pd.DataFrame, dict]:
    """Rows of one page (1-based) as a DataFrame, plus {page, pages, rows, first, last}."""
    table = as_table(data)
    page_size = int(page_size or 20)
    if not 1 <= page_size <= 500:
        raise UserError(f"Page size must be 1 to 500 (got {page_size}).")
    pages = page_count(table.num_rows, page_size)
    page = min(max(1, int(page or 1)), pages)
    start = (page - 1) * page_size
    chunk = table.slice(start, page_size)
    df = chunk.to_pandas(types_mapper=None)
    for name in df.columns:  # cut huge cells: the browser only needs to show them
        if df[name].dtype == object or str(df[name].dtype).startswith(("str", "string")):
            df[name] = df[name].map(lambda v: v[:MAX_CELL_CHARS] + " …"
                                    if isinstance(v, str) and len(v) > MAX_CELL_CHARS else v)
    df.insert(0, "#", range(start, start + len(df)))
    info = {"page": page, "pages": pages, "rows": table.num_rows, "first": start,
            "last": start + len(df) - 1}
    return df, info


def schema(data, max_rows: int = 200_000) -> pd.DataFrame:
    """name, dtype, nulls, distinct values, and text length min/mean/max per column.

    Counts cover the first ``max_rows`` rows (exact for smaller datasets) to stay fast."""
    table = as_table(data)
    sample = table.slice(0, max_rows)
    rows = []
    for name in table.column_names:
        col = F.column(sample, name)
        nulls = pc.sum(pc.is_null(col, nan_is_null=True)).as_py() or 0
        try:
            distinct = pc.count_distinct(col, mode="only_valid").as_py()
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid):  # lists, structs
            distinct = None
        row = {"column": name, "dtype": str(table.schema.field(name).type), "nulls": nulls,
               "distinct": distinct, "len min": None, "len mean": None, "len max": None}
        if F._is_text(col.type) and sample.num_rows:
            length = pc.utf8_length(col)
            stats = pc.min_max(length).as_py()
            mean = pc.mean(length).as_py()
            row.update({"len min": stats["min"], "len mean": round(mean, 1) if mean else None,
                        "len max": stats["max"]})
        rows.append(row)
    return pd.DataFrame(rows)


def label_distribution(data, label_column: str) -> pd.DataFrame:
    """label, count, share: the rows per label value (most common first)."""
    table = as_table(data)
    col = F.column(table, label_column)
    counts = pc.value_counts(col)
    df = pd.DataFrame({"label": [str(v) for v in counts.field("values").to_pylist()],
                       "count": counts.field("counts").to_numpy()})
    df = df.sort_values(["count", "label"], ascending=[False, True]).reset_index(drop=True)
    df["share"] = (df["count"] / max(1, df["count"].sum())).round(4)
    return df


def text_lengths(data, text_column: str, sample: int = 50_000, seed: int = 0) -> np.ndarray:
    """Character lengths of a text column (a random sample for big datasets)."""
    table = as_table(data)
    col = F.column(table, text_column)
    if table.num_rows > sample:
        rows = np.sort(np.random.default_rng(seed).choice(table.num_rows, sample, replace=False))
        col = col.take(rows)
    return pc.fill_null(pc.utf8_length(F.as_text(col)), 0).to_numpy(zero_copy_only=False)


def histogram(values: np.ndarray, bins: int = 30) -> pd.DataFrame:
    """bin (label "lo-hi"), start, count: a histogram as a small table for plotting."""
    values = np.asarray(values)
    if len(values) == 0:
        return pd.DataFrame({"bin": [], "start": [], "count": []})
    counts, edges = np.histogram(values, bins=bins)
    return pd.DataFrame({"bin": [f"{edges[i]:.0f}-{edges[i + 1]:.0f}" for i in range(len(counts))],
                         "start": edges[:-1].round(1), "count": counts})


def split_summary(prepared) -> pd.DataFrame:
    """split, rows, and one column per label with its count (and share) in that split."""
    counts = prepared.label_counts()
    rows = []
    for name, size in prepared.sizes().items():
        row = {"split": name, "rows": size}
        for label, c in counts.get(name, {}).items():
            row[label] = f"{c} ({c / size:.0%})" if size else "0"
        rows.append(row)
    return pd.DataFrame(rows)


def label_table(prepared) -> pd.DataFrame:
    """label -> id, as the model will see it."""
    return pd.DataFrame({"label": prepared.label_names,
                         "id": [prepared.label2id[n] for n in prepared.label_names]})
