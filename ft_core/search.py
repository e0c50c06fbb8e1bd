"""Hyperparameter search with Optuna: every trial is a real ``ft_core.train.train`` run.

- The study lives in Optuna's RDB storage (default ``sqlite:///<run_dir>/optuna.db``), so a
  killed process loses no finished trial, "continue" resumes the same study, several
  worker processes pointed at one storage URL share it, and optuna-dashboard opens it.
- Each trial trains a fresh model in ``run_dir/trials/<number>/`` through the same
  ``train()`` as a single run; train() reports every evaluation to the trial, so pruners
  stop hopeless trials early.
- Stop = the STOP file in the search folder: the running trial stops at its next step
  (its own STOP file is touched) and no new trial starts.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import math
import os
import shutil
import socket
import time
import warnings
from pathlib import Path

import optuna

from . import runs
from .config import ModelConfig, RunConfig, SearchConfig, SearchParam, TrainConfig
from .errors import UserError, require

log = logging.getLogger("ft_lab.search")

# What a search may vary: name -> (config section, Python type of the field).
TRAIN_PARAMS = {
    "learning_rate": float, "num_train_epochs": float, "max_steps": int,
    "per_device_train_batch_size": int, "gradient_accumulation_steps": int,
    "weight_decay": float, "warmup_ratio": float, "lr_scheduler_type": str,
    "max_length": int, "seed": int,
}
LORA_PARAMS = {"lora_r": int, "lora_alpha": int, "lora_dropout": float}
SEARCHABLE = {**{k: ("train", t) for k, t in TRAIN_PARAMS.items()},
              **{k: ("model", t) for k, t in LORA_PARAMS.items()}}

# Metrics each task's evaluation produces (classification adds per-label precision/recall).
TASK_OBJECTIVES = {
    "classification": ["eval_loss", "eval_accuracy", "eval_f1_macro", "eval_f1_micro",
                       "eval_precision_macro", "eval_recall_macro"],
    "causal_lm": ["eval_loss", "eval_perplexity"],
}
MINIMIZED = ("eval_loss", "eval_perplexity")
TRIAL_COLUMNS = ["number", "state", "value", "duration_s"]


# -- Search space --------------------------------------------------------------------------

def default_space(task: str = "classification", method: str = "full",
                  max_steps: int = -1) -> list[SearchParam]:
    """Sensible starting ranges: learning rate (log), epochs, batch size, weight decay,
    warm-up, and LoRA r/alpha when LoRA is on. Epochs are left out when max_steps is set
    (max_steps would override them)."""
    lr = {"full": (1e-5, 5e-4), "head": (1e-4, 1e-2), "lora": (5e-5, 2e-3)}.get(method,
                                                                              (1e-5, 5e-4))
    batches = [8, 16, 32] if task == "classification" else [4, 8, 16]
    space = [
        SearchParam("learning_rate", "float", lr[0], lr[1], log=True),
        SearchParam("num_train_epochs", "int", 1, 3),
        SearchParam("per_device_train_batch_size", "categorical", choices=batches),
        SearchParam("weight_decay", "float", 0.0, 0.1),
        SearchParam("warmup_ratio", "float", 0.0, 0.2),
    ]
    if max_steps and max_steps > 0:
        space = [p for p in space if p.name != "num_train_epochs"]
    if method == "lora":
        space += [SearchParam("lora_r", "categorical", choices=[4, 8, 16, 32]),
                  SearchParam("lora_alpha", "categorical", choices=[8, 16, 32, 64])]
    return space


def default_direction(objective: str) -> str:
    return "minimize" if normalize_objective(objective) in MINIMIZED else "maximize"


def normalize_objective(objective: str) -> str:
    """'accuracy' -> 'eval_accuracy': the Trainer prefixes every eval metric with eval_."""
    objective = (objective or "").strip()
    return objective if objective.startswith("eval_") else f"eval_{objective}"


def objectives_for(task: str) -> list[str]:
    return list(TASK_OBJECTIVES.get(task, ["eval_loss"]))


def _cast(name: str, value):
    typ = SEARCHABLE[name][1]
    if typ is int:
        return int(round(float(value)))
    if typ is float:
        return float(value)
    return str(value)


def apply_params(base: RunConfig, params: dict) -> RunConfig:
    """A copy of ``base`` with the searched values put in place (and checked again)."""
    train = base.train.to_dict()
    model = base.model.to_dict()
    for name, value in params.items():
        require(name in SEARCHABLE, f"Unknown search parameter {name!r}.",
                hint=f"Searchable: {', '.join(SEARCHABLE)}.")
        (train if SEARCHABLE[name][0] == "train" else model)[name] = _cast(name, value)
    return dataclasses.replace(base, train=TrainConfig.from_dict(train),
                               model=ModelConfig.from_dict(model))


def validate_search(config: RunConfig) -> str:
    """Refuse a search that cannot work, before any trial runs. Returns the objective."""
    search = config.search
    require(search is not None, "This config has no search section.",
            hint="Add a 'search:' section, or use `python -m ft_core train` for one run.")
    task, method = config.model.task, config.model.method
    objective = normalize_objective(search.objective)
    allowed = objectives_for(task)
    per_label = task == "classification" and objective.startswith(
        ("eval_precision_", "eval_recall_"))
    require(objective in allowed or per_label,
            f"The objective {search.objective!r} is not a metric the {task} task produces.",
            hint=f"Pick one of: {', '.join(allowed)}.")
    require(config.train.eval_strategy != "no",
            "A search needs evaluations to score trials, but eval_strategy is 'no'.",
            hint="Set eval_strategy to 'epoch' or 'steps'.")
    require(bool(search.space), "The search space is empty.",
            hint="Add at least one parameter, e.g. learning_rate from 1e-5 to 5e-4 (log).")
    names = [p.name for p in search.space]
    dupes = sorted({n for n in names if names.count(n) > 1})
    require(not dupes, f"Search parameter(s) listed twice: {', '.join(dupes)}.")
    require("num_train_epochs" not in names or config.train.max_steps <= 0,
            "num_train_epochs is searched but max_steps is set, and max_steps wins.",
            hint="Set max_steps to -1, or search max_steps instead of epochs.")
    for p in search.space:
        require(p.name in SEARCHABLE, f"Unknown search parameter {p.name!r}.",
                hint=f"Searchable parameters: {', '.join(SEARCHABLE)}.")
        require(p.name not in LORA_PARAMS or method == "lora",
                f"{p.name} is in the search space but LoRA is off (method: {method}).",
                hint="Switch the method to LoRA, or remove the LoRA rows.")
        for value in (p.choices if p.kind == "categorical" else (p.low, p.high)):
            try:
                apply_params(config, {p.name: value})  # the config checks each bound
            except (TypeError, ValueError):
                raise UserError(f"Search parameter {p.name}: {value!r} is not a valid "
                                "value.") from None
            except UserError as exc:
                raise UserError(f"Search parameter {p.name} = {value!r} is not allowed: "
                                f"{exc}") from None
    return objective


def suggest(trial: optuna.Trial, space: list[SearchParam]) -> dict:
    params = {}
    for p in space:
        if p.kind == "categorical":
            params[p.name] = trial.suggest_categorical(p.name, list(p.choices))
        elif p.kind == "int":
            params[p.name] = trial.suggest_int(p.name, int(p.low), int(p.high), log=p.log)
        else:
            params[p.name] = trial.suggest_float(p.name, float(p.low), float(p.high), log=p.log)
    return params


SPACE_COLUMNS = ["name", "kind", "low", "high", "log", "choices"]


def space_to_rows(space: list[SearchParam]) -> list[list]:
    """Rows for a table editor: name, kind, low, high, log, choices ("8, 16, 32")."""
    return [[p.name, p.kind, p.low, p.high, bool(p.log),
             ", ".join(str(c) for c in p.choices) if p.choices else ""] for p in space]


def _blank(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _number(value, where: str) -> float | None:
    if _blank(value):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UserError(f"{where}: {value!r} is not a number.") from None


def space_from_rows(rows) -> list[SearchParam]:
    """Parse a table editor's rows (a DataFrame or lists) into checked SearchParams.

    Rows without a name are skipped (the editor's empty last row); choices are a
    comma-separated list whose items are read as numbers where they look like numbers."""
    import yaml
    if hasattr(rows, "values") and hasattr(rows, "columns"):
        rows = rows.values.tolist()
    space = []
    for row in rows or []:
        row = list(row) + [None] * (len(SPACE_COLUMNS) - len(row))
        name, kind, low, high, log_, choices = row[:6]
        if _blank(name):
            continue
        name = str(name).strip()
        choices = [] if _blank(choices) else [
            yaml.safe_load(c.strip()) for c in str(choices).split(",") if c.strip()]
        kind = "categorical" if _blank(kind) and choices else (str(kind).strip().lower()
                                                                if not _blank(kind) else "float")
        log_ = str(log_).strip().lower() in ("true", "1", "yes", "y") if not isinstance(
            log_, bool) else log_
        space.append(SearchParam(name, kind, _number(low, f"{name} low"),
                                 _number(high, f"{name} high"), log=bool(log_),
                                 choices=choices or None))
    return space


def grid_values(p: SearchParam) -> list:
    """Points a grid search tries: every choice; ints up to 5 values; floats low/mid/high."""
    if p.kind == "categorical":
        return list(p.choices)
    if p.kind == "int" and p.high - p.low <= 4:
        return list(range(int(p.low), int(p.high) + 1))
    mid = math.sqrt(p.low * p.high) if p.log else (p.low + p.high) / 2
    values = [p.low, mid, p.high]
    if p.kind == "int":
        values = [int(round(v)) for v in values]
    return sorted(set(values), key=values.index)


def make_sampler(search: SearchConfig, n_trials: int) -> optuna.samplers.BaseSampler:
    if search.sampler == "random":
        return optuna.samplers.RandomSampler(seed=search.seed)
    if search.sampler == "grid":
        return optuna.samplers.GridSampler({p.name: grid_values(p) for p in search.space},
                                           seed=search.seed)
    # TPE's default of 10 random start-up trials would make a small search purely random.
    startup = max(2, min(10, n_trials // 3))
    return optuna.samplers.TPESampler(seed=search.seed, n_startup_trials=startup)


def make_pruner(search: SearchConfig, n_trials: int) -> optuna.pruners.BasePruner:
    # Steps are evaluation numbers (1, 2, ...), see _EvalIndexTrial.
    if search.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=max(1, min(5, n_trials // 4)))
    if search.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1)
    if search.pruner == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1)
    return optuna.pruners.NopPruner()


# -- Storage and study ---------------------------------------------------------------------

def default_storage_url(run_dir: str | Path) -> str:
    return f"sqlite:///{Path(run_dir).resolve() / 'optuna.db'}"


def safe_url(url: str) -> str:
    """The URL with any password hidden, for messages and run.json."""
    try:
        from sqlalchemy.engine import make_url
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown as typed
        return url


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """Open (and create the tables of) an Optuna RDB storage, or explain why not."""
    url = (url or "").strip()
    require(bool(url), "No storage URL given.",
            hint="Leave it empty for SQLite in the run folder, or use e.g. "
                 "postgresql://user:pass@host/db.")
    kwargs = {}
    if url.startswith("sqlite"):
        # Several workers share one file: wait for a lock instead of failing at once.
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    try:
        return _rdb_storage(url, kwargs)
    except ImportError:
        raise UserError(f"The database driver for {safe_url(url)} is not installed.",
                        hint="For PostgreSQL `pip install psycopg2-binary`, for MySQL "
                             "`pip install pymysql` (URL mysql+pymysql://...).") from None
    except Exception as exc:  # noqa: BLE001 - bad URL, unreachable server, unwritable file
        reason = str(exc).splitlines()[0][:200]
        raise UserError(f"Cannot open the Optuna storage {safe_url(url)}: {reason}",
                        hint="Check the URL (e.g. sqlite:////abs/path/optuna.db or "
                             "postgresql://user:pass@host/db) and that the server or folder "
                             "is reachable.") from None


def _rdb_storage(url: str, kwargs: dict, attempts: int = 3) -> optuna.storages.RDBStorage:
    """RDBStorage, retried: workers started together race to create the tables."""
    from sqlalchemy.exc import SQLAlchemyError
    racy = ("already exists", "locked", "unique constraint", "duplicate")
    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # heartbeat is flagged experimental
                return optuna.storages.RDBStorage(url, heartbeat_interval=30,
                                                  grace_period=120, **kwargs)
        except SQLAlchemyError as exc:
            # Both creating the tables or the schema-version row: the loser retries and
            # finds them made. Anything else (bad path, no server) fails at once.
            if attempt == attempts - 1 or not any(r in str(exc).lower() for r in racy):
                raise
            time.sleep(0.5 + attempt)
    raise AssertionError("unreachable")


def open_study(url: str, study_name: str, direction: str, *, sampler=None,
               pruner=None) -> optuna.Study:
    """Create the study or load it (continue / another worker), refusing a direction clash."""
    storage = open_storage(url)
    try:
        existing = storage.get_study_directions(storage.get_study_id_from_name(study_name))
    except KeyError:
        existing = None
    if existing is not None:
        have = existing[0].name.lower()
        require(len(existing) == 1 and have == direction,
                f"The study {study_name!r} already exists in this storage with direction "
                f"'{have}', not '{direction}'.",
                hint="Use the same direction to continue it, or pick another study name.")
    return optuna.create_study(storage=storage, study_name=study_name, direction=direction,
                               sampler=sampler, pruner=pruner, load_if_exists=True)


_read_storages: dict[str, optuna.storages.RDBStorage] = {}  # url -> storage (a pool)


def load_study(url: str, study_name: str) -> optuna.Study | None:
    """The study if it exists yet (a worker may still be starting), else None.

    A UI polls this every few seconds: the storage (an engine with its connection pool)
    is opened once per URL and reused, not per call."""
    storage = _read_storages.get(url)
    try:
        if storage is None:
            if len(_read_storages) >= 16:  # keep a few recent searches' engines, not all
                _read_storages.pop(next(iter(_read_storages))).engine.dispose()
            storage = _read_storages[url] = open_storage(url)
        storage.get_study_id_from_name(study_name)
        return optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        return None
    except Exception:  # noqa: BLE001
        # Opened while the worker was still creating its tables: a half-made schema. Drop
        # this engine and let the next poll open the storage afresh.
        _read_storages.pop(url, None)
        return None


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_orphaned_trials(study: optuna.Study) -> list[int]:
    """Mark RUNNING trials whose worker process on this machine is gone as FAIL.

    A killed worker leaves its trial RUNNING; Optuna's heartbeat fails it after the grace
    period, but on this machine we can tell at once. Returns the trial numbers failed."""
    failed = []
    host = socket.gethostname()
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        worker = str(t.user_attrs.get("worker", ""))
        w_host, _, pid = worker.rpartition(":")
        if w_host == host and pid.isdigit() and not _pid_alive(int(pid)):
            try:
                study._storage.set_trial_state_values(t._trial_id,
                                                      optuna.trial.TrialState.FAIL)
                failed.append(t.number)
            except optuna.exceptions.UpdateFinishedTrialError:
                pass
    return failed


# -- Trials --------------------------------------------------------------------------------

class _EvalIndexTrial:
    """The trial as train() sees it: steps reported are evaluation numbers 1, 2, 3 ...

    train() reports at the global step; with batch size in the space, trials evaluate at
    different global steps and a pruner (which compares trials at equal steps) would never
    find a peer. Evaluation number k is "after the k-th eval" in every trial."""

    def __init__(self, trial: optuna.Trial):
        self._trial = trial
        self._evals = 0
        self._last_step = None

    def report(self, value: float, step: int | None = None) -> None:
        if step is not None and step == self._last_step:
            return  # the final evaluate() repeating the last eval's step
        self._evals += 1
        self._last_step = step
        self._trial.report(value, self._evals)

    def __getattr__(self, name):
        return getattr(self._trial, name)


class _TrialCrashed(Exception):
    """A trial failed for a reason of its own (e.g. out of memory at one batch size):
    record it as FAIL and go on with the next trial."""


def _stop_relay(search_dir: Path, trial_dir: Path):
    """A TrainerCallback passing the search's Stop on to the running trial's STOP file."""
    from transformers import TrainerCallback

    class StopRelay(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            if runs.stop_requested(search_dir):
                runs.request_stop(trial_dir)

        on_step_end = on_step_begin
    return StopRelay()


def trial_config(base: RunConfig, params: dict, number: int) -> RunConfig:
    """The single-run config of one trial: base + params, no checkpoints.

    The search section stays (with the objective spelled eval_...): train() reads the
    objective from it to report to the trial."""
    cfg = apply_params(base, params)
    train = cfg.train
    if not train.load_best_model_at_end and train.early_stopping_patience is None:
        # A trial is never resumed: checkpoints would only cost time and disk.
        train = dataclasses.replace(train, save_strategy="no")
    search = dataclasses.replace(base.search, objective=normalize_objective(
        base.search.objective))
    return dataclasses.replace(cfg, train=train, search=search,
                               name=f"{base.name or 'search'}-trial-{number}")


def _prepare_trial_dir(run_dir: Path, number: int, cfg: RunConfig) -> Path:
    trial_dir = run_dir / "trials" / str(number)
    if trial_dir.exists():  # left by a worker killed mid-trial: start clean
        shutil.rmtree(trial_dir)
    trial_dir.mkdir(parents=True)
    cfg.save(trial_dir / "config.yaml")
    runs.write_run_info(trial_dir, id=f"{run_dir.name}/trials/{number}", status="queued",
                        task=cfg.model.task, base_model=cfg.model.name_or_path,
                        method=cfg.model.method, dataset=cfg.data.source,
                        created=time.time(), name=cfg.name, trial=number)
    return trial_dir


def _objective_fn(config: RunConfig, run_dir: Path, objective: str, prepared,
                  keep_models: bool):
    from .train import train_prepared  # heavy (torch, transformers): only when trials run

    def objective_fn(trial: optuna.Trial) -> float:
        params = suggest(trial, config.search.space)
        trial.set_user_attr("worker", _worker_id())
        cfg = trial_config(config, params, trial.number)
        trial_dir = _prepare_trial_dir(run_dir, trial.number, cfg)
        trial.set_user_attr("trial_dir", str(trial_dir))
        try:
            metrics = train_prepared(cfg, trial_dir, prepared, trial=_EvalIndexTrial(trial),
                                     extra_callbacks=(_stop_relay(run_dir, trial_dir),))
        except (optuna.TrialPruned, UserError, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - one bad trial must not end the search
            log.exception("trial %s failed", trial.number)
            trial.set_user_attr("error", f"{type(exc).__name__}: {exc}"[:500])
            raise _TrialCrashed(str(exc)) from exc
        finally:
            # A trial is never resumed, and "Train with best" retrains: only keep weights
            # when asked (a stopped trial may also have left a checkpoint).
            shutil.rmtree(trial_dir / "checkpoints", ignore_errors=True)
            if not keep_models:
                shutil.rmtree(trial_dir / "model", ignore_errors=True)
            gc.collect()
        if runs.stop_requested(run_dir):
            trial.set_user_attr("stopped", True)
            raise optuna.TrialPruned("stopped by the user")
        value = (metrics or {}).get(objective)
        if value is None:
            raise UserError(f"Training did not produce {objective}.",
                            hint=f"It produced: {', '.join(sorted(metrics or {}))}.")
        trial.set_user_attr("metrics", {k: float(v) for k, v in metrics.items()
                                        if isinstance(v, (int, float))})
        return float(value)
    return objective_fn


def trial_state(t: optuna.trial.FrozenTrial) -> str:
    if t.user_attrs.get("stopped"):
        return "STOPPED"
    return t.state.name


def _record_trial(run_dir: Path):
    """Optuna callback: one `trial` event per finished trial; Stop ends the study."""
    def record(study: optuna.Study, t: optuna.trial.FrozenTrial) -> None:
        runs.append_event(run_dir, "trial", number=t.number, params=t.params, value=t.value,
                          state=trial_state(t), duration=_duration(t),
                          error=t.user_attrs.get("error"))
        if runs.stop_requested(run_dir):
            study.stop()
    return record


def _duration(t: optuna.trial.FrozenTrial) -> float | None:
    if t.datetime_start is None:
        return None
    end = t.datetime_complete
    if end is None:
        from datetime import datetime
        end = datetime.now()
    return round((end - t.datetime_start).total_seconds(), 2)


# -- The search ----------------------------------------------------------------------------

def _ensure_run_folder(config: RunConfig, run_dir: Path) -> None:
    runs.init_run_folder(config, run_dir)
    runs.write_run_info(run_dir, kind="search")  # the runs table tells searches apart


def _without_test(prepared):
    """Trials are scored on validation; evaluating the test split in every trial would
    cost time and tempt selecting on test data. "Train with best" reports test metrics."""
    splits = getattr(prepared, "splits", None)
    if splits is None or "test" not in splits or "validation" not in splits or \
            len(splits["validation"]) == 0:
        return prepared
    from datasets import DatasetDict
    kept = DatasetDict({k: v for k, v in splits.items() if k != "test"})
    return dataclasses.replace(prepared, splits=kept)


def run_search(config: RunConfig, run_dir: str | Path, *, n_trials: int | None = None,
               storage: str | None = None, study_name: str | None = None,
               keep_trial_models: bool = False, prepared=None) -> optuna.Study:
    """Run ``n_trials`` more trials of the study (created, or loaded to continue it).

    The data is prepared once for all trials (the space never touches it); tests and
    benches may pass a ``prepared`` dataset of their own."""
    run_dir = Path(run_dir)
    if config.search is None:
        config = dataclasses.replace(config, search=SearchConfig(
            space=default_space(config.model.task, config.model.method,
                              config.train.max_steps)))
    search = config.search
    objective = validate_search(config)
    n_trials = int(n_trials if n_trials is not None else search.n_trials)
    require(n_trials >= 1, f"Run at least one trial (got {n_trials}).")
    _ensure_run_folder(config, run_dir)
    runs.clear_stop(run_dir)  # a Stop that ended an earlier session must not end this one
    url = storage or search.storage or default_storage_url(run_dir)
    name = study_name or search.study_name or run_dir.name
    try:
        from .train import prepare_data, validate
        if prepared is None:
            prepared = prepare_data(config)
        validate(config, prepared)  # data and model problems fail here, before any trial
        prepared = _without_test(prepared)
        study = open_study(url, name, search.direction,
                           sampler=make_sampler(search, n_trials),
                           pruner=make_pruner(search, n_trials))
    except Exception as exc:
        runs.write_run_info(run_dir, status="failed", error=str(exc), finished=time.time())
        runs.append_event(run_dir, "search", status="failed", error=str(exc))
        raise
    orphans = fail_orphaned_trials(study)
    runs.write_run_info(run_dir, status="running", pid=os.getpid(), storage=safe_url(url),
                        study_name=name, objective=objective, direction=search.direction,
                        started=time.time(), error=None)
    runs.append_event(run_dir, "search", status="running", study_name=name,
                      storage=safe_url(url), n_trials=n_trials, objective=objective,
                      failed_orphans=orphans)
    status, error = "finished", None
    try:
        if not runs.stop_requested(run_dir):  # Stop pressed while the data was prepared
            study.optimize(_objective_fn(config, run_dir, objective, prepared,
                                         keep_trial_models),
                           n_trials=n_trials, timeout=search.timeout_s,
                           callbacks=[_record_trial(run_dir)], catch=(_TrialCrashed,),
                           gc_after_trial=True)
        if runs.stop_requested(run_dir):
            status = "stopped"
    except KeyboardInterrupt:
        status = "stopped"
        raise
    except Exception as exc:
        status, error = "failed", str(exc)
        raise
    finally:
        _finish(study, config, run_dir, status, error, objective)
    return study


def _finish(study: optuna.Study, config: RunConfig, run_dir: Path, status: str,
            error: str | None, objective: str) -> None:
    best = _best_trial(study)
    fields = {"status": status, "finished": time.time(), "error": error,
              "n_trials_done": len(study.get_trials(deepcopy=False))}
    if best is not None:
        fields.update(best_metric={"name": objective, "value": best.value},
                      best_trial=best.number, best_params=best.params,
                      metrics={objective: best.value})
        best_config(study, config).save(run_dir / "best_config.yaml")
    runs.write_run_info(run_dir, **fields)
    runs.append_event(run_dir, "search", status=status, error=error,
                      best_value=best.value if best else None,
                      best_params=best.params if best else None)


def _best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    try:
        return study.best_trial
    except ValueError:  # no completed trial yet
        return None


def best_config(study: optuna.Study, base_config: RunConfig) -> RunConfig:
    """A normal single-run config with the best trial's parameters ("Train with best")."""
    best = _best_trial(study)
    require(best is not None, "No trial of this search has completed yet.",
            hint="Wait for a trial to finish (or continue the search).")
    cfg = apply_params(base_config, best.params)
    return dataclasses.replace(cfg, search=None, name=f"{base_config.name or 'search'}-best")


# -- Views for the UI and CLI ---------------------------------------------------------------

def trials_frame(study: optuna.Study | None):
    """One row per trial: number, state, value, duration and each parameter; best marked."""
    import pandas as pd
    if study is None:
        return pd.DataFrame(columns=["best", *TRIAL_COLUMNS])
    best = _best_trial(study)
    rows = []
    for t in study.get_trials(deepcopy=False):
        row = {"best": "★" if best is not None and t.number == best.number else "",
               "number": t.number, "state": trial_state(t),
               "value": None if t.value is None else round(float(t.value), 5),
               "duration_s": _duration(t)}
        if t.value is None and t.intermediate_values:  # running or pruned: last eval
            last = max(t.intermediate_values)
            row["value"] = round(float(t.intermediate_values[last]), 5)
        for k, v in t.params.items():
            row[k] = float(f"{v:.4g}") if isinstance(v, float) else v
        rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else ["best", *TRIAL_COLUMNS])


