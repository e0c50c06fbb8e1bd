"""The two embedded real models load offline and run one forward pass."""

import pytest
import torch

from ft_core.catalog import MINILM, SMOLLM
from ft_core.models import load_model, load_tokenizer

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_minilm_classifier_forward():
    model, info = load_model(MINILM, "classification", num_labels=3)
    tok = load_tokenizer(MINILM)
    batch = tok(["great drug, no side effects", "awful"], padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.shape == (2, 3)
    assert info["new_head"] is True  # the encoder ships no classification head


def test_smollm_generates_paris():
    model, _ = load_model(SMOLLM, "causal_lm")
    tok = load_tokenizer(SMOLLM)
    msgs = [{"role": "user", "content": "What is the capital of France?"}]
    ids = tok.apply_chat_template(msgs, add_generation_prompt=True, return_tensors="pt",
                                  return_dict=True)
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=12, do_sample=False)
    assert "Paris" in tok.decode(out[0][ids["input_ids"].shape[1]:])
