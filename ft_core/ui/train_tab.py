"""The Train tab: a form, Start/Stop, a live monitor of the run, and the runs table.

Wiring only. The form (train_form.TrainForm) makes the RunConfig, ft_core.jobs runs it as
a subprocess, train_monitor folds the run's events into progress, curves and log lines.
A gr.Timer ticks once a second while a run is shown live: each tick reads only the new
bytes of events.jsonl and returns quickly, so the queue is never held and the other tabs
stay responsive. Jobs are keyed by a browser token kept in localStorage, so a reloaded
page (a new Gradio session) finds its running job again; API clients (no page load) are
keyed by their session.
"""

from __future__ import annotations

import importlib.util
import tempfile
import uuid
from pathlib import Path

import gradio as gr
import pandas as pd

from .. import jobs, runs
from ..config import DataConfig, RunConfig
from ..errors import UserError
from .common import handler, session_id
from .state import AppContext
from .train_form import TrainForm
from .train_monitor import RunView, empty_progress, runs_table
from .train_plots import curves_figure

TICK_S = 1.0
# A random token per browser, kept in localStorage, read at every page load: it owns the
# browser's jobs, so a reload (a new Gradio session) re-attaches to a running one. Read
# in JS (not gr.BrowserState) because components of a tab not yet shown are not mounted.
OWNER_JS = """() => {
  const key = "ft-lab-job-owner";
  let token = window.localStorage.getItem(key);
  if (!token) {
    token = Array.from({length: 4}, () => Math.random().toString(36).slice(2, 10)).join("");
    window.localStorage.setItem(key, token);
  }
  return [token];
}"""