def study_plots(study: optuna.Study | None) -> dict:
    """Optuna's own plotly figures; None where there is not enough data yet."""
    out = {"history": None, "importance": None, "parallel": None}
    if study is None:
        return out
    from optuna import visualization as vis
    complete = [t for t in study.get_trials(deepcopy=False)
                if t.state == optuna.trial.TrialState.COMPLETE]
    if complete:
        out["history"] = _quiet(vis.plot_optimization_history, study)
        out["parallel"] = _quiet(vis.plot_parallel_coordinate, study)
    if len(complete) >= 2:  # importances need variation to explain
        out["importance"] = _quiet(vis.plot_param_importances, study)
    return out


def _quiet(plot, study):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return plot(study)
    except Exception:  # noqa: BLE001 - e.g. all trials with identical params
        log.debug("plot %s failed", plot.__name__, exc_info=True)
        return None


def summary(study: optuna.Study | None, info: dict | None = None) -> str:
    """One Markdown line: status, trials by state, the best value and parameters."""
    info = info or {}
    status = info.get("status", "starting")
    if study is None:
        return f"**Search {info.get('id', '')}**: {status}, no trial yet."
    trials = study.get_trials(deepcopy=False)
    by_state: dict[str, int] = {}
    for t in trials:
        by_state[trial_state(t).lower()] = by_state.get(trial_state(t).lower(), 0) + 1
    states = ", ".join(f"{n} {s}" for s, n in sorted(by_state.items()))
    text = f"**Search {info.get('id', study.study_name)}**: {status} · {len(trials)} " \
           f"trial(s) ({states or 'none yet'})"
    best = _best_trial(study)
    if best is not None:
        params = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in best.params.items())
        text += f" · best {info.get('objective', 'value')} **{best.value:.4g}** " \
                f"(trial {best.number}: {params})"
    if info.get("error"):
        text += f"\n\n⚠️ {info['error']}"
    return text


