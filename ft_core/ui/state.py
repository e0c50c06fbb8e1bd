"""What the tabs share: created once per Blocks, values are per browser session."""

from __future__ import annotations

from dataclasses import dataclass, field

import gradio as gr


@dataclass
class AppContext:
    """Components and settings every tab may read.

    data_state holds the prepared DataConfig as a dict (set by the Data tab, read by the
    Train tab): small and serialisable, so each browser session has its own.
    runs_dir is where run folders live (per-session sub-folders in Space mode).
    """

    runs_dir: str = "runs"
    space_mode: bool = False
    data_state: gr.State | None = None
    extras: dict = field(default_factory=dict)
