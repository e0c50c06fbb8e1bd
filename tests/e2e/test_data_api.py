"""The Data tab's API through gradio_client: load, page, filter, split, tokenize, save,
upload, and bad inputs that come back as readable errors while the app keeps serving."""

from __future__ import annotations

import html

import pandas as pd
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from ft_core import data as D

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CONDITIONS = {"headers": ["column", "op", "value"],
              "data": [["condition", "in", "Depression, Pain, Anxiety"],
                       ["review", "length between", "100, 3000"]]}


@pytest.fixture(scope="module")
def dc(app_url):
    """A client of our own: its session holds this module's loaded data."""
    return Client(app_url, verbose=False)


def _expected_kept() -> int:
    dd = D.load_source("builtin:drug_reviews")
    df = pd.concat([dd[s].to_pandas() for s in dd])
    review = df["review"].map(html.unescape)  # the filters see unescaped text
    mask = df["condition"].isin(["Depression", "Pain", "Anxiety"]) & \
        review.str.len().between(100, 3000)
    return int(mask.sum())


def test_load_page_filter_split_tokenize_save(dc, tmp_path):
    status = dc.predict("builtin:drug_reviews", "", "", api_name="/load_dataset")[0]
    assert "Loaded `builtin:drug_reviews`" in status and "train: 600" in status

    rows, info = dc.predict(split="test", page=2, page_size=5, api_name="/preview_page")
    assert [r[0] for r in rows["data"]] == [5, 6, 7, 8, 9]
    assert "of 379" in info and "page 2 of 76" in info

    expected = _expected_kept()
    status = dc.predict(filters=CONDITIONS, unescape_html=True, api_name="/apply_filters")[0]
    assert f"kept **{expected:,} of 979**" in status

    out = dc.predict(filters=CONDITIONS, unescape_html=True, label_column="rating",
                     text_column="review", keep_existing_splits=False, seed=7,
                     api_name="/split_dataset")
    sizes = {row[0]: row[1] for row in out[0]["data"]}
    assert sum(sizes.values()) == expected and set(sizes) == {"train", "validation", "test"}
    assert "Ready for training" in out[2]
    assert [r[0] for r in out[3]["data"]] == ["negative", "neutral", "positive"]
    again = dc.predict(filters=CONDITIONS, unescape_html=True, label_column="rating",
                       text_column="review", keep_existing_splits=False, seed=7,
                       api_name="/split_dataset")
    assert again[0] == out[0]  # same config, same split

    spans, _pair, info, tokens, _plot = dc.predict(row=0, max_length=64,
                                                   api_name="/tokenize_preview")
    assert "Suggested max_length" in info and "would truncate" in info
    assert tokens["data"][0][1] == "[CLS]"
    assert any(s["class_or_confidence"] for s in spans)

    folder = tmp_path / "saved"
    message = dc.predict(folder=str(folder), fmt="parquet", api_name="/save_dataset")
    assert "Saved" in message and (folder / "train.parquet").exists()
    status = dc.predict(str(folder), "", "", api_name="/load_dataset")[0]
    assert f"train: {sizes['train']:,}" in status


def test_upload_copies_to_a_stable_folder(dc, tmp_path, monkeypatch):
    path = tmp_path / "mine.csv"
    pd.DataFrame({"text": ["a b", "c d", "e f"], "label": ["x", "y", "x"]}).to_csv(
        path, index=False)
    stored = dc.predict(handle_file(str(path)), api_name="/upload_file")
    assert stored.endswith("-mine.csv") and stored != str(path)
    assert D.load_source(stored)["train"]["text"] == ["a b", "c d", "e f"]
    status = dc.predict(stored, "", "", api_name="/load_dataset")[0]
    assert "train: 3" in status


@pytest.mark.parametrize(("content", "name", "needle"), [
    (b"text,label\ncaf\xe9,x\n", "latin.csv", "not UTF-8"),
    (b"", "empty.csv", "is empty"),
    (b"a,b\n1,2\n3,4,5\n", "broken.csv", "not a well-formed CSV"),
    (b"{}", "data.xml", "(Unsupported|Invalid) file type"),  # gradio checks file_types first
])
def test_bad_uploads_are_readable_errors(dc, tmp_path, content, name, needle):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(AppError, match=needle):
        stored = dc.predict(handle_file(str(path)), api_name="/upload_file")
        dc.predict(stored, "", "", api_name="/load_dataset")


def test_bad_inputs_then_the_app_still_works(dc):
    with pytest.raises(AppError, match="does not exist"):
        dc.predict("./no/such/file.csv", "", "", api_name="/load_dataset")
    with pytest.raises(AppError, match="offline"):
        dc.predict("someone/some-dataset", "", "", api_name="/load_dataset")
    dc.predict("builtin:drug_reviews", "", "", api_name="/load_dataset")
    bad_regex = {"headers": ["column", "op", "value"], "data": [["review", "regex", "(a"]]}
    with pytest.raises(AppError, match="Invalid regular expression"):
        dc.predict(filters=bad_regex, api_name="/apply_filters")
    nothing = {"headers": ["column", "op", "value"], "data": [["rating", "==", "superb"]]}
    with pytest.raises(AppError, match="No rows are left"):
        dc.predict(filters=nothing, api_name="/apply_filters")
    with pytest.raises(AppError, match="'stars' does not exist"):
        dc.predict(label_column="stars", api_name="/split_dataset")
    with pytest.raises(AppError, match="sum to 1.100"):
        dc.predict(train_ratio=0.9, label_column="rating", api_name="/split_dataset")
    # Nothing was lost: the loaded data still pages.
    rows, info = dc.predict(split="train", page=1, page_size=3, api_name="/preview_page")
    assert len(rows["data"]) == 3 and "of 600" in info