def search_command(config_path: str | Path, run_dir: str | Path, *,
                   n_trials: int | None = None) -> list[str]:
    """The argv that runs (or continues) the search in run_dir as a background process."""
    import sys
    argv = [sys.executable, "-m", "ft_core", "search", "--config", str(config_path),
            "--run-dir", str(run_dir)]
    if n_trials:
        argv += ["--n-trials", str(n_trials)]
    return argv


# -- Command line --------------------------------------------------------------------------

def add_cli(subparsers) -> None:
    """`python -m ft_core search ...` (registered by cli.py; the work lives here)."""
    import argparse

    from .cli import _add_config_args
    p = subparsers.add_parser(
        "search", help="Hyperparameter search with Optuna (each trial a real training run).",
        description="Run (or continue) an Optuna study. Several workers with the same "
                    "--storage and --study-name share one study. A config without a "
                    "'search:' section searches the default space.")
    _add_config_args(p)
    p.add_argument("--storage", help="Optuna storage URL (default: sqlite in the run folder; "
                   "postgresql://... or mysql+pymysql://... for many machines).")
    p.add_argument("--study-name", help="Study name (default: the run folder's name).")
    p.add_argument("--n-trials", type=int, help="Trials this worker runs (default: config).")
    p.add_argument("--run-dir", help="Search folder (created if missing; default: a new "
                   "folder under runs_dir). Reuse it to continue the search.")
    p.add_argument("--keep-trial-models", action="store_true",
                   help="Keep every trial's final model (off: saves disk).")
    # The job runner's Resume passes --resume; a search always continues its study.
    p.add_argument("--resume", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=cli_search)


def cli_search(args) -> int:
    from .cli import apply_space_limits, load_config
    config = load_config(args)
    if config.search is None or not config.search.space:
        space = default_space(config.model.task, config.model.method,
                              config.train.max_steps)
        base = config.search or SearchConfig()
        config = dataclasses.replace(config, search=dataclasses.replace(base, space=space))
        print("No search space in the config: searching the default space "
              f"({', '.join(p.name for p in space)}).", flush=True)
    config = apply_space_limits(config)
    run_dir = Path(args.run_dir) if args.run_dir else runs.create_run(config)
    print(f"Search folder: {run_dir}", flush=True)
    study = run_search(config, run_dir, n_trials=args.n_trials, storage=args.storage,
                       study_name=args.study_name, keep_trial_models=args.keep_trial_models)
    frame = trials_frame(study)
    print(frame.to_string(index=False), flush=True)
    best = _best_trial(study)
    if best is not None:
        print(f"Best trial {best.number}: {best.value:.5g} with {best.params}", flush=True)
        print(f"Best config: {run_dir / 'best_config.yaml'}", flush=True)
    return 0
