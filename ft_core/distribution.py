"""The teaching view: what happens to the next-token distribution before a token is drawn.

``next_token_distribution`` runs the model once per prefix and caches the logits, so moving
a slider only reruns ``apply_transforms``: a few sorts over the vocabulary (milliseconds).

``apply_transforms`` re-implements, step by step and in the same order, what
``GenerationMixin._get_logits_processor`` (transformers 5.23) builds for these settings:

    repetition penalty -> no-repeat n-gram -> [sampling only:] temperature -> top-k
    -> top-p -> min-p -> typical-p

Each filter sees the scores left by the previous one (top-p works on what top-k kept), so
a token is credited to the first step that removed it. The tests check every step against
transformers' own ``*LogitsWarper`` classes on random logits.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field

import torch

from .config import GenerationConfig

#: The order transformers applies the processors in (GenerationMixin._get_logits_processor).
PROCESSOR_ORDER = ("repetition penalty", "no-repeat n-gram", "temperature", "top-k", "top-p",
                   "min-p", "typical-p")
ORDER_NOTE = ("Order (as transformers' GenerationMixin._get_logits_processor applies them): "
              "repetition penalty → no-repeat n-gram → temperature → top-k → top-p → min-p → "
              "typical-p. Each filter sees only what the previous one kept.")

# -- Cached logits -----------------------------------------------------------------------

_MAX_PREFIXES_PER_MODEL = 256  # ~50 MB for a 49k vocabulary in fp32
_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def _key(input_ids) -> tuple[int, ...]:
    ids = input_ids.reshape(-1).tolist() if torch.is_tensor(input_ids) else list(input_ids)
    return tuple(int(i) for i in ids)


def _cache_for(model) -> OrderedDict:
    with _cache_lock:
        per_model = _cache.get(model)
        if per_model is None:  # keyed by the model object itself: freed with it
            per_model = _cache[model] = OrderedDict()
        return per_model


def _remember(model, key: tuple, logits: torch.Tensor) -> None:
    per_model = _cache_for(model)
    with _cache_lock:
        per_model[key] = logits
        per_model.move_to_end(key)
        while len(per_model) > _MAX_PREFIXES_PER_MODEL:
            per_model.popitem(last=False)


def cached_logits(model, input_ids) -> torch.Tensor | None:
    per_model = _cache_for(model)
    key = _key(input_ids)
    with _cache_lock:
        hit = per_model.get(key)
        if hit is not None:
            per_model.move_to_end(key)
        return hit


def next_token_distribution(model, tokenizer, input_ids) -> torch.Tensor:
    """Logits (float32, shape [vocab]) for the token after ``input_ids``; cached per prefix."""
    hit = cached_logits(model, input_ids)
    if hit is not None:
        return hit
    ids = torch.as_tensor(_key(input_ids), dtype=torch.long).reshape(1, -1)
    if ids.numel() == 0:
        from .errors import UserError
        raise UserError("There is no prefix to predict from.", hint="Type a prompt first.")
    with torch.inference_mode():
        logits = model(input_ids=ids.to(model.device)).logits[0, -1].float().cpu()
    _remember(model, _key(ids), logits)
    return logits


def sequence_logits(model, input_ids, first: int) -> torch.Tensor:
    """One forward pass over ``input_ids``; logits predicting tokens first..end (cached).

    Row j holds the distribution the model gave for token ``first + j`` (and for the token
    after the whole sequence in the last row); each prefix is cached for the view."""
    ids = torch.as_tensor(_key(input_ids), dtype=torch.long).reshape(1, -1)
    with torch.inference_mode():
        out = model(input_ids=ids.to(model.device)).logits[0, first - 1:].float().cpu()
    flat = ids[0].tolist()
    for j in range(out.shape[0]):
        _remember(model, tuple(flat[:first + j]), out[j])
    return out


# -- Transforms ----------------------------------------------------------------------------

@dataclass
class DistributionView:
    """Everything the chart shows, over the whole vocabulary (index = token id)."""

    raw_probs: torch.Tensor  # softmax of the model's logits
    temp_probs: torch.Tensor  # after penalties and temperature, before any filter
    final_probs: torch.Tensor  # what sampling draws from
    kept: torch.Tensor  # bool mask of tokens still in play
    removed_by: torch.Tensor  # int8: 0 kept, else 1 + index into ``steps``
    steps: list[str] = field(default_factory=list)  # the steps applied, in order
    sampling: bool = True  # False: greedy / beam search, the filters do not apply
    greedy_reason: str | None = None
    nucleus_mass: float = 1.0  # after-temperature mass of the tokens kept
    entropy_raw: float = 0.0  # bits
    entropy_final: float = 0.0  # bits
    tokens_in_play: int = 0

    def step_of(self, token_id: int) -> str | None:
        k = int(self.removed_by[token_id])
        return None if k == 0 else self.steps[k - 1]

    def top(self, n: int = 20) -> list[int]:
        """Token ids of the n most likely tokens before filtering (after temperature)."""
        order = torch.argsort(self.temp_probs, descending=True, stable=True)
        return order[:n].tolist()

    def summary(self) -> dict:
        return {"tokens_in_play": self.tokens_in_play,
                "nucleus_mass": round(self.nucleus_mass, 4),
                "entropy_raw_bits": round(self.entropy_raw, 3),
                "entropy_final_bits": round(self.entropy_final, 3),
                "steps": list(self.steps), "sampling": self.sampling}


def _entropy_bits(probs: torch.Tensor) -> float:
    p = probs[probs > 0].double()
    return float(-(p * p.log2()).sum())


def _repetition_penalty(scores, input_ids, penalty):
    ids = torch.as_tensor(_key(input_ids), dtype=torch.long)
    picked = scores.gather(0, ids)
    picked = torch.where(picked < 0, picked * penalty, picked / penalty)
    return scores.scatter(0, ids, picked)


def _banned_ngram_tokens(input_ids, n: int) -> list[int]:
    ids = list(_key(input_ids))
    if len(ids) + 1 < n:
        return []
    prefix = tuple(ids[len(ids) - n + 1:])
    return [ids[i + n - 1] for i in range(len(ids) - n + 1) if tuple(ids[i:i + n - 1]) == prefix]


def _top_k(scores, k):
    k = min(k, scores.size(-1))
    return scores < torch.topk(scores, k)[0][..., -1, None]


def _top_p(scores, top_p, keep):
    sorted_logits, sorted_idx = torch.sort(scores, descending=False)
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    remove_sorted = cumulative <= (1 - top_p)
    remove_sorted[..., -keep:] = False
    return remove_sorted.scatter(-1, sorted_idx, remove_sorted)


def _min_p(scores, min_p, keep):
    probs = torch.softmax(scores, dim=-1)
    remove = probs < min_p * probs.amax(dim=-1, keepdim=True)
    remove.scatter_(-1, torch.topk(probs, min(keep, probs.shape[-1]), dim=-1).indices, False)
    return remove


def _typical_p(scores, mass, keep):
    normalized = torch.nn.functional.log_softmax(scores, dim=-1)
    ent = -(normalized * normalized.exp()).nansum(-1, keepdim=True)
    shifted = torch.abs(-normalized - ent)
    sorted_scores, sorted_idx = torch.sort(shifted, descending=False)
    cumulative = scores.gather(-1, sorted_idx).softmax(dim=-1).cumsum(dim=-1)
    last = (cumulative < mass).sum(dim=-1, keepdim=True).clamp(max=sorted_scores.shape[-1] - 1)
    remove_sorted = sorted_scores > sorted_scores.gather(-1, last)
    remove_sorted[..., :keep] = False
    return remove_sorted.scatter(-1, sorted_idx, remove_sorted)


def _filters(cfg: GenerationConfig, keep: int):
    """(name, function scores -> bool remove mask) for the active filters, in order."""
    out = []
    if cfg.top_k:
        out.append(("top-k", lambda s: _top_k(s, cfg.top_k)))
    if cfg.top_p < 1.0:
        out.append(("top-p", lambda s: _top_p(s, cfg.top_p, keep)))
    if cfg.min_p > 0:
        out.append(("min-p", lambda s: _min_p(s, cfg.min_p, keep)))
    if cfg.typical_p < 1.0:
        out.append(("typical-p", lambda s: _typical_p(s, cfg.typical_p, keep)))
    return out


def apply_transforms(logits: torch.Tensor, cfg: GenerationConfig, input_ids=None,
                     min_tokens_to_keep: int = 1) -> DistributionView:
    """Apply the processors ``cfg`` turns on, in transformers' order, recording each step.

    ``input_ids`` (the prefix) is needed only for the repetition penalty and the no-repeat
    n-gram ban, which depend on the text so far. The filters are computed even when
    sampling is off, so a learner can see what they would do; ``sampling`` says whether
    generation actually uses them (greedy and beam search take the top tokens instead)."""
    logits = logits.detach().float().reshape(-1)
    vocab = logits.shape[0]
    neg_inf = torch.tensor(float("-inf"))
    removed_by = torch.zeros(vocab, dtype=torch.int8)
    steps: list[str] = []
    scores = logits.clone()

    def record(name: str, remove: torch.Tensor):
        nonlocal scores
        steps.append(name)
        newly = remove & (removed_by == 0)
        removed_by[newly] = len(steps)
        scores = scores.masked_fill(remove, neg_inf)

    # Processors (applied in greedy, beam and sampling alike).
    if input_ids is not None and cfg.repetition_penalty != 1.0:
        steps.append("repetition penalty")
        scores = _repetition_penalty(scores, input_ids, cfg.repetition_penalty)
    if input_ids is not None and cfg.no_repeat_ngram_size > 0:
        banned = torch.zeros(vocab, dtype=torch.bool)
        banned[_banned_ngram_tokens(input_ids, cfg.no_repeat_ngram_size)] = True
        record("no-repeat n-gram", banned)

    # Warpers: transformers adds them only when sampling.
    greedy_reason = None
    if cfg.temperature == 0:
        temp_probs = torch.softmax(scores, -1)  # nothing to divide by: shown at temperature 1
        greedy_reason = "Temperature 0 means greedy: only the most likely token stays."
        remove = torch.ones(vocab, dtype=torch.bool)
        remove[int(torch.argmax(scores))] = False
        record("temperature 0 (greedy)", remove)
    else:
        if cfg.temperature != 1.0:
            steps.append("temperature")
            scores = scores / cfg.temperature
        temp_probs = torch.softmax(scores, -1)
        for name, remove_fn in _filters(cfg, min_tokens_to_keep):
            record(name, remove_fn(scores))

    final_probs = torch.softmax(scores, dim=-1)
    kept = removed_by == 0
    sampling = bool(cfg.do_sample) and cfg.temperature != 0
    if not cfg.do_sample:
        greedy_reason = ("Sampling is off: " + ("beam search keeps the best-scoring beams"
                         if cfg.num_beams > 1 else "greedy decoding takes the top token") +
                         ", so temperature and the filters below do not change the output; "
                         "they show what sampling would do.")
    return DistributionView(
        raw_probs=torch.softmax(logits, -1), temp_probs=temp_probs, final_probs=final_probs,
        kept=kept, removed_by=removed_by, steps=steps, sampling=sampling,
        greedy_reason=greedy_reason, nucleus_mass=float(temp_probs[kept].sum()),
        entropy_raw=_entropy_bits(torch.softmax(logits, -1)),
        entropy_final=_entropy_bits(final_probs), tokens_in_play=int(kept.sum()))


def effective_choices(entropy_bits: float) -> float:
    """2**H: the number of equally likely tokens with the same uncertainty."""
    return math.pow(2.0, entropy_bits)
