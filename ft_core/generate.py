"""Generation for the Playground (and the Compare tab): inputs, streaming, beams, samples.

Everything goes through ``model.generate`` with settings translated from our
``GenerationConfig``; streaming adds only a ``TextIteratorStreamer`` and a thread, so the
playground runs at the speed of a bare ``generate`` (bench/bench_generate.py checks it).
The per-token probabilities for colouring come from one extra forward pass after the
text is done, never from slowing the generation loop down.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from . import distribution
from .catalog import resolve_model
from .config import GenerationConfig
from .errors import UserError
from .models import cached_model, detect_task, model_max_length

PRESETS: dict[str, tuple[dict, str]] = {
    "greedy": (dict(do_sample=False, num_beams=1, temperature=1.0, top_k=0, top_p=1.0,
                    min_p=0.0, typical_p=1.0),
               "Always the single most likely token: deterministic, safe, often repetitive."),
    "beam search": (dict(do_sample=False, num_beams=4, temperature=1.0, top_k=0, top_p=1.0,
                         min_p=0.0, typical_p=1.0, early_stopping=True),
                    "Keeps the 4 best partial texts and returns the most likely whole "
                    "sequence: fluent, bland."),
    "focused": (dict(do_sample=True, num_beams=1, temperature=0.5, top_k=40, top_p=0.9,
                     min_p=0.0, typical_p=1.0),
                "Sampling from a sharpened, trimmed distribution: small, sensible variations."),
    "balanced": (dict(do_sample=True, num_beams=1, temperature=0.8, top_k=0, top_p=0.95,
                      min_p=0.05, typical_p=1.0),
                 "Moderate temperature with a nucleus and min-p cut: varied but on topic."),
    "creative": (dict(do_sample=True, num_beams=1, temperature=1.3, top_k=0, top_p=1.0,
                      min_p=0.05, typical_p=1.0),
                 "Flattened distribution, only min-p guarding the tail: surprising, may ramble."),
}


def preset_config(name: str, base: GenerationConfig | None = None) -> GenerationConfig:
    if name not in PRESETS:
        raise UserError(f"Unknown preset {name!r}.", hint=f"Presets: {', '.join(PRESETS)}.")
    data = (base or GenerationConfig()).to_dict()
    data.update(PRESETS[name][0])
    data["num_return_sequences"] = 1
    return GenerationConfig.from_dict(data)


# -- Model and inputs -------------------------------------------------------------------

# One load at a time: a slider event and a Generate click arriving together used to both
# trigger transformers' lazy imports and first load, and concurrent lazy imports fail
# ("cannot import name 'AutoModelForCausalLM'"); a second load would also waste memory.
_load_lock = threading.Lock()


def load_causal_lm(name: str):
    """(model, tokenizer) for a causal LM, shared read-only; classifiers are refused."""
    with _load_lock:
        import transformers  # noqa: F401 - resolve the lazy module under the lock
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer  # noqa: F401
        source = resolve_model(name)  # raises UserError for a Hub id offline or a bad path
        task = detect_task(source)
        if task != "causal_lm":
            raise UserError(f"'{source.name}' is a classifier, not a text generator.",
                            hint="Pick a causal language model, e.g. the embedded SmolLM2, or "
                                 "a finished causal-LM run.")
        return cached_model(source, "causal_lm")


def _message_text(content) -> str:
    """gr.Chatbot messages may hold a string, a list of parts or a dict with 'text'."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or content.get("value") or "")
    if isinstance(content, list | tuple):
        return " ".join(_message_text(c) for c in content)
    return "" if content is None else str(content)