class TrainTab:
    """Holds the tab's components so handlers can name their outputs once."""

    def __init__(self, ctx: AppContext):
        self.ctx = ctx
        settings = getattr(ctx, "space_settings", None)  # Space mode: its job limit
        limit = settings.concurrency(jobs.default_max_concurrent()) if settings else None
        self.jobs: jobs.JobManager = ctx.extras.get("jobs") or jobs.JobManager(limit)
        ctx.extras["jobs"] = self.jobs
        # Gradio session -> browser token (the job owner); filled by the page-load event.
        self.owners: dict[str, str] = ctx.extras.setdefault("train_owners", {})
        ctx.extras["job_owner"] = self.owner  # request -> job owner key, for the search panel

    # -- who is asking -----------------------------------------------------------------

    def owner(self, request: gr.Request | None) -> str:
        sid = session_id(request)
        return self.owners.get(sid, sid)

    def runs_dir(self, request: gr.Request | None) -> str:
        per_session = getattr(self.ctx, "runs_dir_for", None)
        return per_session(request) if per_session else str(self.ctx.runs_dir)

    # -- layout --------------------------------------------------------------------------

    def build(self) -> None:
        gr.Markdown("## Train\nFine-tune a model on the dataset prepared in the Data tab, or "
                    "start from a recipe. Training runs in the background: you can use the "
                    "other tabs, reload the page, or stop it.")
        self.data_summary = gr.Markdown(data_summary(None), elem_id="train-data-summary")
        self.recipe_buttons = self._recipe_row()
        self.form = TrainForm(self.ctx)
        with gr.Tabs():
            with gr.Tab("Run", id="train-run"):
                self._run_panel()
            if importlib.util.find_spec("ft_core.ui.search_panel"):
                with gr.Tab("Hyperparameter search", id="train-search"):
                    from . import search_panel
                    search_panel.build(self.ctx, self.form)
        self._wire()

    def _recipe_row(self) -> list:
        items = recipe_items()
        if not items:
            return []
        buttons = []
        with gr.Accordion("Recipes (one click fills the form and the data)", open=True):
            with gr.Row():
                for name, _description in items:
                    btn = gr.Button(name, size="sm", elem_classes="ft-recipe")
                    buttons.append((name, btn))
            gr.Markdown("\n".join(f"- **{n}**: {d}" for n, d in items),
                        elem_classes="ft-small")
        return buttons

    def _run_panel(self) -> None:
        with gr.Row():
            self.start_btn = gr.Button("Start training", variant="primary",
                                       elem_id="train-start")
            self.stop_btn = gr.Button("Stop", variant="stop", elem_id="train-stop")
            self.export_btn = gr.Button("Export config", elem_id="train-export")
        with gr.Group(visible=False) as self.export_box:
            self.export_yaml = gr.Code(language="yaml", label="run.yaml",
                                       elem_id="train-export-yaml")
            self.export_cmd = gr.Markdown()
            self.export_file = gr.DownloadButton("Download run.yaml", size="sm")
        self.view_state = gr.State(None)
        # Filled by the page-load JS with this browser's token (see OWNER_JS).
        self.browser_token = gr.Textbox(visible=False)
        self.timer = gr.Timer(TICK_S, active=False)
        self.progress = gr.HTML(empty_progress(), elem_id="train-progress")
        with gr.Row():
            self.loss_plot = gr.Plot(label="Loss", elem_id="train-loss-plot")
            self.metric_plot = gr.Plot(label="Eval metrics", elem_id="train-metric-plot")
        self.log = gr.Textbox(label="Log", lines=10, max_lines=10, autoscroll=True,
                              interactive=False, elem_id="train-log")
        with gr.Accordion("Runs", open=True):
            self.table = gr.Dataframe(runs_table(self.ctx.runs_dir), interactive=False,
                                      wrap=True, max_height=320, elem_id="runs-table")
            with gr.Row():
                self.run_select = gr.Dropdown([], label="Selected run", scale=3,
                                              allow_custom_value=True, elem_id="run-select")
                self.refresh_btn = gr.Button("Refresh", size="sm", elem_id="runs-refresh")
                self.open_btn = gr.Button("Open", size="sm", elem_id="run-open")
                self.use_btn = gr.Button("Use its config", size="sm", elem_id="run-use")
                self.resume_btn = gr.Button("Resume", size="sm", elem_id="run-resume")
                self.delete_btn = gr.Button("Delete…", size="sm", variant="stop",
                                            elem_id="run-delete")
            with gr.Row(visible=False) as self.confirm_row:
                self.confirm_text = gr.Markdown()
                self.confirm_btn = gr.Button("Delete for good", variant="stop", size="sm",
                                             elem_id="run-delete-confirm")
                self.cancel_btn = gr.Button("Cancel", size="sm", elem_id="run-delete-cancel")
            self.run_config = gr.Code(language="yaml", label="Run config", visible=False,
                                      elem_id="run-config")

    # -- events ------------------------------------------------------------------------

    @property
    def monitor_outputs(self) -> list:
        return [self.view_state, self.progress, self.loss_plot, self.metric_plot, self.log,
                self.timer, self.table, self.run_select]

    def _wire(self) -> None:
        ctx, form = self.ctx, self.form
        demo = gr.context.Context.root_block
        ctx.data_state.change(data_summary, ctx.data_state, self.data_summary,
                              show_progress="hidden", api_name=False)
        for name, btn in self.recipe_buttons:
            btn.click(handler(lambda n=name: self.apply_recipe(n)), None,
                      [ctx.data_state, *form.components], api_name=f"recipe_{_slug(name)}")
        self.start_btn.click(handler(form.named(self.start)), form.inputs, self.monitor_outputs,
                             api_name="start_training", concurrency_limit=None)
        self.stop_btn.click(handler(self.stop), self.view_state, self.log,
                            api_name="stop_training", concurrency_limit=None)
        self.export_btn.click(handler(form.named(self.export)), form.inputs,
                              [self.export_box, self.export_yaml, self.export_cmd,
                               self.export_file], api_name="export_config")
        self.timer.tick(handler(self.tick), self.view_state, self.monitor_outputs,
                        show_progress="hidden", concurrency_limit=None, api_name=False)
        self.refresh_btn.click(handler(self.refresh), None, [self.table, self.run_select],
                               api_name="list_runs", concurrency_limit=None)
        self.table.select(_selected_run, self.table, self.run_select, api_name=False)
        self.open_btn.click(handler(self.open_run), self.run_select,
                            [*self.monitor_outputs, self.run_config], api_name="run_status")
        self.use_btn.click(handler(self.use_config), self.run_select,
                           [ctx.data_state, *form.components], api_name="use_run_config")
        self.resume_btn.click(handler(self.resume), self.run_select, self.monitor_outputs,
                              api_name="resume_training")
        self.delete_btn.click(handler(self.ask_delete), self.run_select,
                              [self.confirm_row, self.confirm_text], api_name=False)
        self.cancel_btn.click(lambda: gr.update(visible=False), None, self.confirm_row,
                              api_name=False)
        self.confirm_btn.click(handler(self.delete), self.run_select,
                               [self.confirm_row, self.table, self.run_select,
                                self.run_config], api_name="delete_run")
        if demo is not None:
            demo.load(handler(self.on_load), self.browser_token, self.monitor_outputs,
                      js=OWNER_JS, api_name=False)
            demo.unload(self.on_unload)

    # -- handlers ----------------------------------------------------------------------

    def start(self, data, *values, request: gr.Request = None):
        config = self.form.to_config(data, *values)
        config, notes = apply_space_limits(self.ctx, config)
        notes += validate_config(config)
        owner, runs_dir = self.owner(request), self.runs_dir(request)
        run_dir = self.jobs.start(config, owner, runs_dir, origin=session_id(request))
        for note in notes:
            gr.Info(note)
        view = RunView(run_dir.name, str(run_dir))
        return self._show(view, owner, runs_dir, force_table=True)

    def stop(self, view: RunView | None, request: gr.Request = None) -> str:
        owner = self.owner(request)
        job = self.jobs.active(owner)
        run_id = job.run_id if job else (view.run_id if view else None)
        if run_id is None:
            raise UserError("Nothing is running in this session.")
        what = self.jobs.stop(owner, run_id, self.runs_dir(request),
                              allow_unowned=not self.ctx.space_mode)
        gr.Info(f"Run {run_id}: {what}.")
        lines = view.log_text() + "\n" if view and view.run_id == run_id else ""
        return lines + f"{what}: the run saves a checkpoint and ends after the current step."

    def tick(self, view: RunView | None, request: gr.Request = None):
        owner, runs_dir = self.owner(request), self.runs_dir(request)
        job = self.jobs.active(owner)
        if job and (view is None or (view.final and not view.pinned
                                     and view.run_id != job.run_id)):
            view = RunView(job.run_id, str(job.run_dir))  # follow the session's job
        if view is None:
            return [None, *[gr.skip()] * 4, gr.Timer(active=False), gr.skip(), gr.skip()]
        was = view.status
        changed = view.poll()
        view.queue_position = self.jobs.queue_position(owner)
        if not changed and view.status == "queued":
            changed = True  # the queue position may have moved
        return self._show(view, owner, runs_dir, force_table=view.status != was,
                          skip_unchanged=not changed)

    def _show(self, view: RunView, owner: str, runs_dir: str, force_table=False,
              skip_unchanged=False) -> list:
        """The monitor outputs for ``view`` (gr.skip() where nothing changed)."""
        live = not view.final or self.jobs.active(owner) is not None
        timer = gr.Timer(active=live)
        if view.final:  # the closing ticks: the table gets (and keeps) the run's final row
            force_table, skip_unchanged = True, False
        if skip_unchanged:
            return [view, *[gr.skip()] * 4, timer, gr.skip(), gr.skip()]
        table, select = (self._table_and_choices(runs_dir) if force_table
                         else (gr.skip(), gr.skip()))
        return [view, view.progress_html(),
                curves_figure(view.loss_frame(), "loss", "series"),
                curves_figure(view.metric_frame(), "value", "metric"),
                view.log_text(), timer, table, select]

    def _table_and_choices(self, runs_dir: str):
        df = runs_table(runs_dir)
        return df, gr.update(choices=list(df["run"]))

    def refresh(self, request: gr.Request = None):
        runs_dir = self.runs_dir(request)
        jobs.reconcile_orphans(runs_dir, self.jobs)
        return self._table_and_choices(runs_dir)

    def open_run(self, run_id: str, request: gr.Request = None):
        owner, runs_dir = self.owner(request), self.runs_dir(request)
        run_dir = runs.run_path(runs_dir, _need(run_id))
        view = RunView.open(run_dir, pinned=True)
        config_text = (run_dir / "config.yaml").read_text(encoding="utf-8") \
            if (run_dir / "config.yaml").exists() else "# no config.yaml"
        return [*self._show(view, owner, runs_dir),
                gr.Code(value=config_text, visible=True)]

    def use_config(self, run_id: str, request: gr.Request = None):
        run_dir = runs.run_path(self.runs_dir(request), _need(run_id))
        config = RunConfig.load(run_dir / "config.yaml")
        gr.Info(f"The form now holds the config of {run_id}.")
        return [config.data.to_dict(), *self.form.values_from(config)]

    def resume(self, run_id: str, request: gr.Request = None):
        owner, runs_dir = self.owner(request), self.runs_dir(request)
        run_dir = self.jobs.resume(owner, _need(run_id), runs_dir,
                                   origin=session_id(request))
        view = RunView.open(run_dir)  # keep the curves so far; new events append
        return self._show(view, owner, runs_dir, force_table=True)

    def ask_delete(self, run_id: str, request: gr.Request = None):
        runs.run_path(self.runs_dir(request), _need(run_id))
        return (gr.update(visible=True),
                f"Delete run **{run_id}** and all its files (checkpoints, model)? "
                "This cannot be undone.")

    def delete(self, run_id: str, request: gr.Request = None):
        runs_dir = self.runs_dir(request)
        run_dir = runs.run_path(runs_dir, _need(run_id))
        job = self.jobs.job(run_id)
        if job is not None and job.state != "done":
            raise UserError(f"Run {run_id} is queued, running or still saving.",
                            hint="Stop it (and let it finish saving), then delete it.")
        runs.delete_run(run_dir)
        gr.Info(f"Deleted run {run_id}.")
        table, select = self._table_and_choices(runs_dir)
        return gr.update(visible=False), table, select, gr.update(value="", visible=False)

    def export(self, data, *values, request: gr.Request = None):
        config = self.form.to_config(data, *values)
        folder = Path(tempfile.mkdtemp(prefix="ft-lab-export-"))
        path = config.save(folder / "run.yaml")
        command = ("Run it from a terminal (same code path as the Start button):\n\n"
                   "```bash\npython -m ft_core train --config run.yaml\n```")
        return gr.update(visible=True), config.to_yaml(), command, str(path)

    def apply_recipe(self, name: str):
        config = recipe_config(name)
        gr.Info(f"Recipe '{name}' loaded: check the form, then press Start.")
        return [config.data.to_dict(), *self.form.values_from(config)]

    def on_load(self, token: str | None, request: gr.Request = None):
        token = token if token and len(token) >= 16 else uuid.uuid4().hex
        self.owners[session_id(request)] = token
        runs_dir = self.runs_dir(request)
        jobs.reconcile_orphans(runs_dir, self.jobs)
        job = self.jobs.active(token)
        if job is None:
            table, select = self._table_and_choices(runs_dir)
            return [None, gr.skip(), gr.skip(), gr.skip(), gr.skip(),
                    gr.Timer(active=False), table, select]
        view = RunView.open(job.run_dir)  # re-attach: replay its events so far
        return self._show(view, token, runs_dir, force_table=True)

    def on_unload(self, request: gr.Request = None):
        sid = session_id(request)
        # Queued jobs of a closed page would start for nobody; running ones survive
        # (a reload re-attaches to them).
        self.jobs.cancel_queued(sid)
        self.owners.pop(sid, None)


