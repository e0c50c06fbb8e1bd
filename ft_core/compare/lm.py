"""Causal LMs side by side: lockstep generation, held-out loss, next-token distributions.

Generation runs both models one token at a time in turn (lockstep), so both answers grow
on the page together, and a LoRA pair can share one model: each step switches the adapter
off for the left side and on for the right. Each side samples from its own generator
seeded with the same seed, so with the same settings and seed any difference in the text
comes from the weights, not from the dice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import GenerationConfig
from ..errors import UserError, require
from ..metrics import perplexity
from .pair import ComparePair, Side

Progress = Callable[[int, int, str], None]


# -- Prompts ------------------------------------------------------------------------------

def build_input_ids(tokenizer, prompt: str, chat: bool = True,
                    max_input_tokens: int | None = None) -> tuple[list[int], str]:
    """Token ids for a prompt (chat template or raw text) and a note about what was done.

    Uses the Playground's generate.build_inputs when it exists so both tabs format
    prompts the same way; this fallback does the same minimal thing."""
    require(bool((prompt or "").strip()), "The prompt is empty.",
            hint="Type a question (chat) or the beginning of a text (raw completion).")
    try:
        from ..generate import build_inputs
    except ImportError:
        build_inputs = None
    if build_inputs is not None:
        ids, note = build_inputs(tokenizer, prompt, chat, max_input_tokens=max_input_tokens)
        return (ids.tolist()[0] if hasattr(ids, "tolist") and getattr(ids, "ndim", 1) == 2
                else list(ids)), note or ""
    note = ""
    if chat and getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                             tokenize=False, add_generation_prompt=True)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    else:
        if chat:
            note = "This tokenizer has no chat template: the prompt is used as raw text."
        ids = tokenizer(prompt)["input_ids"]
    if max_input_tokens and len(ids) > max_input_tokens:
        ids = ids[-max_input_tokens:]
        note = (note + " " if note else "") + f"Prompt cut to its last {max_input_tokens} tokens."
    return ids, note


# -- Generation ---------------------------------------------------------------------------

def _processors(cfg: GenerationConfig):
    from transformers.generation import logits_process as lp
    procs = lp.LogitsProcessorList()
    if cfg.repetition_penalty != 1.0:
        procs.append(lp.RepetitionPenaltyLogitsProcessor(cfg.repetition_penalty))
    if cfg.no_repeat_ngram_size:
        procs.append(lp.NoRepeatNGramLogitsProcessor(cfg.no_repeat_ngram_size))
    if _sampling(cfg):
        if cfg.temperature != 1.0:
            procs.append(lp.TemperatureLogitsWarper(cfg.temperature))
        if cfg.top_k:
            procs.append(lp.TopKLogitsWarper(cfg.top_k))
        if cfg.top_p < 1.0:
            procs.append(lp.TopPLogitsWarper(cfg.top_p))
        if cfg.min_p > 0:
            procs.append(lp.MinPLogitsWarper(cfg.min_p))
        if cfg.typical_p < 1.0:
            procs.append(lp.TypicalLogitsWarper(cfg.typical_p))
    return procs


def _sampling(cfg: GenerationConfig) -> bool:
    return cfg.do_sample and cfg.temperature > 0


def _eos_ids(side: Side) -> set[int]:
    ids = set()
    for value in (getattr(side.model.generation_config, "eos_token_id", None),
                  side.tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif value:
            ids.update(int(v) for v in value)
    return ids


@dataclass
class _Stream:
    side: Side
    ids: object  # (1, L) tensor: prompt + generated so far
    prompt_len: int
    generator: object
    eos: set[int]
    past: object = None
    done: bool = False

    def text(self) -> str:
        return self.side.tokenizer.decode(self.ids[0, self.prompt_len:],
                                          skip_special_tokens=True)


def generate_pair(pair: ComparePair, prompt: str, cfg: GenerationConfig, chat: bool = True,
                  stop_event: threading.Event | None = None) -> Iterator[tuple[str, str]]:
    """Yield (left text, right text) as both grow, token by token, in lockstep."""
    import torch
    require(pair.task == "causal_lm", "These models are classifiers: they do not generate "
            "text.", hint="Use the classification comparison above.")
    if cfg.num_beams > 1:  # beam search needs generate(); stream side after side
        yield from _beam_pair(pair, prompt, cfg, chat)
        return
    streams = []
    for side in pair.sides:
        ids, _ = build_input_ids(side.tokenizer, prompt, chat)
        gen = torch.Generator().manual_seed(int(cfg.seed or 0))
        streams.append(_Stream(side, torch.tensor([ids]), len(ids), gen, _eos_ids(side)))
    procs = _processors(cfg)
    for _ in range(cfg.max_new_tokens):
        if stop_event is not None and stop_event.is_set():
            break
        for s in streams:
            if not s.done:
                _step(s, procs, _sampling(cfg))
        yield streams[0].text(), streams[1].text()
        if all(s.done for s in streams):
            break


def _step(s: _Stream, procs, sample: bool) -> None:
    import torch
    with s.side.active() as model, torch.inference_mode():
        if s.past is None:
            out = model(input_ids=s.ids, use_cache=True)
        else:
            out = model(input_ids=s.ids[:, -1:], past_key_values=s.past, use_cache=True)
    s.past = out.past_key_values
    scores = procs(s.ids, out.logits[:, -1, :].float())
    if sample:
        token = torch.multinomial(torch.softmax(scores, -1), 1, generator=s.generator)
    else:
        token = scores.argmax(-1, keepdim=True)
    if int(token) in s.eos:
        s.done = True
        return
    s.ids = torch.cat([s.ids, token], dim=1)


def _beam_pair(pair, prompt, cfg, chat) -> Iterator[tuple[str, str]]:
    """Beam search cannot run in lockstep: each side runs the Playground's generate()."""
    import torch

    from ..generate import generate_kwargs
    texts = ["", ""]
    for i, side in enumerate(pair.sides):
        ids, _ = build_input_ids(side.tokenizer, prompt, chat)
        torch.manual_seed(int(cfg.seed or 0))
        input_ids = torch.tensor([ids])
        with side.active() as model, torch.inference_mode():
            out = model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                                 **generate_kwargs(cfg, side.tokenizer))
        texts[i] = side.tokenizer.decode(out[0, len(ids):], skip_special_tokens=True)
        yield texts[0], texts[1]