def build_inputs(tokenizer, prompt: str, chat: bool, history: list[dict] | None = None,
                 max_input_tokens: int | None = None) -> tuple[torch.LongTensor, str | None]:
    """Token ids [1, n] for the prompt (chat template or raw) and a note when truncated."""
    if not prompt or not str(prompt).strip():
        raise UserError("The prompt is empty.", hint="Type something for the model to continue "
                                                     "or answer.")
    notes = []
    if chat and not getattr(tokenizer, "chat_template", None):
        notes.append("This model has no chat template, so the prompt was used as raw text.")
        chat = False
    if chat:
        messages = [{"role": m.get("role", "user"), "content": _message_text(m.get("content"))}
                    for m in (history or []) if isinstance(m, dict)]
        messages.append({"role": "user", "content": str(prompt)})
        text = tokenizer.apply_chat_template(messages, tokenize=False,
                                             add_generation_prompt=True)
        ids = tokenizer(text, add_special_tokens=False, return_tensors="pt").input_ids
    else:
        ids = tokenizer(str(prompt), return_tensors="pt").input_ids
    if max_input_tokens is not None and ids.shape[1] > max_input_tokens:
        dropped = ids.shape[1] - max_input_tokens
        ids = ids[:, dropped:]
        notes.append(f"The input had {dropped + max_input_tokens} tokens, more than the "
                     f"{max_input_tokens} that fit in the context window with the new tokens; "
                     f"the first {dropped} were dropped (truncated from the left).")
    return ids.long(), (" ".join(notes) or None)


def input_budget(model, tokenizer, cfg: GenerationConfig) -> int:
    """How many prompt tokens fit beside max_new_tokens in the context window."""
    window = model_max_length(tokenizer, model)
    if cfg.max_new_tokens >= window:
        raise UserError(f"max_new_tokens ({cfg.max_new_tokens}) fills the whole context window "
                        f"({window} tokens) of this model.",
                        hint=f"Use fewer than {window} new tokens.")
    return window - cfg.max_new_tokens


def settings_notes(cfg: GenerationConfig) -> list[str]:
    """Explain combinations whose effect is not obvious (nothing is silently changed)."""
    notes = []
    if cfg.do_sample and cfg.temperature == 0:
        notes.append("Temperature 0 means greedy: dividing by 0 would put all probability on "
                     "the top token, so this run picks the most likely token each step and "
                     "top-k / top-p / min-p / typical-p have no effect.")
    if not cfg.do_sample and (cfg.temperature != 1.0 or cfg.top_k or cfg.top_p < 1
                              or cfg.min_p > 0 or cfg.typical_p < 1):
        notes.append("Sampling is off, so temperature, top-k, top-p, min-p and typical-p do not "
                     "change this output (they only act when tokens are drawn at random).")
    if cfg.num_beams == 1 and (cfg.length_penalty != 1.0 or cfg.early_stopping):
        notes.append("length_penalty and early_stopping only matter for beam search "
                     "(num_beams > 1).")
    return notes


def generate_kwargs(cfg: GenerationConfig, tokenizer) -> dict:
    """Keyword arguments for model.generate that mean exactly what ``cfg`` says.

    Every sampling knob is passed explicitly: transformers 5 otherwise fills unset ones
    from global defaults (top_k=50!)."""
    sample = bool(cfg.do_sample) and cfg.temperature > 0
    kw = dict(max_new_tokens=cfg.max_new_tokens, do_sample=sample, num_beams=cfg.num_beams,
              num_return_sequences=cfg.num_return_sequences,
              repetition_penalty=cfg.repetition_penalty,
              no_repeat_ngram_size=cfg.no_repeat_ngram_size,
              pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None
              else tokenizer.eos_token_id)
    if sample:
        kw.update(temperature=cfg.temperature, top_k=cfg.top_k, top_p=cfg.top_p,
                  min_p=cfg.min_p or None, typical_p=cfg.typical_p)
    else:
        kw["top_k"] = None  # keep transformers from warning about a default top_k
    if cfg.num_beams > 1:
        kw.update(length_penalty=cfg.length_penalty, early_stopping=cfg.early_stopping)
    return kw


def _seed(cfg: GenerationConfig) -> None:
    if cfg.seed is not None:
        from transformers import set_seed
        set_seed(int(cfg.seed))


# -- Streaming ----------------------------------------------------------------------------

@dataclass
class StreamUpdate:
    text: str  # cumulative generated text
    done: bool = False
    input_ids: torch.LongTensor | None = None
    output_ids: list[int] = field(default_factory=list)  # generated token ids (when done)
    notes: list[str] = field(default_factory=list)
    stopped: bool = False


class _StopOnEvent:
    """A StoppingCriteria that ends generation when any of the events is set."""

    def __init__(self, *events):
        self.events = [e for e in events if e is not None]

    def __call__(self, input_ids, scores, **kwargs):
        stop = any(e.is_set() for e in self.events)
        return torch.full((input_ids.shape[0],), stop, dtype=torch.bool,
                          device=input_ids.device)


