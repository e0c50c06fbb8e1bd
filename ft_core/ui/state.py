"""What the tabs share: created once per Blocks, values are per browser session."""

from __future__ import annotations

from dataclasses import dataclass, field

import gradio as gr

from ..space import SpaceSettings, session_runs_dir
from .common import session_id


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
    space_settings: SpaceSettings = field(default_factory=SpaceSettings)

    def runs_dir_for(self, request: gr.Request | None) -> str:
        """This visitor's runs folder: runs_dir/sessions/<id> in Space mode, else runs_dir.

        <id> is the browser's job-owner token when the Train tab registered one (stable
        across page reloads), else the Gradio session."""
        owner = self.extras.get("job_owner")
        visitor = owner(request) if owner else session_id(request)
        return str(session_runs_dir(self.runs_dir, visitor, self.space_settings))