# -- Held-out loss ------------------------------------------------------------------------

@dataclass
class LMRows:
    prompts: list[str]
    answers: list[str] | None = None  # chat/instruction data: loss on answers only
    answers_only: bool = True
    chat_template: bool = True
    source: str = ""

    def __post_init__(self):
        require(len(self.prompts) > 0, "There are no rows to evaluate on.")


def lm_rows_from_run(pair: ComparePair, split: str = "validation",
                     max_rows: int | None = None) -> LMRows:
    require(pair.run_config is not None, "These models come from no run, so there is no "
            "held-out data to use.", hint="Upload an evaluation file instead.")
    from ..data import prepare
    prepared = prepare(pair.run_config.data)
    require(split in prepared.splits and len(prepared.splits[split]) > 0,
            f"The run's data has no {split!r} rows.",
            hint=f"Splits: {', '.join(k for k in prepared.splits if len(prepared.splits[k]))}.")
    ds = prepared.splits[split]
    if max_rows:
        ds = ds.select(range(min(max_rows, len(ds))))
    train = pair.run_config.train
    answers = [str(a) for a in ds[prepared.response_column]] \
        if prepared.response_column else None
    return LMRows([str(t) for t in ds[prepared.text_column]], answers,
                  answers_only=train.loss_on_answers_only,
                  chat_template=train.use_chat_template,
                  source=f"{split} split of run {pair.run_dir.name} ({len(ds)} rows)")


def lm_rows_from_file(path: str | Path, text_column: str = "text",
                      response_column: str | None = None, max_rows: int | None = None
                      ) -> LMRows:
    from .classify import read_table
    df = read_table(path)
    needed = [c for c in (text_column, response_column) if c]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise UserError(f"The file {Path(path).name} has no column(s) {missing}; its columns "
                        f"are {list(df.columns)}.",
                        hint="Set the text (and answer) column names to match the file.")
    df = df.dropna(subset=needed).head(max_rows or None)
    return LMRows([str(t) for t in df[text_column]],
                  [str(a) for a in df[response_column]] if response_column else None,
                  source=f"{Path(path).name} ({len(df)} rows)")


