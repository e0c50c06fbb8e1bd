"""Compare tab speed: the offline quick-start's test split (MiniLM-L6, drug reviews, 379 rows).

Builds a run folder the way the Train tab does (config.yaml + run.json + model/), after a
brief plain-torch fine-tune of MiniLM (``--steps``, 0 = just a seeded new head), then times
the whole-split comparison (both models) three ways in one process:

  sorted     batch 32, sorted by length (what the Compare tab does): the whole split
  batched    batch 32, padded per batch, dataset order      } on the first 100 rows, at
  baseline   one row at a time, in dataset order (batch 1)  } max_length 64 and 256

Usage: .venv/bin/python bench/bench_compare.py [--steps 10] [--batch 32] [--baseline-rows 100]
       [--skip-baseline]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from ft_core import compare as C  # noqa: E402
from ft_core import runs  # noqa: E402
from ft_core.catalog import MINILM  # noqa: E402
from ft_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig  # noqa: E402


def quickstart_config() -> RunConfig:
    try:
        from ft_core.recipes import recipe_config
        return recipe_config("drug-reviews-minilm")
    except ImportError:  # same settings as the recipe
        return RunConfig(data=DataConfig(source="builtin:drug_reviews", text_column="review",
                                         label_column="rating", unescape_html=True),
                         model=ModelConfig(name_or_path=MINILM),
                         train=TrainConfig(max_length=64), name="drug-reviews-minilm")


def make_run(root: Path, steps: int) -> str:
    import torch

    from ft_core.data import prepare
    from ft_core.models import load_model, load_tokenizer
    config = quickstart_config()
    run_dir = root / "bench-compare"
    run_dir.mkdir(parents=True)
    config.save(run_dir / "config.yaml")
    prepared = prepare(config.data)
    names = list(prepared.label_names)
    torch.manual_seed(0)
    model, _ = load_model(MINILM, "classification", num_labels=len(names),
                          id2label=dict(enumerate(names)),
                          label2id={n: i for i, n in enumerate(names)})
    tok = load_tokenizer(MINILM)
    train = prepared.splits["train"]
    t0 = time.perf_counter()
    if steps:
        enc = tok(list(train[prepared.text_column]), truncation=True,
                  max_length=config.train.max_length, padding=True, return_tensors="pt")
        y = torch.tensor(train["label"])
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        model.train()
        gen = torch.Generator().manual_seed(0)
        order = torch.randperm(len(y), generator=gen)
        for step in range(steps):
            idx = order[torch.arange(step * 16, step * 16 + 16) % len(y)]
            loss = model(input_ids=enc["input_ids"][idx],
                         attention_mask=enc["attention_mask"][idx], labels=y[idx]).loss
            loss.backward()
            opt.step()
            opt.zero_grad()
    print(f"fine-tune: {steps} steps of 16 in {time.perf_counter() - t0:.1f} s")
    model.eval()
    model.save_pretrained(run_dir / "model")
    tok.save_pretrained(run_dir / "model")
    runs.write_run_info(run_dir, id=run_dir.name, status="finished", task="classification",
                        base_model=MINILM, method="full", created=time.time())
    return run_dir.name


def timed(pair, data, batch, sort, max_length=None) -> tuple[float, C.ClassificationResult]:
    t0, c0 = time.perf_counter(), time.process_time()
    result = C.compare_classification(pair, data, C.Settings(
        batch_size=batch, sort_by_length=sort, max_length=max_length))
    result.cpu_seconds = time.process_time() - c0  # robust to other processes' load
    return time.perf_counter() - t0, result


def subset(data: C.EvalSet, n: int) -> C.EvalSet:
    return C.EvalSet(data.texts[:n], data.labels[:n], source=f"first {n} rows")


def load() -> str:
    return "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10, help="fine-tune steps (0: new head)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--baseline-rows", type=int, default=100,
                    help="rows for the batched/sorted/one-at-a-time ratios")
    args = ap.parse_args()
    import torch
    print(f"torch threads: {torch.get_num_threads()}, cpus: {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as tmp:
        run_id = make_run(Path(tmp), args.steps)
        t0 = time.perf_counter()
        pair = C.open_run_pair(tmp, run_id)
        data = C.eval_set_from_run(pair)
        print(f"open pair + prepare test split ({len(data.texts)} rows): "
              f"{time.perf_counter() - t0:.1f} s")
        C.predict_one(pair, "warm-up")
        print(load())
        t_sorted, result = timed(pair, data, args.batch, True)
        print(f"whole split, sorted, batch {args.batch}, max_length "
              f"{pair.run_config.train.max_length}: {t_sorted:.1f} s (2 models x "
              f"{len(data.texts)} rows); CPU time {result.cpu_seconds:.1f} s over "
              f"{torch.get_num_threads()} threads")
        if not args.skip_baseline:  # ratios on the same subset, three ways
            part = subset(data, args.baseline_rows)
            for max_length in (pair.run_config.train.max_length, 256):
                t_s, r_s = timed(pair, part, args.batch, True, max_length)
                t_b, _ = timed(pair, part, args.batch, False, max_length)
                t_1, r_1 = timed(pair, part, 1, False, max_length)
                same = bool((r_1.rows["right"] == r_s.rows["right"]).all())
                print(f"{len(part.texts)} rows, max_length {max_length}: sorted batch "
                      f"{args.batch} {t_s:.1f} s | unsorted batch {args.batch} {t_b:.1f} s "
                      f"({t_b / t_s:.2f}x) | one at a time {t_1:.1f} s ({t_1 / t_s:.2f}x) | "
                      f"same predictions: {same}")
        print(load())
        print(result.overall.round(3).to_string(index=False))
        print("target: under 30 s ->", "OK" if t_sorted < 30 else "MISSED")


if __name__ == "__main__":
    main()
