"""Loading every source kind, the load cache, uploads, and the loading bad inputs."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from ft_core import data as D
from ft_core.errors import UserError

ROWS = [{"text": "good film", "label": "pos", "score": 5},
        {"text": "bad film", "label": "neg", "score": 1},
        {"text": "fine, I guess", "label": "pos", "score": 3}]


@pytest.fixture()
def frame() -> pd.DataFrame:
    return pd.DataFrame(ROWS)


def _write(tmp_path, fmt: str, df: pd.DataFrame):
    path = tmp_path / f"data.{fmt}"
    if fmt == "csv":
        df.to_csv(path, index=False)
    elif fmt == "tsv":
        df.to_csv(path, sep="\t", index=False)
    elif fmt == "json":
        path.write_text(json.dumps(df.to_dict(orient="records")), encoding="utf-8")
    elif fmt == "jsonl":
        df.to_json(path, orient="records", lines=True)
    else:
        df.to_parquet(path)
    return path


@pytest.mark.parametrize("fmt", ["csv", "tsv", "json", "jsonl", "parquet"])
def test_each_file_format_loads_the_same_rows(tmp_path, frame, fmt):
    dd = D.load_source(str(_write(tmp_path, fmt, frame)))
    assert list(dd) == ["train"]
    ds = dd["train"]
    assert ds.column_names == ["text", "label", "score"]
    assert ds["text"] == frame["text"].tolist()
    assert [int(x) for x in ds["score"]] == [5, 1, 3]


def test_json_column_mapping_and_data_key(tmp_path):
    by_column = tmp_path / "cols.json"
    by_column.write_text(json.dumps({"text": ["a", "b"], "label": [0, 1]}))
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"data": [{"text": "a", "label": 0}]}))
    assert D.load_source(str(by_column))["train"]["label"] == [0, 1]
    assert D.load_source(str(wrapped))["train"]["text"] == ["a"]


def test_csv_with_quoted_newlines_and_commas(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('text,label\n"line one\nline two, with comma",pos\nplain,neg\n')
    assert D.load_source(str(path))["train"]["text"][0] == "line one\nline two, with comma"


def test_builtin_drug_reviews_has_train_and_test():
    dd = D.load_source("builtin:drug_reviews")
    assert {k: len(v) for k, v in dd.items()} == {"train": 600, "test": 379}
    assert {"review", "rating", "condition"} <= set(dd["train"].column_names)
    assert set(dd["train"]["rating"]) == {"negative", "neutral", "positive"}


def test_builtin_chatterbot_pairs_follow_conversations(tmp_path):
    folder = tmp_path / "bot"
    folder.mkdir()
    (folder / "x.yml").write_text("categories:\n- smalltalk\nconversations:\n"
                                  "- - Hi\n  - Hello\n  - How are you?\n- - Bye\n  - Ciao\n")
    from ft_core.data.load import chatterbot_rows
    assert chatterbot_rows(folder) == [
        {"question": "Hi", "answer": "Hello", "category": "smalltalk"},
        {"question": "Hello", "answer": "How are you?", "category": "smalltalk"},
        {"question": "Bye", "answer": "Ciao", "category": "smalltalk"}]
    dd = D.load_source("builtin:chatterbot")
    assert dd["train"].column_names == ["question", "answer", "category"]
    assert len(dd["train"]) > 1000
    assert "greetings" in set(dd["train"]["category"])


def test_cache_hits_until_the_file_changes(tmp_path, frame):
    path = _write(tmp_path, "csv", frame)
    first = D.load_source(str(path))
    assert D.load_source(str(path)) is first
    frame.iloc[:2].to_csv(path, index=False)
    os.utime(path, ns=(1, 1))  # a different mtime even within the same clock tick
    again = D.load_source(str(path))
    assert again is not first and len(again["train"]) == 2


def test_saved_folder_loads_back(tmp_path, frame):
    from datasets import Dataset, DatasetDict
    folder = tmp_path / "saved"
    DatasetDict({"train": Dataset.from_pandas(frame), "test": Dataset.from_pandas(frame[:1])}
                ).save_to_disk(str(folder))
    dd = D.load_source(str(folder))
    assert {k: len(v) for k, v in dd.items()} == {"train": 3, "test": 1}


def test_store_upload_is_stable_and_content_addressed(tmp_path, frame):
    src = _write(tmp_path, "csv", frame)
    uploads = tmp_path / "uploads"
    first = D.store_upload(src, original_name="My Data.csv", folder=uploads)
    second = D.store_upload(src, original_name="My Data.csv", folder=uploads)
    assert first == second and first.endswith("-My-Data.csv")
    assert D.load_source(first)["train"]["text"] == frame["text"].tolist()
    assert len(list(uploads.iterdir())) == 1


def test_upload_folder_follows_env(tmp_path, monkeypatch):
    monkeypatch.setenv("FT_LAB_UPLOADS", str(tmp_path / "up"))
    assert D.uploads_dir() == tmp_path / "up" and (tmp_path / "up").is_dir()


# -- bad inputs --------------------------------------------------------------------------

def _error(fn, *args, **kw) -> str:
    with pytest.raises(UserError) as info:
        fn(*args, **kw)
    return str(info.value)


def test_malformed_csv(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n3,4,5\n")
    message = _error(D.load_source, str(path))
    assert "not a well-formed CSV" in message and "same number of fields" in message


def test_unsupported_extension(tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"PK\x03\x04")
    message = _error(D.load_source, str(path))
    assert "Unsupported file type '.xlsx'" in message and ".parquet" in message
    assert "Unsupported" in _error(D.store_upload, path, folder=tmp_path / "u")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    assert "is empty" in _error(D.load_source, str(path))
    header_only = tmp_path / "header.csv"
    header_only.write_text("text,label\n")
    assert "no data rows" in _error(D.load_source, str(header_only))


def test_non_utf8_bytes(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("text,label\ncafé,pos\nna\xefve,neg\n".encode("latin-1"))
    message = _error(D.load_source, str(path))
    assert "not UTF-8" in message and "line 2" in message and "0xe9" in message


def test_file_over_the_size_limit(tmp_path, frame, monkeypatch):
    path = _write(tmp_path, "csv", frame)
    message = _error(D.load_source, str(path), max_bytes=10)
    assert "over the" in message and "FT_LAB_MAX_UPLOAD_MB" in message
    monkeypatch.setenv("FT_LAB_MAX_UPLOAD_MB", "0.00001")  # about 10 bytes
    assert D.max_upload_bytes() < 20
    assert "limit" in _error(D.store_upload, path, folder=tmp_path / "u")


def test_invalid_json_and_jsonl(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('[{"text": "a"}, {"text": ]')
    assert "not valid JSON" in _error(D.load_source, str(bad))
    lines = tmp_path / "bad.jsonl"
    lines.write_text('{"text": "a"}\n{"text": \n')
    assert "not valid JSON lines" in _error(D.load_source, str(lines))


def test_missing_path_and_bad_names():
    assert "does not exist" in _error(D.load_source, "./nope/data.csv")
    assert "No data source" in _error(D.load_source, "  ")
    assert "Unknown built-in" in _error(D.load_source, "builtin:imagenet")


def test_offline_hub_name_lists_the_builtins(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    message = _error(D.load_source, "stanfordnlp/imdb")
    assert "offline" in message and "builtin:drug_reviews" in message
    assert "builtin:chatterbot" in message
