"""The Playground tab (placeholder until its issue lands; the layout is final)."""

from __future__ import annotations

import gradio as gr

from .state import AppContext


def build(ctx: AppContext) -> None:
    gr.Markdown("## Playground\nComing soon.")
