"""Tokenise a prepared dataset once, for a task, and cache the result on disk.

- No padding here: batches are padded by the collator to their own longest row
  (dynamic padding), which on short texts is several times less work than
  padding="max_length".
- A ``length`` column is kept so length-grouped sampling does not re-scan the data;
  ``DropColumnsCollator`` removes it before the model sees a batch.
- Chat rows: prompt and answer are tokenised separately and concatenated, so the prompt
  mask is exact (no guessing where the answer starts after BPE merges).
- Causal LM labels are a copy of input_ids (not DataCollatorForLanguageModeling, which
  masks every pad token: when pad == eos, as in SmolLM2, the model would never learn to
  stop). Padding positions get -100 from the collator.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError

IGNORE_INDEX = -100
TOKENIZE_VERSION = "1"  # bump when the tokenisation below changes, to refresh caches


@dataclass
class TokenizeSpec:
    """Everything that decides the token ids: the cache key is built from it."""

    kind: str  # "classification", "text" (plain causal LM) or "chat"
    max_length: int
    text_column: str
    text_pair_column: str | None = None
    response_column: str | None = None
    use_chat_template: bool = True
    loss_on_answers_only: bool = True
    # Which end of a long text survives truncation (classification and plain text; chat
    # rows always keep the prompt's start and cut the answer's end).
    truncation_side: str = "right"


def spec_for(config, prepared) -> TokenizeSpec:
    task = config.model.task
    if task == "classification":
        kind = "classification"
    else:
        kind = "chat" if prepared.response_column else "text"
    return TokenizeSpec(kind=kind, max_length=config.train.max_length,
                        text_column=prepared.text_column,
                        text_pair_column=prepared.text_pair_column if kind ==
                        "classification" else None,
                        response_column=prepared.response_column if kind == "chat" else None,
                        use_chat_template=config.train.use_chat_template,
                        loss_on_answers_only=config.train.loss_on_answers_only,
                        truncation_side=config.train.truncation_side)


# -- per-batch functions (datasets.map) ---------------------------------------------------

def _classification_fn(tokenizer, spec: TokenizeSpec):
    def fn(batch):
        texts = [str(t) for t in batch[spec.text_column]]
        pairs = [str(t) for t in batch[spec.text_pair_column]] if spec.text_pair_column \
            else None
        enc = tokenizer(texts, pairs, truncation=True, max_length=spec.max_length)
        enc["labels"] = [int(v) for v in batch["label"]]
        enc["length"] = [len(ids) for ids in enc["input_ids"]]
        return enc
    return fn


def _text_fn(tokenizer, spec: TokenizeSpec):
    eos = tokenizer.eos_token or ""

    def fn(batch):
        # Texts end with eos so the model learns where a document stops.
        texts = [str(t) + eos for t in batch[spec.text_column]]
        enc = tokenizer(texts, truncation=True, max_length=spec.max_length)
        enc["labels"] = [list(ids) for ids in enc["input_ids"]]
        enc["length"] = [len(ids) for ids in enc["input_ids"]]
        return {k: enc[k] for k in ("input_ids", "attention_mask", "labels", "length")}
    return fn


def chat_prompt_and_answer(tokenizer, question: str, answer: str,
                           use_template: bool = True) -> tuple[str, str]:
    """The prompt text (ending where the answer starts) and the answer text."""
    if use_template and getattr(tokenizer, "chat_template", None):
        user = [{"role": "user", "content": question}]
        prompt = tokenizer.apply_chat_template(user, tokenize=False,
                                               add_generation_prompt=True)
        full = tokenizer.apply_chat_template(
            user + [{"role": "assistant", "content": answer}], tokenize=False)
        if full.startswith(prompt):
            return prompt, full[len(prompt):]
    # No template (or an odd one): a plain "question\nanswer<eos>" layout.
    return f"{question}\n", f"{answer}{tokenizer.eos_token or ''}"


def _chat_fn(tokenizer, spec: TokenizeSpec):
    def fn(batch):
        out = {"input_ids": [], "attention_mask": [], "labels": [], "length": []}
        for q, a in zip(batch[spec.text_column], batch[spec.response_column], strict=True):
            prompt, answer = chat_prompt_and_answer(tokenizer, str(q), str(a),
                                                    spec.use_chat_template)
            p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
            a_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
            ids = (p_ids + a_ids)[:spec.max_length]
            if spec.loss_on_answers_only:
                labels = ([IGNORE_INDEX] * len(p_ids) + a_ids)[:spec.max_length]
            else:
                labels = list(ids)
            out["input_ids"].append(ids)
            out["attention_mask"].append([1] * len(ids))
            out["labels"].append(labels)
            out["length"].append(len(ids))
        return out
    return fn


_FNS = {"classification": _classification_fn, "text": _text_fn, "chat": _chat_fn}


# -- caching -------------------------------------------------------------------------------

def _content_hash(splits, columns: list[str]) -> str:
    """Hash of the rows that will be tokenised (cheap next to tokenising them)."""
    h = hashlib.sha1()
    for name in sorted(splits):
        ds = splits[name]
        h.update(f"{name}:{len(ds)}".encode())
        for col in columns:
            if col in ds.column_names:
                for start in range(0, len(ds), 10_000):
                    h.update(json.dumps(ds[start:start + 10_000][col], default=str)
                             .encode())
    return h.hexdigest()


def cache_key(splits, spec: TokenizeSpec, tokenizer) -> str:
    columns = [c for c in (spec.text_column, spec.text_pair_column, spec.response_column,
                           "label") if c]
    tok_id = f"{type(tokenizer).__name__}:{getattr(tokenizer, 'name_or_path', '')}:" \
             f"{len(tokenizer)}:{getattr(tokenizer, 'chat_template', '') or ''}"
    raw = json.dumps([TOKENIZE_VERSION, spec.__dict__, tok_id,
                      _content_hash(splits, columns)], default=str)
    return hashlib.sha1(raw.encode()).hexdigest()[:20]


def tokenize_splits(splits, tokenizer, spec: TokenizeSpec, cache_dir: Path | None = None):
    """A DatasetDict of token ids (train/validation/test as present), cached by content."""
    from datasets import DatasetDict, load_from_disk

    from ..models import with_truncation_side
    tokenizer = with_truncation_side(tokenizer, spec.truncation_side)
    target = None
    if cache_dir is not None:
        target = Path(cache_dir) / cache_key(splits, spec, tokenizer)
        if (target / "dataset_dict.json").exists():
            try:
                return load_from_disk(str(target)), True
            except Exception:  # noqa: BLE001 - a broken cache is rebuilt, not fatal
                pass
    fn = _FNS[spec.kind](tokenizer, spec)
    out = DatasetDict()
    for name, ds in splits.items():
        if len(ds) == 0:
            continue
        out[name] = ds.map(fn, batched=True, remove_columns=ds.column_names,
                           desc=f"Tokenising {name}")
    if target is not None:
        try:
            tmp = target.with_name(target.name + ".tmp")
            out.save_to_disk(str(tmp))
            tmp.rename(target)
        except OSError:
            pass  # a cache we cannot write only costs time next run
    return out, False


def check_not_empty_after_tokenize(tokenized, spec: TokenizeSpec) -> None:
    if spec.kind == "chat" and spec.loss_on_answers_only and "train" in tokenized:
        labels = tokenized["train"][:200]["labels"]
        if labels and all(all(v == IGNORE_INDEX for v in row) for row in labels):
            raise UserError(
                f"max_length {spec.max_length} cuts off every answer: the prompts alone "
                "fill it, so there is nothing to learn.",
                hint="Raise max_length or use shorter prompts.")


class DropColumnsCollator:
    """Remove bookkeeping columns (``length``) and delegate to the padding collator."""

    def __init__(self, base, drop=("length",)):
        self.base = base
        self.drop = tuple(drop)

    def __call__(self, features):
        return self.base([{k: v for k, v in f.items() if k not in self.drop}
                          for f in features])


def make_collator(tokenizer, spec: TokenizeSpec, pad_to_multiple_of: int | None = None):
    from transformers import DataCollatorForSeq2Seq, DataCollatorWithPadding
    if spec.kind == "classification":
        base = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_to_multiple_of)
    else:
        # Pads input_ids with pad_token and labels with -100 (ignored by the loss).
        base = DataCollatorForSeq2Seq(tokenizer, padding=True,
                                      label_pad_token_id=IGNORE_INDEX,
                                      pad_to_multiple_of=pad_to_multiple_of)
    return DropColumnsCollator(base)