def encode_lm_rows(tokenizer, rows: LMRows, max_length: int) -> list[tuple[list, list]]:
    """(input_ids, labels) per row; prompt tokens get label -100 for answers-only loss."""
    out = []
    use_template = rows.chat_template and getattr(tokenizer, "chat_template", None)
    for i, prompt in enumerate(rows.prompts):
        if rows.answers is None:
            ids = tokenizer(prompt, truncation=True, max_length=max_length)["input_ids"]
            out.append((ids, list(ids)))
            continue
        answer = rows.answers[i]
        if use_template:
            user = [{"role": "user", "content": prompt}]
            head = tokenizer.apply_chat_template(user, tokenize=False,
                                                 add_generation_prompt=True)
            full = tokenizer.apply_chat_template(
                user + [{"role": "assistant", "content": answer}], tokenize=False)
        else:
            head = prompt + "\n"
            full = head + answer + (tokenizer.eos_token or "")
        head_ids = tokenizer(head, add_special_tokens=False)["input_ids"]
        ids = tokenizer(full, add_special_tokens=False)["input_ids"][:max_length]
        labels = list(ids)
        if rows.answers_only and ids[:len(head_ids)] == head_ids:
            labels[:len(head_ids)] = [-100] * len(head_ids)
        out.append((ids, labels))
    return out


def side_loss(side: Side, encoded: list[tuple[list, list]], batch_size: int = 8,
              progress: Progress | None = None) -> tuple[float, int, list[float]]:
    """(mean loss per scored token, scored tokens, per-row mean loss)."""
    import torch
    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i][0]))
    pad = side.tokenizer.pad_token_id or 0
    total, count = 0.0, 0
    per_row = [float("nan")] * len(encoded)
    with side.active() as model, torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            width = max(len(encoded[i][0]) for i in idx)
            ids = torch.full((len(idx), width), pad)
            labels = torch.full((len(idx), width), -100)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for r, i in enumerate(idx):
                n = len(encoded[i][0])
                ids[r, :n] = torch.tensor(encoded[i][0])
                labels[r, :n] = torch.tensor(encoded[i][1])
                mask[r, :n] = 1
            logits = model(input_ids=ids, attention_mask=mask).logits.float()
            # position t predicts token t+1
            logits, target = logits[:, :-1], labels[:, 1:]
            losses = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                ignore_index=-100, reduction="none").view(target.shape)
            scored = (target != -100)
            for r, i in enumerate(idx):
                n = int(scored[r].sum())
                if n:
                    per_row[i] = float(losses[r][scored[r]].sum()) / n
            total += float(losses[scored].sum())
            count += int(scored.sum())
            if progress:
                progress(min(start + batch_size, len(order)), len(order), side.name)
    require(count > 0, "No tokens to score: each text is a single token, or every answer "
            "was cut off.", hint="Use longer texts, raise max_length or check the answer "
                                 "column.")
    return total / count, count, per_row


@dataclass
class LossResult:
    table: pd.DataFrame
    per_row: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    source: str = ""


def compare_loss(pair: ComparePair, rows: LMRows, batch_size: int = 8,
                 max_length: int | None = None, progress: Progress | None = None
                 ) -> LossResult:
    """Held-out loss and perplexity of both sides on the same rows."""
    require(pair.task == "causal_lm", "Held-out loss compares causal language models.")
    max_length = max_length or (pair.run_config.train.max_length if pair.run_config else 256)
    stats = []
    for n, side in enumerate(pair.sides):
        def step(done, total, name, _n=n):
            if progress:
                progress(_n * total + done, 2 * total, f"Scoring with {name}")
        encoded = encode_lm_rows(side.tokenizer, rows, max_length)
        stats.append(side_loss(side, encoded, batch_size, step))
    table = pd.DataFrame({
        "side": ["left", "right"], "model": [s.name for s in pair.sides],
        "loss": [s[0] for s in stats], "perplexity": [perplexity(s[0]) for s in stats],
        "scored tokens": [s[1] for s in stats]})
    per_row = pd.DataFrame({"prompt": rows.prompts, "loss left": stats[0][2],
                            "loss right": stats[1][2]})
    per_row["difference"] = per_row["loss right"] - per_row["loss left"]
    notes = []
    if rows.answers is not None and rows.answers_only:
        notes.append("Loss on the answers only (prompt tokens are not scored), as in training.")
    if not pair.same_tokenizer:
        notes.append("The tokenizers differ, so the two perplexities count different tokens "
                     "and are not directly comparable.")
    return LossResult(table, per_row, notes, rows.source)


