"""The teaching view's transforms agree with transformers' own logits processors."""

import pytest
import torch
from transformers import (
    MinPLogitsWarper,
    NoRepeatNGramLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
    TypicalLogitsWarper,
)

from ft_core import distribution as D
from ft_core.config import GenerationConfig

VOCAB = 500


def _logits(seed: int, scale: float = 3.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(VOCAB, generator=g) * scale


def _reference(logits, cfg: GenerationConfig, input_ids=None):
    """transformers' processors, in the order _get_logits_processor builds them."""
    procs = []
    if input_ids is not None and cfg.repetition_penalty != 1.0:
        procs.append(RepetitionPenaltyLogitsProcessor(cfg.repetition_penalty))
    if input_ids is not None and cfg.no_repeat_ngram_size:
        procs.append(NoRepeatNGramLogitsProcessor(cfg.no_repeat_ngram_size))
    if cfg.temperature != 1.0:
        procs.append(TemperatureLogitsWarper(cfg.temperature))
    if cfg.top_k:
        procs.append(TopKLogitsWarper(cfg.top_k))
    if cfg.top_p < 1:
        procs.append(TopPLogitsWarper(cfg.top_p))
    if cfg.min_p > 0:
        procs.append(MinPLogitsWarper(cfg.min_p))
    if cfg.typical_p < 1:
        procs.append(TypicalLogitsWarper(cfg.typical_p))
    ids = torch.tensor([input_ids if input_ids is not None else [0]])
    scores = logits.clone().unsqueeze(0)
    for p in procs:
        scores = p(ids, scores)
    return scores[0]


SETTINGS = [
    dict(temperature=0.7),
    dict(top_k=10),
    dict(top_k=1),
    dict(top_p=0.5),
    dict(top_p=0.95, temperature=1.5),
    dict(min_p=0.1),
    dict(min_p=0.3, temperature=0.5),
    dict(typical_p=0.6),
    dict(typical_p=0.95, temperature=1.3),
    dict(temperature=0.8, top_k=40, top_p=0.9, min_p=0.05),
    dict(temperature=1.2, top_k=100, top_p=0.8, min_p=0.02, typical_p=0.9),
]


@pytest.mark.parametrize("settings", SETTINGS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_kept_set_and_probabilities_as_transformers(settings, seed):
    cfg = GenerationConfig(do_sample=True, **settings)
    logits = _logits(seed)
    view = D.apply_transforms(logits, cfg)
    ref = _reference(logits, cfg)
    ref_kept = torch.isfinite(ref)
    assert torch.equal(view.kept, ref_kept)
    assert torch.allclose(view.final_probs, torch.softmax(ref, -1), atol=1e-6)
    assert view.tokens_in_play == int(ref_kept.sum())


def test_processors_with_prefix_match_transformers():
    cfg = GenerationConfig(do_sample=True, repetition_penalty=1.3, no_repeat_ngram_size=2,
                           temperature=0.9, top_p=0.9)
    prefix = [5, 7, 9, 5, 7, 11, 5]  # "5 7" seen, so after the final 5 the token 7 is banned
    logits = _logits(3)
    view = D.apply_transforms(logits, cfg, input_ids=prefix)
    ref = _reference(logits, cfg, input_ids=prefix)
    assert torch.equal(view.kept, torch.isfinite(ref))
    assert torch.allclose(view.final_probs, torch.softmax(ref, -1), atol=1e-6)
    assert view.step_of(7) == "no-repeat n-gram"
    assert view.steps[0] == "repetition penalty"


def test_removed_tokens_are_credited_to_the_first_step_that_removed_them():
    cfg = GenerationConfig(do_sample=True, top_k=20, top_p=0.5)
    logits = _logits(4)
    view = D.apply_transforms(logits, cfg)
    order = torch.argsort(logits, descending=True)
    assert view.step_of(int(order[0])) is None  # the top token always stays
    assert view.step_of(int(order[25])) == "top-k"  # beyond the 20 kept by top-k
    top_p_removed = [i for i in range(VOCAB) if view.step_of(i) == "top-p"]
    assert top_p_removed and all(logits[i] >= logits[order[19]] for i in top_p_removed)
    assert view.steps == ["top-k", "top-p"]


def test_temperature_changes_entropy_and_temperature_zero_is_greedy():
    logits = _logits(5, scale=1.0)
    cold = D.apply_transforms(logits, GenerationConfig(do_sample=True, temperature=0.3))
    hot = D.apply_transforms(logits, GenerationConfig(do_sample=True, temperature=1.8))
    assert cold.entropy_final < hot.entropy_final
    zero = D.apply_transforms(logits, GenerationConfig(do_sample=True, temperature=0.0))
    assert zero.tokens_in_play == 1 and bool(zero.kept[int(torch.argmax(logits))])
    assert "greedy" in (zero.greedy_reason or "") and not zero.sampling


def test_nucleus_mass_and_greedy_note():
    logits = _logits(6)
    view = D.apply_transforms(logits, GenerationConfig(do_sample=True, top_p=0.7))
    assert 0.7 <= view.nucleus_mass <= 1.0
    assert view.nucleus_mass == pytest.approx(float(view.temp_probs[view.kept].sum()))
    off = D.apply_transforms(logits, GenerationConfig(do_sample=False, top_p=0.7))
    assert not off.sampling and "Sampling is off" in off.greedy_reason


def test_logits_are_cached_per_model_and_prefix(tiny_llama_dir):
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(tiny_llama_dir).eval()
    calls = []
    hook = model.register_forward_hook(lambda *a: calls.append(1))
    ids = torch.tensor([[1, 2, 3, 4]])
    first = D.next_token_distribution(model, None, ids)
    again = D.next_token_distribution(model, None, ids)
    assert len(calls) == 1 and first is again
    D.next_token_distribution(model, None, torch.tensor([[1, 2, 3, 5]]))
    assert len(calls) == 2
    with torch.no_grad():
        direct = model(input_ids=ids).logits[0, -1]
    assert torch.allclose(first, direct, atol=1e-5)
    # One pass over a sequence fills the cache for every prefix.
    D.sequence_logits(model, [1, 2, 3, 4, 6, 7], 4)
    n = len(calls)
    D.next_token_distribution(model, None, [1, 2, 3, 4, 6])
    assert len(calls) == n
    hook.remove()
