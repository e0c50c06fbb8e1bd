"""The offline quick-starts against their targets: base model vs fine-tuned, and time.

    .venv/bin/python bench/bench_quickstarts.py [--recipes drug-reviews-minilm,...]
                                                [--seeds 42,1,7] [--set train.x=y ...]

Each recipe runs through ``ft_core.train.train`` (what the Train tab and
``python -m ft_core train --recipe NAME`` run) into a temporary runs folder. The base
figure is the run's own evaluation before training (``eval_on_start``: the same held-out
rows, the untrained model); the target is the issue's: classification macro-F1 up by at
least 0.15 absolute, causal-LM held-out loss down by at least 20%, within 2 minutes of
training on a 2-core CPU. Two times are printed: ``train_runtime`` (the Trainer's, which
includes the evaluations run inside ``train()``: the base model's and one per epoch) and
the training alone (``train_runtime`` minus those evaluations' ``eval_runtime``), which
is what the 2-minute target is checked against. ``--set`` overrides apply to every recipe (e.g.
``--set train.truncation_side=right`` to see what keeping the end of reviews is worth).
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

QUICKSTARTS = ["drug-reviews-minilm", "smollm2-chat-lora"]
TIME_LIMIT_S = 120


def _quiet():
    import datasets
    import transformers
    datasets.disable_progress_bars()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def run_recipe(name: str, seed: int, overrides: list[str], root: Path) -> dict:
    from ft_core import runs
    from ft_core.cli import _set_value
    from ft_core.config import RunConfig
    from ft_core.recipes import recipe_config
    from ft_core.train import train

    data = recipe_config(name).to_dict()
    for item in [f"train.seed={seed}", *overrides]:
        _set_value(data, item)
    config = RunConfig.from_dict(data)
    run_dir = root / f"{name}-seed{seed}-{time.time_ns()}"
    start = time.perf_counter()
    train(config, run_dir)
    wall = time.perf_counter() - start
    events = runs.read_events(run_dir)[0]
    evals = [e["metrics"] for e in events if e["type"] == "eval"]
    runtime = runs.read_run_info(run_dir).get("train_runtime")
    eval_s = sum(m.get("eval_runtime", 0.0) for m in evals)
    training = runtime - eval_s if runtime is not None else None
    if config.model.task == "classification":
        key, before, after = "eval_f1_macro", evals[0]["eval_f1_macro"], \
            evals[-1]["eval_f1_macro"]
        gain, met = after - before, after - before >= 0.15
        change = f"macro-F1 {before:.3f} -> {after:.3f} ({gain:+.3f}; target +0.15)"
    else:
        key, before, after = "eval_loss", evals[0]["eval_loss"], evals[-1]["eval_loss"]
        gain = after / before - 1
        met = gain <= -0.20
        change = f"loss {before:.3f} -> {after:.3f} ({gain:+.1%}; target -20%)"
    met = met and training is not None and training <= TIME_LIMIT_S
    return {"recipe": name, "seed": seed, "metric": key, "before": before, "after": after,
            "change": change, "train_runtime_s": runtime, "evaluations_s": eval_s,
            "training_s": training, "wall_s": wall, "met": met}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--recipes", default=",".join(QUICKSTARTS))
    ap.add_argument("--seeds", default="42")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE")
    args = ap.parse_args()
    _quiet()
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"({os.cpu_count()} cores); overrides: {args.set or 'none'}", flush=True)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.recipes.split(","):
            for seed in (int(s) for s in args.seeds.split(",")):
                r = run_recipe(name.strip(), seed, args.set, Path(tmp))
                results.append(r)
                times = (f"training {r['training_s']:.1f} s (train_runtime "
                         f"{r['train_runtime_s']:.1f} s incl. evaluations "
                         f"{r['evaluations_s']:.1f} s)") if r["training_s"] else "time ?"
                print(f"{r['recipe']} seed {seed}: {r['change']}; {times}; wall "
                      f"{r['wall_s']:.1f} s -> {'MET' if r['met'] else 'NOT met'}",
                      flush=True)
    print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0 if all(r["met"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
