"""Plotly figures of a run's curves (loss; eval metrics), from RunView's small frames.

Plotly through gr.Plot, not gr.LinePlot: Gradio 6.31's LinePlot keeps the chart it built
from its first value, so a curve that appears later (the training loss after the base
model's eval loss, a run started after an empty chart) was never drawn (checked in
chromium)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

_LAYOUT = {"height": 280, "margin": {"l": 50, "r": 10, "t": 20, "b": 40},
           "legend": {"orientation": "h", "y": -0.25}, "hovermode": "x unified"}


def curves_figure(frame: pd.DataFrame, y: str, series: str) -> go.Figure | None:
    """One line per value of ``series`` (step on x); None while there is no point yet."""
    if frame is None or frame.empty:
        return None
    fig = go.Figure()
    for name, part in frame.groupby(series, sort=False):
        part = part.sort_values("step")
        # Evaluations are few and far apart: show their points, not just a line.
        mode = "lines" if len(part) > 30 else "lines+markers"
        fig.add_scatter(x=part["step"], y=part[y], mode=mode, name=str(name))
    fig.update_layout(xaxis_title="step", yaxis_title=y, **_LAYOUT)
    return fig
