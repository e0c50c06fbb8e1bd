"""See what the model sees: tokens, ids, character offsets, word ids, special tokens, and
the token-length distribution over the dataset (with a suggested max_length)."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import UserError

PADDING = ("longest", "max_length", "do_not_pad")
_TOKENIZERS: OrderedDict = OrderedDict()
_TOK_LOCK = threading.Lock()


def get_tokenizer(name: str):
    """The tokenizer of a catalog preset, run folder, local folder or Hub id (cached)."""
    from ..catalog import resolve_model
    from ..models import load_tokenizer
    source = resolve_model(name)
    with _TOK_LOCK:
        if source.identity in _TOKENIZERS:
            return _TOKENIZERS[source.identity]
    tok = load_tokenizer(source)
    with _TOK_LOCK:
        _TOKENIZERS[source.identity] = tok
        while len(_TOKENIZERS) > 4:
            _TOKENIZERS.popitem(last=False)
    return tok


@dataclass
class TokenPreview:
    tokens: pd.DataFrame  # #, token, id, start, end, word_id, sequence, special
    spans: list  # [(text, label | None)] for gr.HighlightedText: each token's span in text
    pair_spans: list  # the same for the second text of a pair
    n_tokens: int
    n_before_truncation: int
    settings: dict  # padding, truncation, max_length, model limit


def _spans(text: str, offsets, ids, sequence_ids, which: int) -> list:
    """Cover the text with (piece, label): a token's span gets its id, gaps get None."""
    out, cursor = [], 0
    for (start, end), tid, seq in zip(offsets, ids, sequence_ids, strict=True):
        if seq != which or end <= start or start < cursor:
            continue  # special token, or a byte-piece sharing its character with the last
        if start > cursor:
            out.append((text[cursor:start], None))
        out.append((text[start:end], str(tid)))
        cursor = end
    if cursor < len(text):
        out.append((text[cursor:], None))
    return out


def tokenize_row(tokenizer, text: str, text_pair: str | None = None, *, max_length: int = 128,
                 padding: str = "longest", truncation: bool = True,
                 truncation_side: str = "right", max_rows: int = 1024) -> TokenPreview:
    """Tokenize one example the way training will, and explain every token.
    ``truncation_side`` 'left' keeps the end of a long text (as training can)."""
    from ..models import model_max_length, with_truncation_side
    tokenizer = with_truncation_side(tokenizer, truncation_side)
    if padding not in PADDING:
        raise UserError(f"Unknown padding {padding!r}.", hint="Use: " + ", ".join(PADDING))
    limit = model_max_length(tokenizer)
    if not 1 <= int(max_length) <= limit:
        raise UserError(f"max_length must be between 1 and the model's limit {limit} "
                        f"(got {max_length}).")
    text = "" if text is None else str(text)
    pair = None if text_pair in (None, "") else str(text_pair)
    fast = getattr(tokenizer, "is_fast", False)
    enc = tokenizer(text, pair, max_length=int(max_length), truncation=bool(truncation),
                    padding=padding, return_offsets_mapping=fast,
                    return_special_tokens_mask=True)
    full = tokenizer(text, pair, truncation=False)
    ids = enc["input_ids"]
    tokens = tokenizer.convert_ids_to_tokens(ids)
    special = enc["special_tokens_mask"]
    offsets = enc["offset_mapping"] if fast else [(None, None)] * len(ids)
    word_ids = enc.word_ids() if fast else [None] * len(ids)
    seq_ids = enc.sequence_ids() if fast else [0] * len(ids)
    table = pd.DataFrame({
        "#": range(len(ids)), "token": tokens, "id": ids,
        "start": [o[0] if not s else None for o, s in zip(offsets, special, strict=True)],
        "end": [o[1] if not s else None for o, s in zip(offsets, special, strict=True)],
        "word_id": word_ids, "sequence": seq_ids, "special": [bool(s) for s in special],
    }).head(max_rows)
    spans = _spans(text, offsets, ids, seq_ids, 0) if fast else [(text, None)]
    pair_spans = _spans(pair, offsets, ids, seq_ids, 1) if fast and pair else []
    settings = {"padding": padding, "truncation": bool(truncation),
                "truncation_side": tokenizer.truncation_side,
                "max_length": int(max_length), "model_max_length": limit,
                "fast_tokenizer": fast}
    return TokenPreview(table, spans, pair_spans, len(ids), len(full["input_ids"]), settings)


def token_lengths(tokenizer, texts: list[str], pairs: list[str] | None = None) -> np.ndarray:
    """Token counts (special tokens included, no truncation) of each text (or pair)."""
    texts = ["" if t is None else str(t) for t in texts]
    if not texts:
        return np.zeros(0, int)
    if pairs is not None:
        pairs = ["" if p is None else str(p) for p in pairs]
        enc = tokenizer(texts, pairs, truncation=False)
    else:
        enc = tokenizer(texts, truncation=False)
    return np.array([len(x) for x in enc["input_ids"]])


def sample_rows(n_rows: int, sample: int, seed: int = 0) -> np.ndarray:
    if n_rows <= sample:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(seed).choice(n_rows, sample, replace=False))


def length_report(lengths: np.ndarray, max_length: int, model_limit: int) -> dict:
    """Share truncated at max_length, percentiles and a suggested max_length.

    Suggested: the 95th percentile rounded up to a multiple of 8 (tensor cores like
    multiples of 8), capped at the model's limit: 5% of rows lose a little, and batches
    are not padded for the rare very long row."""
    if len(lengths) == 0:
        return {"rows": 0, "truncated_share": 0.0, "p50": 0, "p95": 0, "max": 0,
                "suggested_max_length": min(8, model_limit)}
    p95 = float(np.percentile(lengths, 95))
    suggested = min(model_limit, max(8, int(math.ceil(p95 / 8) * 8)))
    return {"rows": int(len(lengths)),
            "truncated_share": float(np.mean(lengths > max_length)),
            "p50": float(np.percentile(lengths, 50)), "p95": p95, "max": int(lengths.max()),
            "suggested_max_length": suggested}
