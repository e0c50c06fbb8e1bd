"""Tokenization preview: offsets cover the text, word ids, specials, padding, lengths."""

from __future__ import annotations

import numpy as np
import pytest
from transformers import AutoTokenizer

from ft_core import data as D
from ft_core.data.tokenize_preview import length_report
from ft_core.errors import UserError

TEXT = "Tokenizers split unbelievably long words."


@pytest.fixture(scope="module")
def bert_tok(minilm_tokenizer_dir):
    return AutoTokenizer.from_pretrained(minilm_tokenizer_dir)


@pytest.fixture(scope="module")
def llama_tok(smollm_tokenizer_dir):
    return AutoTokenizer.from_pretrained(smollm_tokenizer_dir)


def test_offsets_point_at_the_token_text(bert_tok):
    p = D.tokenize_row(bert_tok, TEXT)
    tokens = p.tokens
    assert tokens["token"].iloc[0] == "[CLS]" and tokens["token"].iloc[-1] == "[SEP]"
    assert tokens["special"].tolist() == [True] + [False] * (len(tokens) - 2) + [True]
    for _, row in tokens[~tokens["special"]].iterrows():
        piece = TEXT[int(row["start"]):int(row["end"])].lower()
        assert piece == row["token"].removeprefix("##"), row.to_dict()
    # "unbelievably" is several word pieces sharing one word id
    word_ids = tokens["word_id"].dropna().astype(int).tolist()
    assert len(word_ids) > len(set(word_ids))
    assert p.n_tokens == len(tokens) == p.n_before_truncation


def test_spans_cover_the_text_exactly(bert_tok, llama_tok):
    for tok in (bert_tok, llama_tok):
        p = D.tokenize_row(tok, TEXT)
        assert "".join(piece for piece, _ in p.spans) == TEXT
        labelled = [label for _, label in p.spans if label is not None]
        ids = [str(i) for i, s in zip(p.tokens["id"], p.tokens["special"], strict=True)
               if not s]
        assert labelled == ids[:len(labelled)] and len(labelled) >= len(TEXT.split())


def test_byte_level_tokens_and_word_ids(llama_tok):
    p = D.tokenize_row(llama_tok, "héllo wörld")
    assert "".join(piece for piece, _ in p.spans) == "héllo wörld"
    assert any(t.startswith("Ġ") for t in p.tokens["token"])  # leading-space marker


def test_truncation_and_padding_settings(bert_tok):
    long_text = " ".join(["word"] * 100)
    cut = D.tokenize_row(bert_tok, long_text, max_length=16)
    assert cut.n_tokens == 16 and cut.n_before_truncation == 102
    padded = D.tokenize_row(bert_tok, "short", max_length=16, padding="max_length")
    assert padded.n_tokens == 16 and (padded.tokens["token"] == "[PAD]").sum() == 13
    assert padded.settings["padding"] == "max_length"
    free = D.tokenize_row(bert_tok, long_text, max_length=16, truncation=False)
    assert free.n_tokens == 102


def test_keeping_the_end_of_a_long_text(bert_tok):
    text = "first words here " + "filler " * 40 + "last verdict"
    start = D.tokenize_row(bert_tok, text, max_length=8)
    end = D.tokenize_row(bert_tok, text, max_length=8, truncation_side="left")
    kept = [span for span, tid in end.spans if tid is not None]
    assert kept[-2:] == ["last", "verdict"]
    assert end.spans[0][1] is None and end.spans[0][0].startswith("first words")  # cut
    assert start.tokens["token"].iloc[1] == "first"
    assert end.tokens["token"].iloc[0] == "[CLS]" and end.tokens["token"].iloc[-2] == \
        "verdict"
    assert end.settings["truncation_side"] == "left"
    assert bert_tok.truncation_side == "right"  # the shared tokenizer is not changed
    with pytest.raises(UserError, match="truncation side"):
        D.tokenize_row(bert_tok, text, truncation_side="middle")


def test_sentence_pairs_have_two_sequences(bert_tok):
    p = D.tokenize_row(bert_tok, "A man plays.", "Someone is playing.")
    assert set(p.tokens["sequence"].dropna().astype(int)) == {0, 1}
    assert "".join(piece for piece, _ in p.pair_spans) == "Someone is playing."
    assert (p.tokens["token"] == "[SEP]").sum() == 2


def test_bad_settings(bert_tok):
    with pytest.raises(UserError, match="model's limit 512"):
        D.tokenize_row(bert_tok, "x", max_length=4096)
    with pytest.raises(UserError, match="Unknown padding"):
        D.tokenize_row(bert_tok, "x", padding="sideways")


def test_token_lengths_and_suggestion(bert_tok):
    texts = ["one", "one two three four five six seven eight", "a b", None]
    lengths = D.token_lengths(bert_tok, texts)
    assert lengths.tolist() == [3, 10, 4, 2]
    report = length_report(np.array([10] * 90 + [100] * 10), max_length=64, model_limit=512)
    assert report["truncated_share"] == pytest.approx(0.10)
    assert report["suggested_max_length"] % 8 == 0 and report["suggested_max_length"] >= 96
    capped = length_report(np.array([5000] * 10), max_length=64, model_limit=512)
    assert capped["suggested_max_length"] == 512


def test_drug_reviews_token_lengths(bert_tok):
    table = D.arrow_table(D.load_source("builtin:drug_reviews")["train"])
    lengths = D.token_lengths(bert_tok, table.column("review").to_pylist()[:200])
    report = length_report(lengths, 128, 512)
    assert 0.2 < report["truncated_share"] < 0.9  # reviews average ~470 characters
    assert 128 < report["suggested_max_length"] <= 512
