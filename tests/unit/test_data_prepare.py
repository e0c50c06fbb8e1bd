"""prepare(): roles, label ids, deterministic and stratified splits, save/reload, bad inputs."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from ft_core import data as D
from ft_core.config import DataConfig
from ft_core.data.split import allocate, split_indices
from ft_core.errors import UserError


@pytest.fixture()
def csv_path(tmp_path):
    rng = np.random.default_rng(0)
    n = 1000
    labels = rng.choice(["a", "b", "c"], n, p=[0.7, 0.2, 0.1])
    df = pd.DataFrame({"text": [f"row {i} says {lab}" for i, lab in enumerate(labels)],
                       "label": labels, "n": np.arange(n)})
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    return str(path)


def cfg(source, **kw) -> DataConfig:
    return DataConfig(source=source, **kw)


def test_prepare_defaults_give_drug_reviews_splits():
    p = D.prepare(DataConfig())
    assert (p.text_column, p.label_column) == ("review", "rating")
    assert p.label_names == ["negative", "neutral", "positive"]
    assert p.label2id == {"negative": 0, "neutral": 1, "positive": 2}
    assert p.id2label[2] == "positive"
    sizes = p.sizes()
    assert sizes["test"] == 379  # the built-in test file is kept
    assert sizes["train"] + sizes["validation"] == 600 and sizes["validation"] > 0
    train = p.splits["train"]
    assert train.features["label"].names == p.label_names
    for row in train.select(range(20)):
        assert p.label_names[row["label"]] == row["rating"]


def test_chatterbot_roles():
    p = D.prepare(cfg("builtin:chatterbot"))
    assert (p.text_column, p.response_column, p.label_column) == ("question", "answer", None)
    assert "label" not in p.splits["train"].column_names
    assert sum(p.sizes().values()) > 1000


def test_same_config_same_rows_and_seed_changes_them(csv_path):
    a = D.prepare(cfg(csv_path, label_column="label", seed=3))
    D.clear_cache()  # a fresh load (as in a training subprocess) changes nothing
    b = D.prepare(DataConfig.from_dict(cfg(csv_path, label_column="label", seed=3).to_dict()))
    c = D.prepare(cfg(csv_path, label_column="label", seed=4))
    for split in ("train", "validation", "test"):
        assert a.splits[split]["n"] == b.splits[split]["n"]
    assert a.splits["test"]["n"] != c.splits["test"]["n"]


def test_ratio_split_is_exact_disjoint_and_complete(csv_path):
    p = D.prepare(cfg(csv_path, label_column="label", train_ratio=0.6,
                      validation_ratio=0.25, test_ratio=0.15))
    sizes = p.sizes()
    assert sum(sizes.values()) == 1000
    assert abs(sizes["train"] - 600) <= 3 and abs(sizes["validation"] - 250) <= 3
    ids = [set(p.splits[s]["n"]) for s in ("train", "validation", "test")]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    assert set.union(*ids) == set(range(1000))


def test_stratified_split_keeps_label_shares(csv_path):
    p = D.prepare(cfg(csv_path, label_column="label", stratify=True))
    counts = p.label_counts()
    total = Counter(pd.read_csv(csv_path)["label"])
    for split, ratio in (("train", 0.8), ("validation", 0.1), ("test", 0.1)):
        for label, n in total.items():
            assert abs(counts[split][label] - n * ratio) <= 1, (split, label)


def test_unstratified_split_differs(csv_path):
    strat = D.prepare(cfg(csv_path, label_column="label", stratify=True))
    plain = D.prepare(cfg(csv_path, label_column="label", stratify=False))
    assert strat.splits["test"]["n"] != plain.splits["test"]["n"]


def test_split_helpers():
    assert allocate(10, [0.8, 0.1, 0.1]) == [8, 1, 1]
    assert sum(allocate(7, [0.5, 0.3, 0.2])) == 7
    labels = np.array([0] * 50 + [1] * 50)
    parts = split_indices(100, [0.5, 0.5], seed=1, labels=labels)
    assert [int((labels[p] == 1).sum()) for p in parts] == [25, 25]
    again = split_indices(100, [0.5, 0.5], seed=1, labels=labels)
    assert all((x == y).all() for x, y in zip(parts, again, strict=True))


def test_numeric_labels_sort_numerically(tmp_path):
    path = tmp_path / "n.csv"
    pd.DataFrame({"text": [f"t{i}" for i in range(40)],
                  "stars": [10, 2, 1] * 13 + [2]}).to_csv(path, index=False)
    p = D.prepare(cfg(str(path), label_column="stars"))
    assert p.label_names == ["1", "2", "10"]
    row = p.splits["train"][0]
    assert p.label_names[row["label"]] == str(row["stars"])


def test_label_column_named_label_keeps_original(tmp_path):
    path = tmp_path / "l.csv"
    pd.DataFrame({"sentence": [f"s{i}" for i in range(30)],
                  "label": ["x", "y", "z"] * 10}).to_csv(path, index=False)
    p = D.prepare(cfg(str(path)))  # roles guessed: sentence / label
    assert (p.text_column, p.label_column) == ("sentence", "label_original")
    row = p.splits["train"][0]
    assert p.label_names[row["label"]] == row["label_original"]


def test_sentence_pairs_and_filters_and_max_rows(csv_path):
    p = D.prepare(cfg(csv_path, text_column="text", text_pair_column="label",
                      label_column="label", max_rows=50,
                      filters=[{"column": "label", "op": "!=", "value": "c"}]))
    assert p.text_pair_column == "label"
    assert all(len(ds) <= 50 for ds in p.splits.values())
    assert p.label_names == ["a", "b"]


def test_keep_existing_splits_off_merges_and_resplits():
    p = D.prepare(DataConfig(keep_existing_splits=False))
    assert sum(p.sizes().values()) == 979
    assert p.sizes()["test"] == pytest.approx(98, abs=2)


def test_zero_ratio_gives_an_empty_split(csv_path):
    p = D.prepare(cfg(csv_path, label_column="label", train_ratio=0.9, validation_ratio=0.0,
                      test_ratio=0.1))
    assert p.sizes()["validation"] == 0
    assert p.splits["validation"].column_names == p.splits["train"].column_names


@pytest.mark.parametrize("fmt", ["disk", "parquet"])
def test_save_and_reload(tmp_path, csv_path, fmt):
    p = D.prepare(cfg(csv_path, label_column="label", unescape_html=True))
    folder = D.save_prepared(p, tmp_path / f"out-{fmt}", fmt)
    assert (folder / "prepared.json").exists()
    back = D.prepare(cfg(str(folder)))  # roles come from prepared.json
    assert back.sizes() == p.sizes()
    assert back.label_names == p.label_names
    for split in ("train", "validation", "test"):
        assert back.splits[split]["n"] == p.splits[split]["n"]
        assert back.splits[split]["label"] == p.splits[split]["label"]


def test_save_refuses_a_folder_with_other_files(tmp_path, csv_path):
    p = D.prepare(cfg(csv_path, label_column="label"))
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="holds other files"):
        D.save_prepared(p, tmp_path / "busy")
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"
    with pytest.raises(UserError, match="Unknown save format"):
        D.save_prepared(p, tmp_path / "x", fmt="xlsx")


# -- bad inputs --------------------------------------------------------------------------

def _error(config) -> str:
    with pytest.raises(UserError) as info:
        D.prepare(config)
    return str(info.value)


def test_missing_column(csv_path):
    message = _error(cfg(csv_path, text_column="body"))
    assert "'body' does not exist" in message and "text, label, n" in message
    assert "no column named 'nope'" in _error(
        cfg(csv_path, filters=[{"column": "nope", "op": "==", "value": "1"}]))


def test_filter_leaving_no_rows(csv_path):
    message = _error(cfg(csv_path, label_column="label",
                         filters=[{"column": "label", "op": "==", "value": "zzz"}]))
    assert "No rows are left" in message


def test_invalid_regex(csv_path):
    assert "Invalid regular expression" in _error(
        cfg(csv_path, filters=[{"column": "text", "op": "regex", "value": "[a-"}]))


def test_ratios_not_summing_to_one_or_leaving_a_split_empty(tmp_path):
    with pytest.raises(UserError, match="sum to 0.900"):
        DataConfig(train_ratio=0.7, validation_ratio=0.1, test_ratio=0.1)
    path = tmp_path / "small.csv"
    pd.DataFrame({"text": ["a", "b", "c", "d"], "label": ["x", "y", "x", "y"]}
                 ).to_csv(path, index=False)
    message = _error(cfg(str(path), label_column="label", stratify=False))
    assert "split would be empty" in message and "rounds to 0 rows" in message


def test_stratify_with_a_single_row_class(tmp_path):
    path = tmp_path / "rare.csv"
    pd.DataFrame({"text": [f"t{i}" for i in range(21)],
                  "label": ["a"] * 10 + ["b"] * 10 + ["rare"]}).to_csv(path, index=False)
    message = _error(cfg(str(path), label_column="label", stratify=True))
    assert "'rare' has a single row" in message and "stratify" in message
    ok = D.prepare(cfg(str(path), label_column="label", stratify=False))
    assert sum(ok.sizes().values()) == 21


def test_label_column_with_missing_values(tmp_path):
    path = tmp_path / "holes.csv"
    pd.DataFrame({"text": [f"t{i}" for i in range(20)],
                  "label": ["a", None] * 10}).to_csv(path, index=False)
    message = _error(cfg(str(path), label_column="label"))
    assert "10 missing value(s)" in message and "not null" in message
    fixed = D.prepare(cfg(str(path), label_column="label", stratify=False, test_ratio=0.5,
                          train_ratio=0.5, validation_ratio=0.0,
                          filters=[{"column": "label", "op": "not null"}]))
    assert sum(fixed.sizes().values()) == 10