def _stopping(*events):
    from transformers import StoppingCriteria, StoppingCriteriaList

    class StopOnEvent(_StopOnEvent, StoppingCriteria):
        pass

    return StoppingCriteriaList([StopOnEvent(*events)])


def stream_updates(model, tokenizer, prompt: str, cfg: GenerationConfig, chat: bool = True,
                   history: list[dict] | None = None,
                   stop_event: threading.Event | None = None) -> Iterator[StreamUpdate]:
    """Yield the text as it grows; the last update has the token ids and notes."""
    input_ids, note = build_inputs(tokenizer, prompt, chat, history,
                                   input_budget(model, tokenizer, cfg))
    notes = ([note] if note else []) + settings_notes(cfg)
    if cfg.num_beams > 1 or cfg.num_return_sequences > 1:
        # The streamer handles one sequence; beams and several samples arrive at once.
        notes.append("Beam search and several return sequences cannot stream: the text "
                     "arrives when generation ends (the first sequence is shown).")
        out = _generate(model, tokenizer, input_ids, cfg, stop_event)
        ids = out[0, input_ids.shape[1]:].tolist()
        notes += [f"Sequence {i + 1}: " + tokenizer.decode(row[input_ids.shape[1]:],
                                                           skip_special_tokens=True)
                  for i, row in enumerate(out[1:], start=1)]
        yield StreamUpdate(tokenizer.decode(ids, skip_special_tokens=True), True, input_ids,
                           ids, notes)
        return
    yield from _stream(model, tokenizer, input_ids, cfg, stop_event, notes)


def _generate(model, tokenizer, input_ids, cfg, stop_event=None, **extra):
    _seed(cfg)
    kw = generate_kwargs(cfg, tokenizer)
    kw.update(extra)
    with torch.inference_mode():
        return model.generate(input_ids=input_ids.to(model.device),
                              attention_mask=torch.ones_like(input_ids).to(model.device),
                              stopping_criteria=_stopping(stop_event), **kw)


def _token_streamer(tokenizer):
    """A TextIteratorStreamer that hands over every token, not every word.

    The stock streamer holds text back until a space arrives; a learner should see each
    token appear. Only an incomplete UTF-8 character (decoded as U+FFFD) is held back."""
    from transformers import TextIteratorStreamer

    class TokenStreamer(TextIteratorStreamer):
        def put(self, value):
            if value.dim() > 1:
                value = value[0]
            if self.skip_prompt and self.next_tokens_are_prompt:
                self.next_tokens_are_prompt = False
                return
            self.token_cache.extend(value.tolist())
            text = self.tokenizer.decode(self.token_cache, **self.decode_kwargs)
            if text.endswith("\ufffd"):
                return
            printable, self.print_len = text[self.print_len:], len(text)
            if printable:
                self.on_finalized_text(printable)

    return TokenStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)


def _stream(model, tokenizer, input_ids, cfg, stop_event, notes):
    streamer = _token_streamer(tokenizer)
    abandoned = threading.Event()  # set when the consumer goes away (Stop, closed page)
    result: dict = {}

    def work():
        try:
            result["out"] = _generate(model, tokenizer, input_ids, cfg,
                                      _any_event(stop_event, abandoned), streamer=streamer)
        except Exception as exc:  # noqa: BLE001 - reported in the consumer's thread
            result["error"] = exc
            streamer.end()

    thread = threading.Thread(target=work, daemon=True, name="ft-generate")
    thread.start()
    text = ""
    try:
        for chunk in streamer:
            if chunk:
                text += chunk
                yield StreamUpdate(text)
    finally:
        abandoned.set()
    thread.join()
    if "error" in result:
        exc = result["error"]
        raise exc if isinstance(exc, UserError) else UserError(
            f"Generation failed: {type(exc).__name__}: {str(exc)[:300]}") from None
    ids = result["out"][0, input_ids.shape[1]:].tolist()
    stopped = bool(stop_event is not None and stop_event.is_set())
    if stopped:
        notes = notes + ["Stopped."]
    yield StreamUpdate(tokenizer.decode(ids, skip_special_tokens=True), True, input_ids, ids,
                       notes, stopped)


