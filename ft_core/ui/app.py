"""Build the Blocks: a header, then the Data, Train, Compare and Playground tabs."""

from __future__ import annotations

import gradio as gr

from ..jobs import JobManager
from ..models import device_info
from ..space import SpaceSettings, maybe_cleanup
from . import compare_tab, data_tab, playground_tab, train_tab
from .state import AppContext

CSS = """
.ft-small {font-size: 0.85em; opacity: 0.8}
"""


def _header() -> str:
    info = device_info()
    memory = f", {info['memory_gb']} GiB" if info.get("memory_gb") else ""
    return (f"# Fine-Tuning Lab\nLoad data, fine-tune a Hugging Face model, see what changed. "
            f"<span class='ft-small'>Device: **{info['name']}**{memory}</span>")


def _space_banner(settings: SpaceSettings) -> None:
    """Shared-demo notice: the limits in force and a Duplicate Space button."""
    limits = "".join(f"\n- {item}" for item in settings.limits_text())
    gr.Markdown(f"**Shared demo (Space mode).** Limits in force:{limits}\n\n"
                "Duplicate this Space to train without them on your own hardware.",
                elem_id="space-banner")
    gr.DuplicateButton(value="Duplicate this Space", elem_id="space-duplicate")


def _sweep(runs_dir: str, settings: SpaceSettings) -> None:
    maybe_cleanup(runs_dir, settings)


def build_app(runs_dir: str = "runs", space_mode: bool = False) -> gr.Blocks:
    # FT_LAB_SPACE_MODE / SPACE_ID turn Space mode on as well as the flag.
    settings = SpaceSettings.from_env(space_mode=space_mode or None)
    ctx = AppContext(runs_dir=runs_dir, space_mode=settings.enabled, space_settings=settings)
    with gr.Blocks(title="Fine-Tuning Lab") as demo:
        gr.Markdown(_header())
        if settings.enabled:
            _space_banner(settings)
            # One shared job queue sized for the Space's GPU (the Train tab uses it).
            ctx.extras.setdefault("jobs", JobManager(max_concurrent=settings.max_concurrent_jobs))
            # Old sessions' runs are swept on page loads (at most every 10 minutes).
            demo.load(lambda: _sweep(runs_dir, settings), None, None, queue=False)
        ctx.data_state = gr.State(None)
        with gr.Tabs():
            with gr.Tab("Data", id="data"):
                data_tab.build(ctx)
            with gr.Tab("Train", id="train"):
                train_tab.build(ctx)
            with gr.Tab("Compare", id="compare"):
                compare_tab.build(ctx)
            with gr.Tab("Playground", id="playground"):
                playground_tab.build(ctx)
    demo.ft_context = ctx  # tests and app.py reach the context through the Blocks
    return demo


def launch_kwargs(space_settings: SpaceSettings | None = None) -> dict:
    """Arguments for demo.launch shared by app.py and tests. With Space settings in force,
    the server itself refuses uploads above the limit (before they reach the disk)."""
    kwargs = {"css": CSS, "theme": gr.themes.Soft()}
    if space_settings is not None and space_settings.enabled:
        kwargs["max_file_size"] = int(space_settings.max_upload_mb * 2**20)
    return kwargs