# -- Next-token distribution ------------------------------------------------------------

def next_token_logits(side: Side, input_ids: list[int]):
    """Logits of the next token after ``input_ids`` (1-D float tensor)."""
    import torch
    # The Playground's distribution cache is keyed by model object and prefix: a LoRA pair
    # shares one model with the adapter off or on, so it must not read that cache.
    if not hasattr(side.model, "disable_adapter"):
        try:
            from ..distribution import next_token_distribution
            with side.active() as model:
                return next_token_distribution(model, side.tokenizer,
                                               torch.tensor([input_ids])).float().reshape(-1)
        except ImportError:
            pass
    with side.active() as model, torch.inference_mode():
        return model(input_ids=torch.tensor([input_ids])).logits[0, -1].float()


@dataclass
class NextTokenResult:
    top: pd.DataFrame
    movers: pd.DataFrame
    kl_right_left: float
    kl_left_right: float
    prefix_tokens: int


def compare_next_token(pair: ComparePair, prefix: str, chat: bool = True, top_n: int = 15
                       ) -> NextTokenResult:
    """Both models' next-token probabilities at the same prefix."""
    import torch
    require(pair.task == "causal_lm", "Next-token distributions need causal language models.")
    require(pair.same_tokenizer, "The two models use different tokenizers, so their "
            "next-token distributions range over different tokens.",
            hint="Compare models that share a tokenizer (e.g. a run and its base).")
    ids, _ = build_input_ids(pair.left.tokenizer, prefix, chat)
    logp = [torch.log_softmax(next_token_logits(s, ids).double(), -1) for s in pair.sides]
    vocab = min(lp.shape[0] for lp in logp)  # heads may be padded past the tokenizer
    logp = [lp[:vocab] for lp in logp]
    p, q = (lp.exp() for lp in logp)
    kl_rl = float((q * (logp[1] - logp[0])).sum())
    kl_lr = float((p * (logp[0] - logp[1])).sum())
    ranks = [torch.empty(vocab, dtype=torch.long) for _ in range(2)]
    for r, prob in zip(ranks, (p, q), strict=True):
        r[torch.argsort(prob, descending=True)] = torch.arange(1, vocab + 1)
    tok = pair.left.tokenizer

    def table(token_ids) -> pd.DataFrame:
        token_ids = [int(i) for i in token_ids]
        df = pd.DataFrame({
            "token": [repr(tok.decode([i])) for i in token_ids], "id": token_ids,
            "p left": [float(p[i]) for i in token_ids],
            "p right": [float(q[i]) for i in token_ids],
            "rank left": [int(ranks[0][i]) for i in token_ids],
            "rank right": [int(ranks[1][i]) for i in token_ids]})
        df["p difference"] = df["p right"] - df["p left"]
        df["rank change"] = df["rank left"] - df["rank right"]  # > 0: moved up
        return df

    top_ids = torch.unique(torch.cat([torch.topk(p, top_n).indices,
                                      torch.topk(q, top_n).indices]))
    top = table(top_ids).sort_values("p right", ascending=False).reset_index(drop=True)
    # Movers among tokens either model finds plausible (top 50): rank changes deep in the
    # tail of a 50k vocabulary are noise.
    pool = torch.unique(torch.cat([torch.topk(p, 50).indices, torch.topk(q, 50).indices]))
    movers = table(pool)
    movers = movers.reindex(movers["rank change"].abs().sort_values(ascending=False).index)
    return NextTokenResult(top, movers.head(top_n).reset_index(drop=True), kl_rl, kl_lr,
                           len(ids))


def kl_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p || q) in nats for two probability vectors (used by tests as a reference)."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    mask = p > 0
    return float(np.sum(p[mask] * (np.log(p[mask]) - np.log(q[mask]))))