class _AnyEvent:
    def __init__(self, *events):
        self.events = [e for e in events if e is not None]

    def is_set(self) -> bool:
        return any(e.is_set() for e in self.events)


def _any_event(*events):
    return _AnyEvent(*events)


def stream_generate(model, tokenizer, prompt: str, cfg: GenerationConfig, chat: bool = True,
                    history: list[dict] | None = None,
                    stop_event: threading.Event | None = None) -> Iterator[str]:
    """Yield the cumulative generated text, token by token (greedy and sampling)."""
    for update in stream_updates(model, tokenizer, prompt, cfg, chat, history, stop_event):
        yield update.text


# -- Beams -------------------------------------------------------------------------------

class _BeamRecorder:
    """A pass-through logits processor that records the beams transformers keeps.

    Beam search calls the processors with the running beams (one row each) at every step,
    so the rows seen are exactly the beams kept. The cumulative log-probability of a beam
    is its parent's plus the log-prob of the token it appended; only the previous step's
    log-probs are held, not the whole history."""

    def __init__(self, prompt_len: int):
        self.prompt_len = prompt_len
        self.steps: list[list[tuple[list[int], float]]] = []
        self._prev: dict[tuple, tuple[float, torch.Tensor]] = {}

    def __call__(self, input_ids, scores):
        current = {}
        for row in range(input_ids.shape[0]):
            seq = tuple(input_ids[row, self.prompt_len:].tolist())
            if seq in current:
                continue
            if not seq:
                cum = 0.0
            else:
                parent = self._prev.get(seq[:-1])
                if parent is None:
                    continue  # a dead placeholder beam (score -1e9) of the first step
                cum = parent[0] + float(parent[1][seq[-1]])
            current[seq] = (cum, scores[row].detach().float().cpu().clone())
        self.steps.append(sorted(((list(s), c) for s, (c, _) in current.items()),
                                 key=lambda x: -x[1]))
        self._prev = current
        return scores


def beam_search(model, tokenizer, prompt: str, cfg: GenerationConfig, chat: bool = True,
                history: list[dict] | None = None, record_steps: bool = True) -> dict:
    """Beam search through model.generate: the returned beams and, per step, those kept.

    Returns {"beams": [{text, score, tokens}], "steps": [[{text, logprob}]], "notes"}.
    ``score`` is transformers' length-normalised sequence score (sum of log-probs /
    generated_length ** length_penalty)."""
    from transformers import LogitsProcessorList
    if cfg.do_sample:
        raise UserError("Beam view needs sampling off.",
                        hint="Untick 'sample' (or pick the 'beam search' preset).")
    if cfg.num_beams < 2:
        raise UserError("Beam search needs num_beams of 2 or more.",
                        hint="Raise num_beams (or pick the 'beam search' preset).")
    input_ids, note = build_inputs(tokenizer, prompt, chat, history,
                                   input_budget(model, tokenizer, cfg))
    recorder = _BeamRecorder(input_ids.shape[1])
    extra = dict(return_dict_in_generate=True, output_scores=True)
    if record_steps:
        extra["logits_processor"] = LogitsProcessorList([recorder])
    out = _generate(model, tokenizer, input_ids, cfg, **extra)
    beams = []
    for seq, score in zip(out.sequences, out.sequences_scores, strict=True):
        ids = seq[input_ids.shape[1]:].tolist()
        beams.append({"text": tokenizer.decode(ids, skip_special_tokens=True),
                      "score": float(score), "tokens": ids})
    steps = [[{"text": tokenizer.decode(s, skip_special_tokens=False), "logprob": c,
               "tokens": s} for s, c in step] for step in recorder.steps[1:]]
    notes = ([note] if note else []) + settings_notes(cfg)
    return {"beams": beams, "steps": steps, "notes": notes, "input_ids": input_ids}


def generate_beams(model, tokenizer, prompt: str, cfg: GenerationConfig,
                   chat: bool = True) -> list[dict]:
    """Every returned beam as {text, score} (best first)."""
    result = beam_search(model, tokenizer, prompt, cfg, chat, record_steps=False)
    return [{"text": b["text"], "score": b["score"]} for b in result["beams"]]


# -- Several samples and their diversity ---------------------------------------------------

