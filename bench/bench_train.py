"""Training speed: the app's path against a bare Trainer script, and padding strategies.

1. overhead: ``ft_core.train.train_prepared`` (events, Stop checks, TensorBoard, run.json,
   model card, cached tokenisation) vs a bare script (datasets.map + DataCollatorWithPadding
   + Trainer + save_model) with identical settings, MiniLM-L6 on drug reviews. Runs
   alternate A/B and the median of the ratios is printed (target: at most 1.05).
2. padding: padded tokens per epoch and the wall time of a few training steps with
   dynamic padding (per batch, plus length-grouped batches) vs padding="max_length" at
   512, as the seed tutorials do.
3. causal-LM evaluation: prediction_loss_only (what the app sets) vs the Trainer's
   default, which keeps every batch's logits (batch x length x vocabulary).

    .venv/bin/python bench/bench_train.py [--rows 192] [--steps 12] [--repeat 3]
                                          [--only overhead,padding,eval] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from ft_core.catalog import MINILM, SMOLLM  # noqa: E402
from ft_core.config import DataConfig, RunConfig  # noqa: E402


def _quiet():
    import datasets
    import transformers
    datasets.disable_progress_bars()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def drug_reviews(rows: int):
    from ft_core.data import prepare
    prepared = prepare(DataConfig(source="builtin:drug_reviews", text_column="review",
                                  label_column="rating", unescape_html=True))
    train = prepared.splits["train"]
    prepared.splits["train"] = train.select(range(min(rows, len(train))))
    return prepared


def load_avg() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


# -- 1. app path vs bare Trainer -------------------------------------------------------------

def overhead_config(steps: int) -> RunConfig:
    return RunConfig.from_dict({
        "data": {"source": "builtin:drug_reviews", "text_column": "review",
                 "label_column": "rating"},
        "model": {"name_or_path": MINILM, "task": "classification"},
        "train": {"max_steps": steps, "per_device_train_batch_size": 16,
                  "learning_rate": 1e-4, "max_length": 64, "eval_strategy": "no",
                  "save_strategy": "no", "logging_steps": 5,
                  # the bare script samples at random; so does the app here (identical)
                  "group_by_length": False}})


def run_app(prepared, steps: int, root: Path) -> float:
    from ft_core.train import train_prepared
    config = overhead_config(steps)
    t = time.perf_counter()
    train_prepared(config, root / f"app-{time.time_ns()}", prepared)
    return time.perf_counter() - t


def run_bare(prepared, steps: int, root: Path) -> float:
    """What a tutorial script does, with the same settings."""
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    from ft_core.catalog import resolve_model
    t = time.perf_counter()
    path = resolve_model(MINILM).path
    names = list(prepared.label_names)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(
        path, num_labels=len(names), id2label=dict(enumerate(names)),
        label2id={n: i for i, n in enumerate(names)})
    train = prepared.splits["train"].map(
        lambda b: tok(b["review"], truncation=True, max_length=64), batched=True,
        remove_columns=[c for c in prepared.splits["train"].column_names if c != "label"])
    out = root / f"bare-{time.time_ns()}"
    args = TrainingArguments(output_dir=str(out), max_steps=steps,
                             per_device_train_batch_size=16, learning_rate=1e-4,
                             eval_strategy="no", save_strategy="no", logging_steps=5,
                             report_to="none", disable_tqdm=True, seed=42,
                             dataloader_pin_memory=False)
    trainer = Trainer(model=model, args=args, train_dataset=train, processing_class=tok,
                      data_collator=DataCollatorWithPadding(tok))
    trainer.train()
    trainer.save_model(str(out / "model"))
    return time.perf_counter() - t


def bench_overhead(rows: int, steps: int, repeat: int) -> dict:
    from datasets import DatasetDict
    prepared = drug_reviews(rows)
    # Training only on both sides: the bare script evaluates nothing either.
    prepared.splits = DatasetDict(train=prepared.splits["train"])
    ratios, app_times, bare_times = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run_app(prepared, 2, root)  # warm-up: file caches, tokenisation cache, imports
        run_bare(prepared, 2, root)
        for i in range(repeat):
            # Alternate the order so drift in the machine's load hits both sides.
            if i % 2:
                b = run_bare(prepared, steps, root)
                a = run_app(prepared, steps, root)
            else:
                a = run_app(prepared, steps, root)
                b = run_bare(prepared, steps, root)
            app_times.append(a)
            bare_times.append(b)
            ratios.append(a / b)
            print(f"  run {i + 1}: app {a:.1f} s, bare {b:.1f} s, ratio {a / b:.3f}",
                  flush=True)
    result = {"rows": rows, "steps": steps, "app_s": app_times, "bare_s": bare_times,
              "ratio_median": statistics.median(ratios)}
    print(f"overhead: app/bare median ratio {result['ratio_median']:.3f} "
          f"(target <= 1.05) over {repeat} pairs of {steps} steps", flush=True)
    return result


# -- 2. dynamic padding vs max_length ----------------------------------------------------------

def padded_tokens(lengths: list[int], batches: list[list[int]], fixed: int | None) -> int:
    return sum(len(b) * (fixed or max(lengths[i] for i in b)) for b in batches)


def bench_padding(rows: int, steps: int, max_length: int = 512, batch: int = 8) -> dict:
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
    )
    from transformers.trainer_pt_utils import LengthGroupedSampler

    from ft_core.catalog import resolve_model
    path = resolve_model(MINILM).path
    tok = AutoTokenizer.from_pretrained(path)
    texts = list(drug_reviews(600).splits["train"]["review"])
    ids = tok(texts, truncation=True, max_length=max_length)["input_ids"]
    lengths = [len(x) for x in ids]
    g = torch.Generator().manual_seed(0)
    order = torch.randperm(len(ids), generator=g).tolist()
    random_batches = [order[i:i + batch] for i in range(0, len(order), batch)]
    grouped = list(LengthGroupedSampler(batch, lengths=lengths, generator=g))
    grouped_batches = [grouped[i:i + batch] for i in range(0, len(grouped), batch)]
    real = sum(lengths)
    tokens = {"real": real,
              "max_length": padded_tokens(lengths, random_batches, max_length),
              "dynamic": padded_tokens(lengths, random_batches, None),
              "dynamic_grouped": padded_tokens(lengths, grouped_batches, None)}
    print(f"padding: tokens per epoch over {len(ids)} reviews (batch {batch}): "
          + ", ".join(f"{k} {v:,}" for k, v in tokens.items()), flush=True)

    # Wall time of a few real training steps on the same batches each way.
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=3)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    collate = DataCollatorWithPadding(tok)

    def step_time(batches, fixed):
        t = time.perf_counter()
        for b in batches[:steps]:
            feats = [{"input_ids": ids[i]} for i in b]
            enc = tok.pad(feats, padding="max_length", max_length=max_length,
                          return_tensors="pt") if fixed else collate(feats)
            out = model(**enc, labels=torch.zeros(len(b), dtype=torch.long))
            out.loss.backward()
            opt.step()
            opt.zero_grad()
        return time.perf_counter() - t

    step_time(random_batches[-1:], None)  # warm-up
    t_dynamic = step_time(random_batches, None)
    t_grouped = step_time(grouped_batches, None)
    t_fixed = step_time(random_batches, max_length)
    result = {"tokens": tokens, "steps": steps, "batch": batch,
              "wall_s": {"max_length": t_fixed, "dynamic": t_dynamic,
                         "dynamic_grouped": t_grouped},
              "token_ratio": tokens["max_length"] / tokens["dynamic"],
              "token_ratio_grouped": tokens["max_length"] / tokens["dynamic_grouped"],
              "time_ratio": t_fixed / t_dynamic, "time_ratio_grouped": t_fixed / t_grouped}
    print(f"padding: max_length/dynamic tokens {result['token_ratio']:.2f}x "
          f"(grouped {result['token_ratio_grouped']:.2f}x); wall time over {steps} steps: "
          f"max_length {t_fixed:.1f} s, dynamic {t_dynamic:.1f} s "
          f"({result['time_ratio']:.2f}x), grouped {t_grouped:.1f} s "
          f"({result['time_ratio_grouped']:.2f}x)", flush=True)
    return result


# -- 3. causal-LM evaluation --------------------------------------------------------------------

def bench_eval(rows: int = 48) -> dict:
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments

    from ft_core.catalog import builtin_dataset_path
    from ft_core.data.load import chatterbot_rows
    from ft_core.models import load_model, load_tokenizer
    from ft_core.training.tokenize import TokenizeSpec, make_collator, tokenize_splits
    pairs = chatterbot_rows(builtin_dataset_path("chatterbot"))[:rows]
    ds = Dataset.from_list(pairs)
    tok = load_tokenizer(SMOLLM)
    model, _ = load_model(SMOLLM, "causal_lm")
    spec = TokenizeSpec("chat", 128, "question", response_column="answer")
    data, _ = tokenize_splits({"test": ds}, tok, spec, None)
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        for loss_only in (True, False, True):
            args = TrainingArguments(output_dir=tmp, report_to="none", disable_tqdm=True,
                                     per_device_eval_batch_size=16,
                                     remove_unused_columns=False,
                                     prediction_loss_only=loss_only)
            trainer = Trainer(model=model, args=args, processing_class=tok,
                              data_collator=make_collator(tok, spec))
            t = time.perf_counter()
            metrics = trainer.evaluate(data["test"])
            times.setdefault(loss_only, []).append(time.perf_counter() - t)
            print(f"  eval prediction_loss_only={loss_only}: {times[loss_only][-1]:.1f} s, "
                  f"loss {metrics['eval_loss']:.4f}", flush=True)
    result = {"rows": rows, "loss_only_s": min(times[True]), "default_s": times[False][0]}
    result["ratio"] = result["default_s"] / result["loss_only_s"]
    print(f"eval: the Trainer's default takes {result['ratio']:.2f}x the time of "
          f"prediction_loss_only on {rows} chat pairs (SmolLM2-135M)", flush=True)
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=192)
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--padding-steps", type=int, default=6)
    p.add_argument("--eval-rows", type=int, default=48)
    p.add_argument("--only", default="overhead,padding,eval")
    p.add_argument("--json")
    a = p.parse_args()
    _quiet()
    print(f"load average at start: {load_avg()} ({os.cpu_count()} cores)", flush=True)
    out = {}
    parts = a.only.split(",")
    if "overhead" in parts:
        out["overhead"] = bench_overhead(a.rows, a.steps, a.repeat)
    if "padding" in parts:
        out["padding"] = bench_padding(a.rows, a.padding_steps)
    if "eval" in parts:
        out["eval"] = bench_eval(a.eval_rows)
    out["load_average_end"] = load_avg()
    print(f"load average at end: {out['load_average_end']}", flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
