"""The offline quick-starts through the Space-mode code path: time and peak GPU memory.

    python bench/bench_space_gpu.py [--recipes a,b] [--max-steps N] [--max-rows N]
                                    [--no-baseline]

For each offline recipe, twice in this process:
- baseline: the recipe as a local user runs it (no limits, shared runs folder);
- space: the same recipe as a Space visitor runs it: SpaceSettings (Space mode on),
  apply_limits with the real train-split size, a per-session runs folder and the
  time/step-limit callback, i.e. what the Space does to a run.
It prints wall time, optimizer steps, seconds per step, peak GPU memory
(torch.cuda.max_memory_allocated) and the final eval loss, then the space/baseline ratio
of seconds per step (the overhead of Space mode; ~1.0 expected).

With CUDA it runs the recipes as they are (cut only by the Space limits). Without CUDA
it says so and runs a smoke version (5 steps, 64 rows, the first recipe) so the path is
still exercised; those CPU numbers are not GPU results.
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

OFFLINE_RECIPES = ["drug-reviews-minilm", "smollm2-cpt", "smollm2-chat-lora"]


def _cuda():
    import torch
    return torch if torch.cuda.is_available() else None


def run_once(name: str, mode: str, runs_root: Path, args) -> dict:
    from ft_core import runs
    from ft_core.recipes import recipe_config
    from ft_core.space import SpaceSettings, apply_limits, limit_callbacks, session_runs_dir
    from ft_core.train import _split, prepare_data, train_prepared

    config = recipe_config(name)
    if args.max_rows:
        config.data.max_rows = args.max_rows
    if args.max_steps:
        config.train.max_steps = args.max_steps
        config.train.eval_strategy = config.train.save_strategy = "no"
        if hasattr(config.train, "eval_on_start"):
            config.train.eval_on_start = False
    settings = SpaceSettings.from_env(space_mode=True) if mode == "space" else SpaceSettings()
    prepared = prepare_data(config)
    train_rows = len(_split(prepared, "train"))
    config, notes = apply_limits(config, settings, train_rows=train_rows)
    runs_dir = session_runs_dir(runs_root, f"bench-{mode}", settings)
    run_dir = runs.create_run(config, runs_dir)
    callbacks = limit_callbacks(settings, run_dir)
    torch = _cuda()
    if torch:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    metrics = train_prepared(config, run_dir, prepared, extra_callbacks=callbacks)
    seconds = time.perf_counter() - t0
    events, _ = runs.read_events(run_dir)
    steps = max([e.get("step", 0) or 0 for e in events] + [0])
    # The training loop alone (no model loading, no final test pass, no saving).
    loop_s = max([e.get("elapsed_s") or 0 for e in events if e["type"] == "progress"] + [0])
    return {"recipe": name, "mode": mode, "rows": train_rows, "steps": steps,
            "seconds": seconds, "loop_s": loop_s, "s_per_step": loop_s / max(steps, 1),
            "peak_gib": torch.cuda.max_memory_allocated() / 2**30 if torch else None,
            "eval_loss": (metrics or {}).get("eval_loss"),
            "notes": notes + [cb.message for cb in callbacks if cb.message],
            "status": runs.read_run_info(run_dir).get("status")}


def _row(r: dict) -> str:
    peak = f"{r['peak_gib']:.2f} GiB" if r["peak_gib"] is not None else "n/a (no CUDA)"
    loss = f"{r['eval_loss']:.3f}" if isinstance(r["eval_loss"], float) else "-"
    return (f"{r['recipe']:<20} {r['mode']:<8} rows {r['rows']:>5}  steps {r['steps']:>4}  "
            f"total {r['seconds']:6.1f} s  loop {r['loop_s']:6.1f} s  "
            f"{r['s_per_step']:.3f} s/step  peak {peak}  "
            f"eval_loss {loss}  [{r['status']}]")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--recipes", default=",".join(OFFLINE_RECIPES))
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--max-rows", type=int, default=None)
    p.add_argument("--no-baseline", action="store_true")
    args = p.parse_args()
    torch = _cuda()
    if torch:
        from ft_core.models import device_info, resolve_precision
        info = device_info()
        print(f"Device: {info['name']} ({info['memory_gb']} GiB), precision "
              f"{resolve_precision('auto')}, torch {torch.__version__}")
    else:
        print("No CUDA device here: running a CPU smoke version (5 steps, 64 rows, first "
              "recipe unless --recipes) of the Space-mode path. These are NOT GPU numbers.")
        args.max_steps = args.max_steps or 5
        args.max_rows = args.max_rows or 64
        if args.recipes == ",".join(OFFLINE_RECIPES):
            args.recipes = OFFLINE_RECIPES[0]
    modes = ["space"] if args.no_baseline else ["baseline", "space"]
    with tempfile.TemporaryDirectory(prefix="bench_space_") as tmp:
        for name in args.recipes.split(","):
            results = {}
            for mode in modes:
                results[mode] = r = run_once(name.strip(), mode, Path(tmp), args)
                print(_row(r), flush=True)
                for note in r["notes"]:
                    print(f"    {note}")
            if len(results) == 2:
                ratio = results["space"]["s_per_step"] / results["baseline"]["s_per_step"]
                print(f"    space/baseline seconds per step: {ratio:.2f}")


if __name__ == "__main__":
    main()