# -- helpers (no state) -------------------------------------------------------------------

def build(ctx: AppContext) -> TrainTab:
    tab = TrainTab(ctx)
    tab.build()
    ctx.extras["train_tab"] = tab
    return tab


def _need(run_id: str | None) -> str:
    if not run_id:
        raise UserError("No run selected.", hint="Click a row of the runs table first.")
    return run_id


def _selected_run(table: pd.DataFrame, evt: gr.SelectData):
    row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
    try:
        return table.iloc[int(row)]["run"]
    except (IndexError, KeyError, ValueError, TypeError):
        return gr.skip()


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_")[:40]


def data_summary(data: dict | None) -> str:
    if not data:
        return ("**Dataset:** none prepared yet. Prepare one in the **Data** tab, or pick a "
                "recipe below.")
    d = data if isinstance(data, DataConfig) else DataConfig.from_dict(data)
    cols = [f"{role}: `{col}`" for role, col in (
        ("text", d.text_column), ("pair", d.text_pair_column), ("label", d.label_column),
        ("answer", d.response_column)) if col]
    extra = f" · at most {d.max_rows} rows per split" if d.max_rows else ""
    filters = f" · {len(d.filters)} filter(s)" if d.filters else ""
    return f"**Dataset:** `{d.source}` · {' · '.join(cols) or 'columns: auto'}{filters}{extra}"


def apply_space_limits(ctx: AppContext, config: RunConfig) -> tuple[RunConfig, list[str]]:
    """In Space mode, the config cut to the shared machine's limits (with why)."""
    settings = getattr(ctx, "space_settings", None)
    if settings is None or not settings.enabled:
        return config, []
    from ..space import apply_limits
    return apply_limits(config, settings)


def validate_config(config: RunConfig) -> list[str]:
    """The training core's cheap checks (data and model config, no weights)."""
    try:
        from .. import train as train_core
    except ModuleNotFoundError as exc:
        if exc.name == "ft_core.train":  # core not installed yet: the subprocess checks
            return []
        raise
    return list(train_core.validate(config) or [])


def recipe_items() -> list[tuple[str, str]]:
    """(name, description) of the training core's recipes, offline ones first."""
    if not importlib.util.find_spec("ft_core.recipes"):
        return []
    from .. import recipes
    items = sorted(recipes.RECIPES.values(), key=lambda r: r.online)
    return [(r.name, ("(online) " if r.online else "") + r.description) for r in items]


def recipe_config(name: str) -> RunConfig:
    from .. import recipes
    return recipes.recipe_config(name)
