"""Structured filters on Arrow tables: vectorised pyarrow.compute, never eval or query.

A condition is data (column, op, value). Values typed in the UI arrive as text and are
converted to the column's type here, with a clear message when they cannot be. Missing
values never match a condition, except for '!=' and 'not contains' (a missing review does
not contain "pain"), and 'is null'.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..config import FILTER_OPS, FilterCondition
from ..errors import UserError


def column(table: pa.Table, name: str) -> pa.ChunkedArray:
    """A column by name, dictionary-decoded, or a UserError listing the columns there are."""
    if name not in table.column_names:
        raise UserError(f"There is no column named {name!r}.",
                        hint="Columns: " + ", ".join(table.column_names) + ".")
    col = table.column(name)
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    return col


def _is_text(typ: pa.DataType) -> bool:
    return pa.types.is_string(typ) or pa.types.is_large_string(typ)


def _is_number(typ: pa.DataType) -> bool:
    return pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_decimal(typ)


def as_text(col: pa.ChunkedArray) -> pa.ChunkedArray:
    return col if _is_text(col.type) else col.cast(pa.string())


def _coerce(value, typ: pa.DataType, name: str):
    """Turn a value typed by the user into a scalar comparable with the column."""
    if value is None or (isinstance(value, str) and value.strip() == "" and not _is_text(typ)):
        raise UserError(f"The filter on {name!r} needs a value.")
    if _is_text(typ):
        return pa.scalar(str(value), typ)
    if _is_number(typ):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise UserError(f"Column {name!r} holds numbers; {value!r} is not a number.",
                            hint="Type a number such as 5 or 2.5.") from None
        if pa.types.is_integer(typ) and number.is_integer():
            return pa.scalar(int(number), pa.int64())
        return pa.scalar(number, pa.float64())
    if pa.types.is_boolean(typ):
        text = str(value).strip().lower()
        if text not in ("true", "false", "1", "0", "yes", "no"):
            raise UserError(f"Column {name!r} holds true/false; {value!r} is neither.")
        return pa.scalar(text in ("true", "1", "yes"))
    try:
        return pa.scalar(str(value)).cast(typ)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise UserError(f"Cannot compare column {name!r} ({typ}) with {value!r}.",
                        hint="Type a value in the column's format.") from None


def _as_list(value) -> list:
    if isinstance(value, (list, tuple)):
        return list(value)
    return [v.strip() for v in str(value if value is not None else "").split(",") if v.strip()]


def _length_bounds(value, name: str) -> tuple[int, int]:
    parts = value if isinstance(value, (list, tuple)) else re.findall(r"\d+", str(value or ""))
    try:
        low, high = (int(float(p)) for p in parts)
    except (TypeError, ValueError):
        raise UserError(f"'length between' on {name!r} needs two numbers, e.g. 20, 500.",
                        hint="Give the shortest and longest length (in characters).") from None
    if low > high:
        raise UserError(f"'length between' on {name!r}: {low} is above {high}.",
                        hint="Give the shortest length first.")
    return low, high


def _regex(pattern, name: str) -> str:
    pattern = str(pattern if pattern is not None else "")
    if not pattern:
        raise UserError(f"The regex filter on {name!r} needs a pattern.")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise UserError(f"Invalid regular expression {pattern!r}: {exc}.",
                        hint="Check brackets and escapes, e.g. \\d+ or (pain|ache).") from None
    return pattern


def condition_mask(table: pa.Table, cond: FilterCondition) -> pa.ChunkedArray:
    """Boolean mask (no nulls) of the rows that satisfy one condition."""
    col = column(table, cond.column)
    op, value, name = cond.op, cond.value, cond.column
    if op == "is null":
        return pc.is_null(col, nan_is_null=True)
    if op == "not null":
        return pc.invert(pc.is_null(col, nan_is_null=True))
    if op in ("contains", "not contains"):
        hit = pc.match_substring(as_text(col), str(value if value is not None else ""),
                                 ignore_case=True)
        return pc.fill_null(hit, False) if op == "contains" else \
            pc.fill_null(pc.invert(hit), True)
    if op == "regex":
        pattern = _regex(value, name)
        try:
            hit = pc.match_substring_regex(as_text(col), pattern)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise UserError(f"The regular expression {pattern!r} is not supported: {exc}",
                            hint="Use RE2 syntax (no look-ahead or back-references).") \
                from None
        return pc.fill_null(hit, False)
    if op == "length between":
        low, high = _length_bounds(value, name)
        length = pc.utf8_length(as_text(col))
        return pc.fill_null(pc.and_(pc.greater_equal(length, low),
                                    pc.less_equal(length, high)), False)
    if op == "in":
        items = _as_list(value)
        if not items:
            raise UserError(f"The 'in' filter on {name!r} needs a list of values.",
                            hint="Separate values with commas, e.g. positive, neutral.")
        scalars = [_coerce(v, col.type, name) for v in items]
        types = {s.type for s in scalars}  # ints and floats mixed: compare as floats
        value_set = pa.array([s.as_py() for s in scalars],
                             scalars[0].type if len(types) == 1 else pa.float64())
        target = col if col.type == value_set.type else col.cast(value_set.type, safe=False)
        return pc.fill_null(pc.is_in(target, value_set=value_set), False)
    compare = {"==": pc.equal, "!=": pc.not_equal, "<": pc.less, "<=": pc.less_equal,
               ">": pc.greater, ">=": pc.greater_equal}[op]
    hit = compare(col, _coerce(value, col.type, name))
    return pc.fill_null(hit, op == "!=")


def filter_mask(table: pa.Table, conditions: Iterable, combine: str = "and"):
    """The combined mask of several conditions (None when there are none)."""
    conditions = [c if isinstance(c, FilterCondition) else FilterCondition.from_dict(c)
                  for c in conditions or []]
    if combine not in ("and", "or"):
        raise UserError("Filters combine with 'and' or 'or'.")
    mask = None
    for cond in conditions:
        part = condition_mask(table, cond)
        mask = part if mask is None else (pc.and_(mask, part) if combine == "and"
                                          else pc.or_(mask, part))
    return mask


def apply_filters(table: pa.Table, conditions: Iterable, combine: str = "and") -> pa.Table:
    mask = filter_mask(table, conditions, combine)
    return table if mask is None else table.filter(mask)


def drop_empty(table: pa.Table, columns: Iterable[str]) -> pa.Table:
    """Drop rows whose given text columns are missing or only whitespace."""
    mask = None
    for name in columns:
        col = column(table, name)
        keep = pc.is_valid(col)
        if _is_text(col.type):
            keep = pc.and_(keep, pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(col)), 0))
        keep = pc.fill_null(keep, False)
        mask = keep if mask is None else pc.and_(mask, keep)
    return table if mask is None else table.filter(mask)


def drop_duplicates(table: pa.Table, columns: Iterable[str]) -> pa.Table:
    """Keep the first row of each distinct value of the given columns (order preserved)."""
    columns = list(columns)
    for name in columns:
        column(table, name)
    if not columns or table.num_rows == 0:
        return table
    keys = table.select(columns).append_column("__row", pa.array(np.arange(table.num_rows)))
    first = keys.group_by(columns, use_threads=False).aggregate([("__row", "min")])
    rows = np.sort(first.column("__row_min").to_numpy())
    return table if len(rows) == table.num_rows else table.take(rows)


def unescape_html(table: pa.Table, columns: Iterable[str]) -> pa.Table:
    """Turn HTML entities (&#039; &amp; ...) into characters in the given text columns.

    Only rows that contain '&' go through Python's html.unescape; the rest stay in Arrow."""
    for name in dict.fromkeys(columns):
        col = column(table, name)
        if not _is_text(col.type):
            continue
        col = col.combine_chunks()
        mask = pc.fill_null(pc.match_substring(col, "&"), False)
        rows = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
        if len(rows) == 0:
            continue
        fixed = pa.array([html.unescape(v) for v in col.take(rows).to_pylist()], col.type)
        new = pc.replace_with_mask(col, mask, fixed)
        table = table.set_column(table.column_names.index(name), name, new)
    return table


__all__ = ["FILTER_OPS", "apply_filters", "condition_mask", "drop_duplicates", "drop_empty",
           "filter_mask", "unescape_html", "column", "as_text"]
