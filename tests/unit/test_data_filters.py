"""Every filter operator, AND/OR, drop empty/duplicates, HTML unescaping, bad filters."""

from __future__ import annotations

import pyarrow as pa
import pytest

from ft_core import data as D
from ft_core.config import FILTER_OPS
from ft_core.errors import UserError

TABLE = pa.table({
    "text": ["Great drug", "bad side effects", None, "great DRUG again", "ok", "  "],
    "rating": [9, 2, 5, 10, None, 7],
    "label": ["pos", "neg", "neu", "pos", "neu", "neg"],
    "score": [0.5, 1.5, float("nan"), 2.5, 3.0, 0.0],
})


def rows(op, value=None, column="text", table=TABLE) -> list[int]:
    """Indices of the rows that one condition keeps."""
    indexed = table.append_column("i", pa.array(range(table.num_rows)))
    kept = D.apply_filters(indexed, [{"column": column, "op": op, "value": value}])
    return kept.column("i").to_pylist()


CASES = [
    ("==", "rating", "9", [0]),
    ("==", "label", "pos", [0, 3]),
    ("!=", "label", "pos", [1, 2, 4, 5]),
    ("!=", "rating", 9, [1, 2, 3, 4, 5]),  # a missing rating is "not 9"
    ("<", "rating", "5", [1]),
    ("<=", "rating", "5", [1, 2]),
    (">", "rating", 7, [0, 3]),
    (">=", "rating", "7", [0, 3, 5]),
    (">", "score", "1", [1, 3, 4]),  # NaN never compares true
    ("contains", "text", "great", [0, 3]),  # case-insensitive
    ("not contains", "text", "drug", [1, 2, 4, 5]),
    ("regex", "text", r"^[Gg]reat\b", [0, 3]),
    ("in", "label", "neg, neu", [1, 2, 4, 5]),
    ("in", "rating", [2, 10], [1, 3]),
    ("in", "rating", "9, 2.5", [0]),  # ints and floats mixed
    ("length between", "text", "2, 10", [0, 4, 5]),
    ("length between", "text", [10, 16], [0, 1, 3]),
    ("is null", "text", None, [2]),
    ("is null", "score", None, [2]),  # NaN counts as missing
    ("not null", "rating", None, [0, 1, 2, 3, 5]),
]


@pytest.mark.parametrize(("op", "column", "value", "expected"), CASES)
def test_each_operator(op, column, value, expected):
    assert rows(op, value, column) == expected


def test_every_config_operator_is_covered():
    assert {c[0] for c in CASES} == set(FILTER_OPS)


def test_and_or_combination():
    conds = [{"column": "label", "op": "==", "value": "pos"},
             {"column": "rating", "op": ">=", "value": "10"}]
    assert D.apply_filters(TABLE, conds, "and").num_rows == 1
    either = [{"column": "label", "op": "==", "value": "neg"},
              {"column": "rating", "op": ">=", "value": "10"}]
    assert D.apply_filters(TABLE, either, "or").column("rating").to_pylist() == [2, 10, 7]
    assert D.apply_filters(TABLE, [], "and") is TABLE


def test_dictionary_columns_filter_like_plain_ones():
    table = pa.table({"label": pa.array(["a", "b", "a"]).dictionary_encode()})
    kept = D.apply_filters(table, [{"column": "label", "op": "in", "value": "a"}])
    assert kept.num_rows == 2


def test_drop_empty_and_duplicates():
    assert D.drop_empty(TABLE, ["text"]).column("text").to_pylist() == \
        ["Great drug", "bad side effects", "great DRUG again", "ok"]
    dup = pa.table({"text": ["a", "b", "a", None, None, "c"], "n": [1, 2, 3, 4, 5, 6]})
    kept = D.drop_duplicates(dup, ["text"])
    assert kept.column("n").to_pylist() == [1, 2, 4, 6]  # first of each, order kept


def test_unescape_html_only_touches_entities():
    table = pa.table({"review": ["It&#039;s fine", "no entity", None, "A &amp; B &quot;x&quot;"],
                      "n": [1, 2, 3, 4]})
    out = D.unescape_html(table, ["review"])
    assert out.column("review").to_pylist() == ["It's fine", "no entity", None, 'A & B "x"']
    assert out.column("n").to_pylist() == [1, 2, 3, 4]


def test_drug_reviews_contain_entities_that_unescape():
    table = D.arrow_table(D.load_source("builtin:drug_reviews")["train"])
    assert D.apply_filters(table, [{"column": "review", "op": "contains",
                                    "value": "&#039;"}]).num_rows > 50
    clean = D.unescape_html(table, ["review"])
    assert D.apply_filters(clean, [{"column": "review", "op": "contains",
                                    "value": "&#039;"}]).num_rows == 0


# -- bad filters -------------------------------------------------------------------------

@pytest.mark.parametrize(("cond", "needle"), [
    ({"column": "nope", "op": "==", "value": "x"}, "no column named 'nope'"),
    ({"column": "text", "op": "regex", "value": "(unclosed"}, "Invalid regular expression"),
    ({"column": "text", "op": "regex", "value": "(?<=a)b"}, "not supported"),
    ({"column": "rating", "op": ">", "value": "high"}, "not a number"),
    ({"column": "text", "op": "length between", "value": "10"}, "needs two numbers"),
    ({"column": "text", "op": "length between", "value": "50, 10"}, "is above"),
    ({"column": "label", "op": "in", "value": ""}, "needs a list"),
    ({"column": "text", "op": "~=", "value": "x"}, "Unknown filter operator"),
])
def test_bad_filters_are_user_errors(cond, needle):
    with pytest.raises(UserError) as info:
        D.apply_filters(TABLE, [cond])
    assert needle in str(info.value)


def test_filters_never_evaluate_code():
    sneaky = "__import__('os').system('echo hacked')"
    for op in ("==", "contains", "regex", "in"):
        assert D.apply_filters(TABLE, [{"column": "text", "op": op, "value": sneaky}]
                               ).num_rows == 0