def sample_n(model, tokenizer, prompt: str, cfg: GenerationConfig, n: int, chat: bool = True,
             history: list[dict] | None = None) -> tuple[list[str], list[str]]:
    """n completions at the current settings, in one batched generate call."""
    if not 1 <= n <= 16:
        raise UserError(f"Sample between 1 and 16 completions (got {n}).")
    input_ids, note = build_inputs(tokenizer, prompt, chat, history,
                                   input_budget(model, tokenizer, cfg))
    notes = ([note] if note else []) + settings_notes(cfg)
    sampling = cfg.do_sample and cfg.temperature > 0
    if not sampling and cfg.num_beams == 1:
        notes.append("Sampling is off, so every run gives the same greedy text: it was "
                     f"generated once and shown {n} times. Tick 'sample' to see variety.")
        one = GenerationConfig.from_dict({**cfg.to_dict(), "num_return_sequences": 1})
        out = _generate(model, tokenizer, input_ids, one)
        return [tokenizer.decode(out[0, input_ids.shape[1]:], skip_special_tokens=True)] * n, \
            notes
    data = cfg.to_dict()
    data["num_return_sequences"] = n
    if not sampling:
        data["num_beams"] = max(cfg.num_beams, n)  # n distinct beams need n beams
        notes.append(f"Without sampling, the {n} texts are the {n} best beams.")
    run_cfg = GenerationConfig.from_dict(data)
    out = _generate(model, tokenizer, input_ids, run_cfg)
    texts = [tokenizer.decode(row[input_ids.shape[1]:], skip_special_tokens=True) for row in out]
    return texts, notes


def _ngrams(words: list[str], n: int) -> list[tuple]:
    return [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]


def diversity(texts: list[str]) -> dict:
    """distinct-1/2 across all texts (unique n-grams / all n-grams, Li et al. 2016) and the
    repetition rate: the share of word bigrams that repeat an earlier bigram of the same
    text, averaged over texts. Words are lower-cased, whitespace-separated."""
    tokenised = [t.lower().split() for t in texts]
    out = {}
    for n in (1, 2):
        grams = [g for words in tokenised for g in _ngrams(words, n)]
        out[f"distinct_{n}"] = round(len(set(grams)) / len(grams), 4) if grams else 0.0
    rates = []
    for words in tokenised:
        grams = _ngrams(words, 2)
        if grams:
            rates.append(1 - len(set(grams)) / len(grams))
    out["repetition_rate"] = round(sum(rates) / len(rates), 4) if rates else 0.0
    out["identical_texts"] = len(texts) - len(set(texts))
    out["mean_words"] = round(sum(map(len, tokenised)) / max(1, len(tokenised)), 1)
    return out


# -- Per-token probabilities for the coloured text ------------------------------------------

@dataclass
class TokenInfo:
    position: int  # index in the generated text (0 = first new token)
    token_id: int
    text: str
    prob: float  # the model's probability for this token (raw, before any transform)
    rank: int  # 1 = it was the most likely token
    alternatives: list[tuple[str, float]]  # the top tokens the model offered here


def show_token(tokenizer, token_id: int) -> str:
    """A token made visible: spaces as ␣ and newlines as ↵ (so ' the' and 'the' differ)."""
    text = tokenizer.decode([int(token_id)])
    return text.replace(" ", "␣").replace("\n", "↵") or f"<{int(token_id)}>"


def token_infos(model, tokenizer, input_ids, output_ids: list[int], top: int = 8
                ) -> list[TokenInfo]:
    """One forward pass over prompt + output: each generated token with its probability and
    the alternatives; every prefix's logits land in the distribution cache on the way."""
    if not output_ids:
        return []
    prompt = [int(i) for i in torch.as_tensor(input_ids).reshape(-1).tolist()]
    logits = distribution.sequence_logits(model, prompt + list(output_ids), len(prompt))
    probs = torch.softmax(logits[:len(output_ids)], dim=-1)
    infos = []
    for i, tok in enumerate(output_ids):
        p = probs[i]
        top_p, top_i = torch.topk(p, top)
        rank = int((p > p[tok]).sum()) + 1
        infos.append(TokenInfo(i, int(tok), tokenizer.decode([int(tok)]), float(p[tok]), rank,
                               [(show_token(tokenizer, j), float(q))
                                for j, q in zip(top_i.tolist(), top_p.tolist(), strict=True)]))
    return infos
