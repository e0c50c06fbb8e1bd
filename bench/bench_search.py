"""Hyperparameter search: wall time with the median pruner against no pruning.

The offline classification quick-start (MiniLM-L6 on the UCI drug reviews, a small
subset, short max_length), the same number of trials and the same sampled parameters
(random sampler, same seed) searched twice in this process: once with no pruner, once
with the median pruner. Target (issue 6): at least 30% less wall time with pruning, and
a best value within the run-to-run spread (the same best parameters retrained with other
seeds).

    .venv/bin/python bench/bench_search.py [--trials 8] [--rows 96] [--max-length 48]
                                           [--evals 4] [--spread-seeds 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import optuna  # noqa: E402

from ft_core import search  # noqa: E402
from ft_core.catalog import MINILM  # noqa: E402
from ft_core.config import (  # noqa: E402
    DataConfig,
    ModelConfig,
    RunConfig,
    SearchConfig,
    SearchParam,
    TrainConfig,
)
from ft_core.train import prepare_data, train_prepared  # noqa: E402


def base_config(rows: int, evals: int, trials: int, pruner: str,
                max_length: int = 48) -> RunConfig:
    steps_per_epoch = max(1, rows // 16)
    epochs = 2
    eval_steps = max(1, steps_per_epoch * epochs // evals)
    return RunConfig(
        name="bench-search",
        data=DataConfig(source="builtin:drug_reviews", max_rows=rows, unescape_html=True),
        model=ModelConfig(name_or_path=MINILM, task="classification", method="full"),
        train=TrainConfig(num_train_epochs=epochs, per_device_train_batch_size=16,
                          per_device_eval_batch_size=64, max_length=max_length,
                          eval_strategy="steps", eval_steps=eval_steps,
                          logging_steps=eval_steps, save_strategy="no"),
        search=SearchConfig(
            n_trials=trials, objective="eval_loss", direction="minimize",
            sampler="random", seed=0, pruner=pruner,
            space=[SearchParam("learning_rate", "float", 1e-6, 1e-3, log=True),
                   SearchParam("warmup_ratio", "float", 0.0, 0.2)]))


def timed_search(config: RunConfig, prepared, root: Path) -> tuple[dict, optuna.Study]:
    """Wall time, this process's CPU time (steadier on a shared machine) and the
    optimizer steps all trials trained (the work itself, free of timing noise)."""
    run_dir = root / f"search-{config.search.pruner}"
    t0, c0 = time.perf_counter(), time.process_time()
    study = search.run_search(config, run_dir, prepared=prepared)
    took = {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0,
            "steps": steps_trained(run_dir)}
    return took, study


def steps_trained(run_dir: Path) -> int:
    total = 0
    for events in (run_dir / "trials").glob("*/events.jsonl"):
        steps = [json.loads(line).get("step") or 0 for line in events.read_text().splitlines()]
        total += max(steps, default=0)
    return total


def counts(study: optuna.Study) -> dict:
    out: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        out[t.state.name] = out.get(t.state.name, 0) + 1
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--rows", type=int, default=96, help="rows per split (subset)")
    ap.add_argument("--max-length", type=int, default=48)
    ap.add_argument("--evals", type=int, default=4, help="evaluations per full trial")
    ap.add_argument("--spread-seeds", type=int, default=2,
                    help="extra seeds the best parameters are retrained with")
    ap.add_argument("--json", help="also write the results to this JSON file")
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    root = Path(tempfile.mkdtemp(prefix="bench-search-"))
    plain = base_config(args.rows, args.evals, args.trials, "none", args.max_length)
    prepared = search._without_test(prepare_data(plain))
    print(f"data: {prepared.sizes()}, {args.trials} trials, ~{args.evals} evals per trial")

    # Warm-up (tokenisation cache, first model load) so neither timed search pays it.
    warm = dataclasses.replace(plain, search=None, train=dataclasses.replace(
        plain.train, max_steps=1, eval_strategy="no"))
    train_prepared(warm, root / "warmup", prepared)

    t_plain, s_plain = timed_search(plain, prepared, root)
    print(f"no pruning     : {t_plain['wall']:7.1f} s wall, {t_plain['cpu']:7.1f} s CPU, "
          f"{t_plain['steps']} steps  best {s_plain.best_value:.4f}  {counts(s_plain)}")
    pruned = dataclasses.replace(plain, search=dataclasses.replace(plain.search,
                                                                   pruner="median"))
    t_pruned, s_pruned = timed_search(pruned, prepared, root)
    print(f"median pruner  : {t_pruned['wall']:7.1f} s wall, {t_pruned['cpu']:7.1f} s CPU, "
          f"{t_pruned['steps']} steps  best {s_pruned.best_value:.4f}  {counts(s_pruned)}")

    # Run-to-run spread: the no-pruning best parameters retrained with other seeds.
    best = search.best_config(s_plain, plain)
    values = [s_plain.best_value]
    for i in range(args.spread_seeds):
        cfg = dataclasses.replace(best, train=dataclasses.replace(best.train, seed=43 + i))
        metrics = train_prepared(cfg, root / f"spread-{i}", prepared)
        values.append(metrics["eval_loss"])
    spread = max(values) - min(values)
    diff = abs(s_pruned.best_value - s_plain.best_value)
    ratios = {k: t_pruned[k] / t_plain[k] for k in ("wall", "cpu", "steps")}
    saving = 1 - ratios["wall"]
    print(f"best eval_loss over seeds {[round(v, 4) for v in values]}: spread {spread:.4f}")
    print(f"pruned / not pruned: wall {ratios['wall']:.2f} ({saving:.0%} less; target >= 30%)"
          f", CPU {ratios['cpu']:.2f}, steps trained {ratios['steps']:.2f}")
    print(f"best value difference {diff:.4f} "
          f"({'within' if diff <= spread else 'OUTSIDE'} the run-to-run spread {spread:.4f})")
    if args.json:
        Path(args.json).write_text(json.dumps(dict(
            plain=t_plain, pruned=t_pruned, ratios=ratios, best_plain=s_plain.best_value,
            best_pruned=s_pruned.best_value, spread_values=values,
            counts_plain=counts(s_plain), counts_pruned=counts(s_pruned)), indent=2))
    shutil.rmtree(root, ignore_errors=True)
    return 0 if saving >= 0.3 and diff <= spread else 1


if __name__ == "__main__":
    sys.exit(main())
