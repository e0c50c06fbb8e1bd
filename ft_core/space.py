"""Space mode: limits and isolation for running the app as a shared public demo.

Space mode is on inside a Hugging Face Space (the ``SPACE_ID`` variable is set there),
with ``FT_LAB_SPACE_MODE=1``, or with ``app.py --space-mode``. It changes four things:

- **Limits** (from the environment, see ``SpaceSettings``): steps and minutes per run,
  upload size, trials per search, jobs running at once. ``apply_limits`` cuts a config
  and says what it cut; ``time_limit_callback`` stops a run whose time is spent.
- **Per-session folders**: each visitor's runs live under ``runs/sessions/<id>/`` and are
  removed after ``session_ttl_hours`` without activity (``cleanup_old_sessions``).
- **No local paths**: only built-in data, uploads, the visitor's own runs and Hub ids are
  accepted as sources (``check_source_allowed``); nobody browses the server's disk.
- **A banner** saying which limits are in force, and a Duplicate Space button (UI).

Outside Space mode every function here is a no-op, so callers need no ``if``.
This module never imports gradio (the UI reads it) and imports transformers lazily.
"""

from __future__ import annotations

import copy
import hashlib
import math
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .config import RunConfig
from .errors import UserError

SESSIONS_DIR = "sessions"
ACTIVITY_FILE = ".last_active"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")

# environment variable -> SpaceSettings field (values parsed with the field's type)
ENV_VARS = {
    "FT_LAB_MAX_TRAIN_STEPS": "max_train_steps",
    "FT_LAB_MAX_TRAIN_MINUTES": "max_train_minutes",
    "FT_LAB_MAX_UPLOAD_MB": "max_upload_mb",
    "FT_LAB_MAX_TRIALS": "max_trials",
    "FT_LAB_MAX_CONCURRENT_JOBS": "max_concurrent_jobs",
    "FT_LAB_SESSION_TTL_HOURS": "session_ttl_hours",
    "FT_LAB_ALLOW_LOCAL_PATHS": "allow_local_paths",
}


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in _TRUE


@dataclass(frozen=True)
class SpaceSettings:
    """The shared-demo limits. ``enabled`` False means: none of them apply.

    Defaults suit a T4 (16 GB) shared by strangers: a quick-start fits in the budget,
    a runaway run does not hold the GPU for long.
    """

    enabled: bool = False
    max_train_steps: int = 300
    max_train_minutes: float = 10.0
    max_upload_mb: float = 20.0
    max_trials: int = 4
    max_concurrent_jobs: int = 1  # one GPU: jobs beyond this wait in the queue
    session_ttl_hours: float = 6.0
    allow_local_paths: bool = True  # forced False when enabled (see from_env)

    def __post_init__(self):
        checks = [(self.max_train_steps >= 1, "FT_LAB_MAX_TRAIN_STEPS must be at least 1"),
                  (self.max_train_minutes > 0, "FT_LAB_MAX_TRAIN_MINUTES must be above 0"),
                  (self.max_upload_mb > 0, "FT_LAB_MAX_UPLOAD_MB must be above 0"),
                  (self.max_trials >= 1, "FT_LAB_MAX_TRIALS must be at least 1"),
                  (self.max_concurrent_jobs >= 1, "FT_LAB_MAX_CONCURRENT_JOBS must be at "
                                                  "least 1"),
                  (self.session_ttl_hours > 0, "FT_LAB_SESSION_TTL_HOURS must be above 0")]
        for ok, message in checks:
            if not ok:
                raise UserError(f"Space settings: {message}.",
                                hint="Fix the variable in the Space's settings (Variables).")

    @classmethod
    def from_env(cls, env: dict | None = None, space_mode: bool | None = None) -> SpaceSettings:
        """Settings from the environment. Space mode: FT_LAB_SPACE_MODE when set (1/0: the
        owner of a duplicated Space can turn the limits off, though app.py passes
        space_mode=True whenever SPACE_ID is set), else ``space_mode`` (the --space-mode
        flag), else whether SPACE_ID is set."""
        env = os.environ if env is None else env
        explicit = (env.get("FT_LAB_SPACE_MODE") or "").strip().lower()
        if explicit in _TRUE or explicit in _FALSE[:-1]:
            enabled = _flag(explicit)
        else:
            enabled = bool(space_mode) or bool(env.get("SPACE_ID"))
        types = {f.name: f.type for f in fields(cls)}
        values: dict = {"enabled": enabled}
        for var, name in ENV_VARS.items():
            raw = env.get(var)
            if raw is None or raw.strip() == "":
                continue
            values[name] = _parse(var, raw, types[name])
        if enabled:
            # A public demo never reads the server's disk, whatever the variable says,
            # unless the owner explicitly opts in (a private Space with its own data).
            values["allow_local_paths"] = _flag(env.get("FT_LAB_ALLOW_LOCAL_PATHS"))
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """Variables that give a child process (a training job) the same settings."""
        out = {"FT_LAB_SPACE_MODE": "1" if self.enabled else "0"}
        for var, name in ENV_VARS.items():
            value = getattr(self, name)
            out[var] = ("1" if value else "0") if isinstance(value, bool) else str(value)
        return out

    def concurrency(self, local_default: int) -> int:
        """Jobs allowed to run at once: the Space limit, else the caller's own default."""
        return self.max_concurrent_jobs if self.enabled else local_default

    def limits_text(self) -> list[str]:
        """Human-readable limits for the page's banner (empty outside Space mode)."""
        if not self.enabled:
            return []
        items = [f"at most {self.max_train_steps} training steps and "
                 f"{_minutes(self.max_train_minutes)} per run",
                 f"uploads up to {self.max_upload_mb:g} MB",
                 f"at most {self.max_trials} trials per search",
                 f"{self.max_concurrent_jobs} job(s) at a time on this machine; "
                 "others wait in a queue",
                 f"your runs are private to this browser session and deleted after "
                 f"{self.session_ttl_hours:g} h without activity"]
        if not self.allow_local_paths:
            items.append("data and models come from the built-ins, your uploads or the Hub "
                         "(no server paths)")
        return items

    def as_dict(self) -> dict:
        return asdict(self)


