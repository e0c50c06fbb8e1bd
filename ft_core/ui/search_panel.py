"""The "Hyperparameter search" panel of the Train tab. Wiring only.

The Train form gives the base RunConfig; this panel adds a SearchConfig (trials, time
budget, objective, sampler, pruner, the space table) and starts
``python -m ft_core search`` as a background job through the shared JobManager (one job
per browser, like a training). A gr.Timer reads the study from its Optuna storage every
couple of seconds: the trial table and Optuna's own plots fill in as trials finish, and a
reloaded page finds its running search again.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import gradio as gr
import pandas as pd

from .. import runs, search
from ..config import RunConfig, SearchConfig
from ..errors import UserError
from .common import handler, session_id
from .state import AppContext

TICK_S = 2.0
OBJECTIVES = ["eval_loss", "eval_accuracy", "eval_f1_macro", "eval_f1_micro",
              "eval_precision_macro", "eval_recall_macro", "eval_perplexity"]
SAMPLERS = [("TPE (Bayesian, default)", "tpe"), ("Random", "random"), ("Grid", "grid")]
PRUNERS = [("Median", "median"), ("Successive halving", "successive_halving"),
           ("Hyperband", "hyperband"), ("None", "none")]
PANEL_FIELDS = ["n_trials", "timeout_s", "objective", "direction", "sampler", "pruner",
                "space"]
BEST_CSS = "background-color: rgba(250, 204, 21, 0.35); font-weight: 600"


class SearchPanel:
    def __init__(self, ctx: AppContext, form):
        self.ctx, self.form = ctx, form

    # -- who is asking (shared with the Train tab: one job per browser) -------------------

    @property
    def jobs(self):
        if "jobs" not in self.ctx.extras:
            from ..jobs import JobManager
            self.ctx.extras["jobs"] = JobManager()
        return self.ctx.extras["jobs"]

    def owner(self, request) -> str:
        owner = self.ctx.extras.get("job_owner")
        return owner(request) if owner else session_id(request)

    def runs_dir(self, request) -> str:
        per_session = getattr(self.ctx, "runs_dir_for", None)
        return per_session(request) if per_session else str(self.ctx.runs_dir)

    # -- layout ----------------------------------------------------------------------------

    def build(self) -> None:
        gr.Markdown(
            "Try many settings automatically with [Optuna](https://optuna.org): each trial "
            "is a real training run of the form's config with values drawn from the space "
            "below, and the pruner stops trials that fall behind. The study is saved in "
            "the search's run folder (`optuna.db`, opens in optuna-dashboard), so Continue "
            "resumes it. The form's other settings (data, model, max length...) are shared "
            "by every trial.")
        with gr.Row():
            self.n_trials = gr.Number(10, label="Trials", precision=0, minimum=1,
                                      info="How many trials to run (Continue adds more).",
                                      elem_id="search-n-trials")
            self.timeout = gr.Number(0, label="Time budget (s)", minimum=0,
                                     info="Start no new trial after this long; 0 = none.",
                                     elem_id="search-timeout")
            self.objective = gr.Dropdown(OBJECTIVES, value="eval_loss", label="Objective",
                                         allow_custom_value=True, elem_id="search-objective",
                                         info="The eval metric a trial is scored by.")
            self.direction = gr.Radio(["minimize", "maximize"], value="minimize",
                                      label="Direction", elem_id="search-direction")
        with gr.Row():
            self.sampler = gr.Radio(SAMPLERS, value="tpe", label="Sampler",
                                    elem_id="search-sampler",
                                    info="Grid tries every choice and low/middle/high of "
                                         "each range.")
            self.pruner = gr.Radio(PRUNERS, value="median", label="Pruner",
                                   elem_id="search-pruner",
                                   info="Stops a trial whose evaluation falls behind the "
                                        "others at the same point.")
        self.space = gr.Dataframe(
            pd.DataFrame(search.space_to_rows(search.default_space()),
                         columns=search.SPACE_COLUMNS),
            headers=search.SPACE_COLUMNS, datatype=["str", "str", "number", "number", "bool",
                                                    "str"],
            interactive=True,
            label="Search space (kind: float, int or categorical; choices comma-separated; "
                  "add a row for more, clear its name to drop it)",
            elem_id="search-space")
        gr.Markdown("Searchable: " + ", ".join(f"`{n}`" for n in search.SEARCHABLE) +
                    " (LoRA rows need the LoRA method).", elem_classes="ft-small")
        with gr.Row():
            self.reset_btn = gr.Button("Default space for the form's settings", size="sm",
                                       elem_id="search-default-space")
        with gr.Row():
            self.start_btn = gr.Button("Start search", variant="primary",
                                       elem_id="search-start")
            self.stop_btn = gr.Button("Stop search", variant="stop", elem_id="search-stop")
            self.continue_btn = gr.Button("Continue search", elem_id="search-continue")
            self.best_btn = gr.Button("Train with best parameters", elem_id="search-best")
        self.state = gr.State(None)  # {"run_dir", "url", "study", "sig"} of the shown search
        self.timer = gr.Timer(TICK_S, active=False)
        self.status = gr.Markdown("No search yet.", elem_id="search-status")
        self.table = gr.Dataframe(search.trials_frame(None), interactive=False, wrap=True,
                                  label="Trials (★ = best)", max_height=360,
                                  elem_id="search-trials")
        with gr.Row():
            self.history = gr.Plot(label="Optimization history", elem_id="search-history")
            self.importance = gr.Plot(label="Parameter importances (2+ complete trials)",
                                      elem_id="search-importance")
        self.parallel = gr.Plot(label="Parallel coordinate", elem_id="search-parallel")
        self._wire()

    @property
    def panel_inputs(self) -> list:
        return [self.n_trials, self.timeout, self.objective, self.direction, self.sampler,
                self.pruner, self.space]

    @property
    def outputs(self) -> list:
        return [self.state, self.status, self.table, self.history, self.importance,
                self.parallel, self.timer]

    def _wire(self) -> None:
        form = self.form
        named = self._named
        self.objective.change(lambda o: search.default_direction(o) if o else gr.skip(),
                              self.objective, self.direction, api_name=False,
                              show_progress="hidden")
        self.reset_btn.click(handler(self.default_space),
                             [form.widgets["task"], form.widgets["method"],
                              form.widgets["max_steps"]], self.space,
                             api_name="search_default_space")
        self.start_btn.click(handler(named(self.start)), [*form.inputs, *self.panel_inputs],
                             self.outputs, api_name="start_search", concurrency_limit=None)
        self.continue_btn.click(handler(self.resume), [self.state, *self.panel_inputs],
                                self.outputs, api_name="continue_search",
                                concurrency_limit=None)
        self.stop_btn.click(handler(self.stop), self.state, self.status,
                            api_name="stop_search", concurrency_limit=None)
        self.best_btn.click(handler(self.train_best), self.state, self.status,
                            api_name="train_with_best", concurrency_limit=None)
        self.timer.tick(handler(self.tick), self.state, self.outputs, api_name=False,
                        show_progress="hidden", concurrency_limit=None)
        demo = gr.context.Context.root_block
        if demo is not None:
            # A reloaded page: one tick finds a search still running for this browser.
            demo.load(lambda: gr.Timer(active=True), None, self.timer, api_name=False)

    def _named(self, fn):
        """Name the API parameters after the widgets (data, learning_rate..., n_trials...)."""
        names = ["data", *self.form.names, *PANEL_FIELDS]

        def call(*args, request: gr.Request = None):
            return fn(*args, request=request)
        params = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names]
        params.append(inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY,
                                        default=None, annotation=gr.Request))
        call.__signature__ = inspect.Signature(params)
        call.__name__ = fn.__name__
        return call

    # -- handlers --------------------------------------------------------------------------

    @staticmethod
    def default_space(task_choice: str, method: str, max_steps=-1) -> pd.DataFrame:
        task = "causal_lm" if str(task_choice).startswith("causal_lm") else "classification"
        space = search.default_space(task, method, int(max_steps or -1))
        return pd.DataFrame(search.space_to_rows(space), columns=search.SPACE_COLUMNS)

    @staticmethod
    def search_config(n_trials, timeout_s, objective, direction, sampler, pruner, space,
                      base: SearchConfig | None = None) -> SearchConfig:
        if n_trials is None or int(n_trials) < 1:
            raise UserError("Run at least one trial.", hint="Set Trials to 1 or more.")
        kept = {"storage": base.storage, "study_name": base.study_name,
                "seed": base.seed} if base else {}
        return SearchConfig(n_trials=int(n_trials), timeout_s=float(timeout_s) if timeout_s
                            else None, objective=search.normalize_objective(objective),
                            direction=direction, sampler=sampler, pruner=pruner,
                            space=search.space_from_rows(space), **kept)

    def start(self, *values, request: gr.Request = None):
        n_form = len(self.form.inputs)
        config = self.form.to_config(*values[:n_form])
        config.search = self.search_config(*values[n_form:])
        search.validate_search(config)  # refuse a bad space before a process starts
        from .train_tab import validate_config
        for note in validate_config(config):
            gr.Info(note)
        run_dir = self.jobs.start(config, self.owner(request), self.runs_dir(request),
                                  origin=session_id(request), command="search")
        gr.Info(f"Search {run_dir.name} started.")
        return self._view(self._state_for(run_dir), force=True)

    def resume(self, state: dict | None, *panel_values, request: gr.Request = None):
        if not state:
            raise UserError("No search to continue in this page.",
                            hint="Start a search first (Continue adds trials to it).")
        run_dir = Path(state["run_dir"])
        config = RunConfig.load(run_dir / "config.yaml")
        config.search = self.search_config(*panel_values, base=config.search)
        search.validate_search(config)
        config.save(run_dir / "config.yaml")
        self.jobs.rerun(self.owner(request), run_dir.name, self.runs_dir(request), "search",
                        origin=session_id(request))
        gr.Info(f"Search {run_dir.name} continues with {config.search.n_trials} more "
                "trial(s).")
        return self._view(dict(state, sig=None), force=True)

    def stop(self, state: dict | None, request: gr.Request = None) -> str:
        if not state:
            raise UserError("No search is running in this page.")
        run_id = Path(state["run_dir"]).name
        what = self.jobs.stop(self.owner(request), run_id, self.runs_dir(request),
                              allow_unowned=not self.ctx.space_mode)
        gr.Info(f"Search {run_id}: {what}.")
        return (f"**Search {run_id}**: {what}. The current trial stops at its next step and "
                "no new trial starts.")

    def train_best(self, state: dict | None, request: gr.Request = None) -> str:
        if not state:
            raise UserError("No search in this page yet.",
                            hint="Run a search first; its best trial's settings are used.")
        run_dir = Path(state["run_dir"])
        study = search.load_study(state["url"], state["study"])
        if study is None:
            raise UserError("The search has not created its study yet.",
                            hint="Wait for the first trial.")
        config = search.best_config(study, RunConfig.load(run_dir / "config.yaml"))
        new_dir = self.jobs.start(config, self.owner(request), self.runs_dir(request),
                                  origin=session_id(request))
        gr.Info(f"Training {new_dir.name} with the best parameters.")
        params = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in study.best_params.items())
        return (f"Started run **{new_dir.name}** with the best trial's settings ({params}). "
                "Follow it in the **Run** tab and the runs table.")

    def tick(self, state: dict | None, request: gr.Request = None):
        if state is None:  # a reloaded page: re-attach to this browser's running search
            job = self.jobs.active(self.owner(request))
            if job is None or job.command != "search":
                # Change nothing: a late tick must not clear the state (or stop the timer)
                # that a Start which finished meanwhile has just set.
                return [gr.skip()] * 7
            state = self._state_for(job.run_dir)
        return self._view(state)

    # -- views -----------------------------------------------------------------------------

    @staticmethod
    def _state_for(run_dir: Path) -> dict:
        config = RunConfig.load(Path(run_dir) / "config.yaml")
        s = config.search or SearchConfig()
        return {"run_dir": str(run_dir),
                "url": s.storage or search.default_storage_url(run_dir),
                "study": s.study_name or Path(run_dir).name, "sig": None}

    def _view(self, state: dict, force: bool = False) -> list:
        run_dir = Path(state["run_dir"])
        info = runs.read_run_info(run_dir)
        live = info.get("status") in ("queued", "running") or force
        study = None
        if (run_dir / "optuna.db").exists() or not state["url"].startswith("sqlite"):
            study = search.load_study(state["url"], state["study"])
        trials = study.get_trials(deepcopy=False) if study else []
        # Redraw only when a trial changed state or reported (plots cost ~100 ms each).
        sig = (info.get("status"), tuple((t.number, t.state.name, len(t.intermediate_values))
                                         for t in trials))
        timer = gr.Timer(active=live)
        if sig == state.get("sig") and not force:
            return [state, *[gr.skip()] * 5, timer]
        state = dict(state, sig=sig)
        plots = search.study_plots(study)
        info.setdefault("objective", (RunConfig.load(run_dir / "config.yaml").search or
                                      SearchConfig()).objective)
        return [state, search.summary(study, info), styled_trials(study), plots["history"],
                plots["importance"], plots["parallel"], timer]


def styled_trials(study):
    """The trial table with the best trial's row highlighted."""
    frame = search.trials_frame(study)
    if frame.empty or "best" not in frame:
        return frame
    marks = frame["best"] == "★"
    # Learning rates like 3e-05 would show as 0.000030: keep 4 significant digits.
    floats = [c for c in frame.columns if c not in ("number", "duration_s")
              and frame[c].dtype.kind == "f"]
    formats = {c: "{:.4g}" for c in floats}
    formats["duration_s"] = "{:.1f}"
    return (frame.style.format(formats, na_rep="")
            .apply(lambda row: [BEST_CSS if marks[row.name] else ""] * len(row), axis=1))


def build(ctx: AppContext, form) -> SearchPanel:
    panel = SearchPanel(ctx, form)
    panel.build()
    ctx.extras["search_panel"] = panel
    return panel
