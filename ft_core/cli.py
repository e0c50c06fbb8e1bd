"""Command line: ``python -m ft_core <command> ...`` runs the same code as the UI.

Each command registers itself with ``add_cli(subparsers)`` and sets ``func`` (returning
an exit code); a new command is one more entry in ``COMMANDS``. A UserError prints its
message on stderr and exits with code 2; anything else is a bug and keeps its traceback.

Works under ``accelerate launch -m ft_core train --config run.yaml``: the main process
creates the run folder and every process trains into the same one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from .errors import UserError

USER_ERROR_EXIT = 2


# -- shared helpers -----------------------------------------------------------------------

def _set_value(data: dict, dotted: str) -> None:
    """Apply one ``--set section.field=value`` override (value parsed as YAML)."""
    key, sep, raw = dotted.partition("=")
    if not sep or not key:
        raise UserError(f"--set expects section.field=value, got {dotted!r}.",
                        hint="Example: --set train.learning_rate=1e-4")
    parts = key.strip().split(".")
    node = data
    for p in parts[:-1]:
        if not isinstance(node.get(p), dict):
            node[p] = {}
        node = node[p]
    value = yaml.safe_load(raw)
    if isinstance(value, bool) and raw.strip().lower() not in ("true", "false"):
        value = raw.strip()  # YAML 1.1 reads no/yes/on/off as booleans: 'no' was meant
    if isinstance(value, str):  # YAML 1.1 reads "1e-4" as a string; a number was meant
        try:
            value = float(value)
        except ValueError:
            pass
    node[parts[-1]] = value


def load_config(args):
    """The RunConfig named by --config or --recipe, with --set overrides applied."""
    from .config import RunConfig
    from .recipes import recipe_config
    if bool(getattr(args, "config", None)) == bool(getattr(args, "recipe", None)):
        raise UserError("Give either --config FILE or --recipe NAME.",
                        hint="`python -m ft_core recipes` lists the recipes.")
    try:
        config = RunConfig.load(args.config) if args.config else recipe_config(args.recipe)
        if getattr(args, "set", None):
            data = config.to_dict()
            for item in args.set:
                _set_value(data, item)
            config = RunConfig.from_dict(data)
    except (TypeError, ValueError) as exc:  # e.g. learning_rate: "fast"
        raise UserError(f"A config value has the wrong type: {exc}.",
                        hint="Numbers must be numbers (write 1.0e-4 or 0.0001).") from None
    return config


def _add_config_args(p) -> None:
    p.add_argument("--config", help="Run config YAML (as exported by the UI).")
    p.add_argument("--recipe", help="A built-in recipe instead of --config "
                   "(see `python -m ft_core recipes`).")
    p.add_argument("--set", action="append", metavar="SECTION.FIELD=VALUE",
                   help="Override one config value, e.g. --set train.max_steps=20 "
                        "(repeatable).")


def _shared_run_dir(config, run_dir: str | None) -> Path:
    """The run folder: given, or created once by the main process and shared."""
    from . import runs
    if run_dir:
        return Path(run_dir)
    from .training.distributed import process_state
    state = process_state()
    path = [str(runs.create_run(config)) if state.is_main_process else None]
    if state.num_processes > 1:
        from accelerate.utils import broadcast_object_list
        broadcast_object_list(path)
    return Path(path[0])


# -- train ----------------------------------------------------------------------------------

def add_train_cli(subparsers) -> None:
    p = subparsers.add_parser("train", help="Fine-tune a model (one Trainer run).",
                              description="Train from a run config (or a recipe) into a "
                                          "run folder: events, checkpoints, model, card.")
    _add_config_args(p)
    p.add_argument("--run-dir", help="Run folder (default: a new one under runs_dir).")
    p.add_argument("--resume", action="store_true",
                   help="Resume from the run folder's latest checkpoint (needs --run-dir).")
    p.set_defaults(func=cli_train)


def _quiet_progress_bars() -> None:
    """The UI shows progress from events.jsonl; bars would only clutter the process log."""
    import datasets
    import transformers
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()


def cli_train(args) -> int:
    from .train import train
    from .training.distributed import is_main_process
    _quiet_progress_bars()
    config = load_config(args)
    if args.resume and not args.run_dir:
        raise UserError("--resume needs --run-dir (the run to resume).")
    config = apply_space_limits(config)
    run_dir = _shared_run_dir(config, args.run_dir)
    main_process = is_main_process()  # under accelerate launch, one process reports
    if main_process:
        print(f"Run folder: {run_dir}", flush=True)
    metrics = train(config, run_dir, resume=args.resume)
    shown = {k: round(v, 4) for k, v in metrics.items()
             if k.split("_", 1)[-1] in ("loss", "accuracy", "f1_macro", "perplexity")}
    if main_process:
        print(f"Finished: {shown}", flush=True)
    return 0


def apply_space_limits(config):
    """Cut a config to the Space limits when Space mode is on (a no-op otherwise)."""
    from .space import SpaceSettings, apply_limits
    config, notes = apply_limits(config, SpaceSettings.from_env())
    for note in notes:
        print(note, flush=True)
    return config


# -- validate -------------------------------------------------------------------------------

def add_validate_cli(subparsers) -> None:
    p = subparsers.add_parser("validate", help="Check a config without training.")
    _add_config_args(p)
    p.set_defaults(func=cli_validate)


def cli_validate(args) -> int:
    from .train import validate
    for note in validate(load_config(args)):
        print(f"note: {note}")
    print("OK: the config is ready to train.")
    return 0


# -- eval -------------------------------------------------------------------------------------

def add_eval_cli(subparsers) -> None:
    p = subparsers.add_parser("eval", help="Evaluate a model on a config's data (no "
                              "training): eval loss, and accuracy/F1 for classifiers.")
    _add_config_args(p)
    p.add_argument("--model", help="Model to evaluate instead of the config's (a run "
                   "folder, local folder, preset or Hub id).")
    p.add_argument("--split", default="test", choices=("validation", "test", "train"))
    p.set_defaults(func=cli_eval)


def cli_eval(args) -> int:
    from .train import evaluate_model
    config = load_config(args)
    if args.model:
        config.model.name_or_path = args.model
    metrics = evaluate_model(config, split=args.split)
    for k, v in metrics.items():
        print(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}")
    return 0


# -- recipes --------------------------------------------------------------------------------

def add_recipes_cli(subparsers) -> None:
    p = subparsers.add_parser("recipes", help="List recipes, or write one as a config YAML.")
    p.add_argument("--recipe", help="Recipe to print or write.")
    p.add_argument("--out", help="Write the recipe's YAML to this file (default: stdout).")
    p.set_defaults(func=cli_recipes)


def cli_recipes(args) -> int:
    from .recipes import RECIPES, recipe_config
    if not args.recipe:
        for r in RECIPES.values():
            print(f"{r.name:20s} {'online ' if r.online else 'offline'}  {r.description}")
        return 0
    text = recipe_config(args.recipe).to_yaml()
    if args.out:
        try:
            Path(args.out).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UserError(f"Cannot write {args.out}: {exc.strerror or exc}.") from None
        print(f"Wrote {args.out}. Train it: python -m ft_core train --config {args.out}")
    else:
        sys.stdout.write(text)
    return 0


# -- entry point ------------------------------------------------------------------------------

COMMANDS = [add_train_cli, add_validate_cli, add_eval_cli, add_recipes_cli]

# Commands whose module is heavy to import (optuna: ~2 s) register their real options only
# when they are the command being run; otherwise a stub keeps them listed in --help.
LAZY_COMMANDS = {
    "search": ("ft_core.search", "add_cli",
               "Hyperparameter search with Optuna (each trial a real training run)."),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    import importlib
    parser = argparse.ArgumentParser(prog="python -m ft_core",
                                     description="Fine-Tuning Lab from the command line.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in COMMANDS:
        register(sub)
    for name, (module, func, help_text) in LAZY_COMMANDS.items():
        if command == name:
            getattr(importlib.import_module(module), func)(sub)
        else:
            sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"Error: {exc}", file=sys.stderr, flush=True)
        return USER_ERROR_EXIT
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