def _parse(var: str, raw: str, type_) -> int | float | bool:
    type_name = type_ if isinstance(type_, str) else getattr(type_, "__name__", "")
    try:
        if type_name == "bool":
            return _flag(raw)
        if type_name == "int":
            return int(raw)
        return float(raw)
    except ValueError:
        raise UserError(f"Space settings: {var}={raw!r} is not a number.",
                        hint="Fix the variable in the Space's settings (Variables).") from None


def _minutes(m: float) -> str:
    return f"{m:g} min"


# -- Limits on a run ------------------------------------------------------------------------

def estimated_steps(config: RunConfig, train_rows: int) -> int:
    """Optimizer steps an epoch-based run takes on one device (as the Trainer counts)."""
    t = config.train
    per_epoch = max(1, math.ceil(train_rows / t.per_device_train_batch_size)
                    // t.gradient_accumulation_steps)
    return math.ceil(t.num_train_epochs * per_epoch)


def apply_limits(config: RunConfig, settings: SpaceSettings,
                 train_rows: int | None = None) -> tuple[RunConfig, list[str]]:
    """A copy of ``config`` cut to the Space limits, and one message per cut.

    A run set by max_steps above the limit is cut to the limit. An epoch-based run is cut
    when ``train_rows`` tells how many steps it would take; otherwise the time limit and
    ``time_limit_callback(max_steps=...)`` stop it while it runs. The time budget goes into
    ``train.max_minutes`` when the config has that field. The input is never changed.
    """
    if not settings.enabled:
        return config, []
    config = copy.deepcopy(config)
    notes: list[str] = []
    t, limit = config.train, settings.max_train_steps
    if t.max_steps > limit:
        notes.append(f"Space limit: this run asked for {t.max_steps} steps; it is cut to "
                     f"{limit} steps (the most a run may take on this shared Space).")
        t.max_steps = limit
    elif t.max_steps <= 0 and train_rows is not None:
        steps = estimated_steps(config, train_rows)
        if steps > limit:
            notes.append(f"Space limit: {t.num_train_epochs:g} epoch(s) over {train_rows} rows "
                         f"would take {steps} steps; the run is cut to {limit} steps.")
            t.max_steps = limit
    _limit_minutes(t, settings, notes)
    if config.search is not None:
        _limit_search(config, settings, notes)
    return config, notes


def _limit_minutes(t, settings: SpaceSettings, notes: list[str]) -> None:
    # The budget rides in the config (when the field exists) so the training subprocess,
    # which only sees config.yaml, enforces the same limit.
    if not hasattr(t, "max_minutes"):
        return
    current = t.max_minutes
    if current is None or current > settings.max_train_minutes:
        t.max_minutes = settings.max_train_minutes
        if current is not None:
            notes.append(f"Space limit: the time budget is cut from {_minutes(current)} to "
                         f"{_minutes(settings.max_train_minutes)} per run.")


def _limit_search(config: RunConfig, settings: SpaceSettings, notes: list[str]) -> None:
    s = config.search
    if s.n_trials > settings.max_trials:
        notes.append(f"Space limit: the search asked for {s.n_trials} trials; it is cut to "
                     f"{settings.max_trials}.")
        s.n_trials = settings.max_trials
    budget_s = settings.max_trials * settings.max_train_minutes * 60
    if s.timeout_s is None or s.timeout_s > budget_s:
        if s.timeout_s is not None:
            notes.append(f"Space limit: the search's time budget is cut to "
                         f"{_minutes(budget_s / 60)}.")
        s.timeout_s = budget_s


def check_upload_size(path: str | Path, settings: SpaceSettings) -> None:
    """Refuse an uploaded file above the Space's upload limit (no-op outside Space mode)."""
    if not settings.enabled:
        return
    size_mb = Path(path).stat().st_size / 2**20
    if size_mb > settings.max_upload_mb:
        raise UserError(f"This file is {size_mb:.1f} MB; uploads on this Space are limited "
                        f"to {settings.max_upload_mb:g} MB.",
                        hint="Upload a smaller file (a subset of the rows), or duplicate the "
                             "Space to raise the limit.")


# -- Time (and step) budget while training -----------------------------------------------------

def time_limit_callback(max_minutes: float | None, run_dir: str | Path | None = None,
                        max_steps: int | None = None):
    """A TrainerCallback that stops training once ``max_minutes`` have passed since the
    training loop began (or ``max_steps`` optimizer steps were taken).

    It saves a checkpoint as Stop does, so the run ends 'stopped' with a usable model and can
    be resumed elsewhere. The reason goes into ``callback.message`` and, with ``run_dir``,
    into events.jsonl as ``{"type": "limit", "message": ...}``.
    """
    from transformers import TrainerCallback

    class TimeLimitCallback(TrainerCallback):
        def __init__(self):
            self.max_seconds = None if max_minutes is None else float(max_minutes) * 60
            self.max_steps = max_steps
            self.started: float | None = None
            self.message: str | None = None

        def on_train_begin(self, args, state, control, **kwargs):
            self.started = time.monotonic()

        def _over(self, state) -> str | None:
            elapsed = time.monotonic() - (self.started or time.monotonic())
            if self.max_seconds is not None and elapsed >= self.max_seconds:
                return (f"Time limit: training stopped after {elapsed / 60:.1f} min at step "
                        f"{state.global_step} (the budget is {_minutes(max_minutes)} per run). "
                        "The model so far is saved.")
            if self.max_steps is not None and state.global_step >= self.max_steps:
                return (f"Step limit: training stopped at step {state.global_step} (at most "
                        f"{self.max_steps} steps per run). The model so far is saved.")
            return None

        def on_step_end(self, args, state, control, **kwargs):
            reason = _agree_across_ranks(args, self._over(state))
            if reason and self.message is None:
                self.message = reason
                control.should_save = True
                control.should_training_stop = True
                if run_dir is not None:
                    from .runs import append_event
                    append_event(run_dir, "limit", message=reason, step=state.global_step)

    return TimeLimitCallback()


def _agree_across_ranks(args, reason: str | None) -> str | None:
    """Under several processes every rank must stop at the same step (clocks differ)."""
    if getattr(args, "world_size", 1) <= 1:
        return reason
    import torch
    import torch.distributed as dist
    if not (dist.is_available() and dist.is_initialized()):
        return reason
    flag = torch.tensor([1.0 if reason else 0.0], device=args.device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return reason or ("Limit reached on another process." if flag.item() > 0 else None)


def limit_callbacks(settings: SpaceSettings, run_dir: str | Path | None = None) -> list:
    """Callbacks the training core adds for Space mode ([] outside it)."""
    if not settings.enabled:
        return []
    return [time_limit_callback(settings.max_train_minutes, run_dir,
                                max_steps=settings.max_train_steps)]


# -- Per-session folders --------------------------------------------------------------------

def _safe_session(session_id: str) -> str:
    """A folder name for a session id: kept when plain, hashed otherwise (no '..', '/')."""
    sid = str(session_id or "local")
    if re.fullmatch(r"[A-Za-z0-9_-]{1,64}", sid):
        return sid
    return "h" + hashlib.sha256(sid.encode()).hexdigest()[:24]


def session_dir(base_dir: str | Path, session_id: str, settings: SpaceSettings) -> Path:
    """``base_dir`` itself outside Space mode; ``base_dir/sessions/<id>/`` in Space mode,
    created and marked active now (cleanup counts inactivity from that mark)."""
    base = Path(base_dir)
    if not settings.enabled:
        return base
    path = base / SESSIONS_DIR / _safe_session(session_id)
    path.mkdir(parents=True, exist_ok=True)
    touch_session(path)
    return path


def session_runs_dir(base_runs_dir: str | Path, session_id: str,
                     settings: SpaceSettings) -> Path:
    """Where this session's runs live: per session in Space mode, shared otherwise."""
    return session_dir(base_runs_dir, session_id, settings)


def touch_session(path: str | Path) -> None:
    (Path(path) / ACTIVITY_FILE).touch()


def _last_activity(session_path: Path) -> float:
    """Newest mtime of the activity mark and of the files a live run keeps writing."""
    stamps = [session_path.stat().st_mtime]
    for pattern in (ACTIVITY_FILE, "*/run.json", "*/events.jsonl", "*/process.log"):
        stamps += [p.stat().st_mtime for p in session_path.glob(pattern) if p.exists()]
    return max(stamps)


def cleanup_old_sessions(base_runs_dir: str | Path, ttl_hours: float,
                         now: float | None = None) -> list[Path]:
    """Delete session folders with no activity for ``ttl_hours``; returns what was removed.

    A running job writes events every few steps, so its session stays active."""
    root = Path(base_runs_dir) / SESSIONS_DIR
    if not root.is_dir():
        return []
    cutoff = (now or time.time()) - ttl_hours * 3600
    removed = []
    for path in root.iterdir():
        if not path.is_dir() or path.is_symlink():
            continue
        try:
            if _last_activity(path) < cutoff:
                shutil.rmtree(path)
                removed.append(path)
        except OSError:
            continue  # vanished or busy: the next sweep tries again
    return removed


_last_sweep: dict[str, float] = {}  # base folder -> time of the last sweep (no user data)


def maybe_cleanup(base_runs_dir: str | Path, settings: SpaceSettings,
                  every_s: float = 600) -> list[Path]:
    """``cleanup_old_sessions`` at most every ``every_s`` seconds (cheap to call per page)."""
    if not settings.enabled:
        return []
    key = str(Path(base_runs_dir).resolve())
    now = time.time()
    if now - _last_sweep.get(key, 0) < every_s:
        return []
    _last_sweep[key] = now
    return cleanup_old_sessions(base_runs_dir, settings.session_ttl_hours, now)


# -- Sources: no arbitrary local paths in Space mode ----------------------------------------

_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name with NUL bytes, too long, ...
        return False


def _within(path: Path, folders) -> bool:
    real = path.resolve()
    for folder in folders:
        root = Path(folder).resolve()
        if real == root or root in real.parents:
            return True
    return False


def check_source_allowed(source: str, settings: SpaceSettings,
                         allowed_dirs=()) -> str:
    """Return ``source`` when it may be used; raise UserError otherwise.

    Outside Space mode (or with FT_LAB_ALLOW_LOCAL_PATHS=1) everything is allowed. In Space
    mode: built-in datasets ('builtin:...'), catalog presets, Hub ids ('gpt2',
    'user/model') and paths inside ``allowed_dirs`` (the uploads folder, the session's runs
    folder) are allowed; any other local path is refused, so visitors cannot read the
    server's files.
    """
    text = (source or "").strip()
    if not settings.enabled or settings.allow_local_paths or not text:
        return source
    from .catalog import MODEL_PRESETS
    if text.startswith("builtin:") or text in MODEL_PRESETS:
        return source
    path = Path(text).expanduser()
    exists = _exists(path)
    if allowed_dirs and (path.is_absolute() or exists) and _within(path, allowed_dirs):
        return source
    looks_like_hub_id = _HUB_ID.fullmatch(text) and ".." not in text
    if looks_like_hub_id and not exists:
        return source
    raise UserError(f"'{text}' is a path on the server; this shared Space does not open "
                    "local files or folders.",
                    hint="Use a built-in dataset or model, upload a file, pick one of your "
                         "runs, or type a Hub id (e.g. 'user/dataset'). Duplicate the Space "
                         "to use your own files.")


def output_dir(user_path: str, base_dir: str | Path, session_id: str,
               settings: SpaceSettings) -> Path:
    """Where to write something the user named (e.g. a saved dataset folder).

    Outside Space mode: the path as typed. In Space mode: only its last part, inside the
    session's folder (``base_dir/sessions/<id>/saved/<name>``), so a visitor can never
    write elsewhere on the server; typed paths like '../../x' lose their folders."""
    if not settings.enabled or settings.allow_local_paths:
        return Path(user_path)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(str(user_path or "")).name).strip(".-")
    return session_dir(base_dir, session_id, settings) / "saved" / (name or "output")


__all__ = ["SpaceSettings", "apply_limits", "check_source_allowed", "check_upload_size",
           "cleanup_old_sessions", "estimated_steps", "limit_callbacks", "maybe_cleanup",
           "output_dir",
           "session_dir", "session_runs_dir", "time_limit_callback"]
