"""The Data tab's handlers without a server: widget values -> DataConfig, the session's
work object through load/filter/split, Space-mode source checks."""

from __future__ import annotations

import pandas as pd
import pytest

from ft_core.config import DataConfig
from ft_core.errors import UserError
from ft_core.space import SpaceSettings
from ft_core.ui.data_tab import DataTab, conditions_from, config_from
from ft_core.ui.state import AppContext


def test_conditions_from_table_and_client_payload():
    df = pd.DataFrame([["review", "contains", "pain"], ["", "==", ""], ["rating", "in", "a,b"]],
                      columns=["column", "op", "value"])
    expected = [{"column": "review", "op": "contains", "value": "pain"},
                {"column": "rating", "op": "in", "value": "a,b"}]
    assert conditions_from(df) == expected
    payload = {"headers": ["column", "op", "value"], "data": df.values.tolist()}
    assert conditions_from(payload) == expected
    assert conditions_from(None) == []


def test_config_from_widget_values():
    cfg = config_from({"source": "builtin:drug_reviews", "combine": "OR", "text_column":
                       "review", "label_column": "(none)", "max_rows": 0, "seed": 3.0,
                       "train_ratio": 0.8, "validation_ratio": 0.1, "test_ratio": 0.1,
                       "keep_existing_splits": True, "stratify": True})
    assert cfg.combine == "or" and cfg.label_column is None and cfg.max_rows is None
    assert cfg.seed == 3 and DataConfig.from_dict(cfg.to_dict()) == cfg


def test_handlers_load_filter_split_store_the_config(tmp_path):
    tab = DataTab(AppContext(runs_dir=str(tmp_path)))
    out = tab.load("builtin:drug_reviews", "", "")
    work = out[0]
    assert set(work.view) == {"train", "test"} and "Loaded" in out[1]
    fields = {"filters": {"headers": ["column", "op", "value"],
                          "data": [["condition", "==", "Birth Control"]]},
              "combine": "and", "drop_empty_text": True, "unescape_html": True,
              "text_column": "review", "label_column": "rating",
              "keep_existing_splits": True, "train_ratio": 0.8, "validation_ratio": 0.1,
              "test_ratio": 0.1, "stratify": True, "seed": 42, "max_rows": 0}
    filtered = tab.apply_filters(work, **fields)[0]
    assert filtered.stage == "filtered"
    kept = sum(t.num_rows for t in filtered.view.values())
    assert 0 < kept < 979
    result = tab.split_dataset(filtered, **fields)
    split_work, state = result[0], result[1]
    assert split_work.prepared is not None and sum(split_work.prepared.sizes().values()) == kept
    assert state["source"] == "builtin:drug_reviews" and state["filters"][0]["value"] == \
        "Birth Control"
    message = tab.save_dataset(split_work, str(tmp_path / "saved"), "parquet")
    assert "Saved" in message and (tmp_path / "saved" / "train.parquet").exists()


def test_preview_and_errors_without_data(tmp_path):
    tab = DataTab(AppContext(runs_dir=str(tmp_path)))
    with pytest.raises(UserError, match="No dataset is loaded"):
        tab.preview_page(None, "train", 1, 20)
    work = tab.load("builtin:chatterbot", "", "")[0]
    df, info = tab.preview_page(work, "nope", 3, 10)  # an unknown split falls back
    assert len(df) == 10 and "page 3 of" in info
    with pytest.raises(UserError, match="Split the dataset"):
        tab.save_dataset(work, str(tmp_path / "x"), "disk")


def test_space_mode_refuses_server_paths_and_keeps_saves_in_the_session(tmp_path):
    settings = SpaceSettings(enabled=True, allow_local_paths=False)
    ctx = AppContext(runs_dir=str(tmp_path / "runs"), space_mode=True,
                     space_settings=settings)
    tab = DataTab(ctx)
    secret = tmp_path / "secret.csv"
    secret.write_text("text,label\na,b\n")
    with pytest.raises(UserError, match="does not open local files"):
        tab.load(str(secret), "", "")
    work = tab.load("builtin:drug_reviews", "", "")[0]
    fields = {"text_column": "review", "label_column": "rating", "keep_existing_splits": True,
              "train_ratio": 0.8, "validation_ratio": 0.1, "test_ratio": 0.1,
              "stratify": True, "seed": 1}
    work = tab.split_dataset(work, **fields)[0]
    message = tab.save_dataset(work, "../../escape", "parquet")
    assert "escape" in message and str(tmp_path / "runs") in message
    assert not (tmp_path.parent / "escape").exists()
    saved = message.split("`")[1]
    assert "Loaded" in tab.load(saved, "", "")[1]  # the visitor's own folder is allowed


def test_an_empty_split_previews_as_empty(tmp_path):
    tab = DataTab(AppContext(runs_dir=str(tmp_path)))
    work = tab.load("builtin:chatterbot", "", "")[0]
    fields = {"text_column": "question", "response_column": "answer", "train_ratio": 0.9,
              "validation_ratio": 0.0, "test_ratio": 0.1, "seed": 0}
    out = tab.split_dataset(work, **fields)
    work = out[0]
    assert work.prepared.sizes()["validation"] == 0 and out[1]["response_column"] == "answer"
    df, info = tab.preview_page(work, "validation", 1, 20)
    assert len(df) == 0 and "is empty" in info
    view = tab.show_view(work, "validation", 20, "(none)", "question")
    assert len(view[1]) == 0
