"""Plotly figures for the Data tab, drawn from the small tables ft_core.data computes."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

_LAYOUT = {"height": 280, "margin": {"l": 40, "r": 10, "t": 30, "b": 40},
           "bargap": 0.05, "showlegend": False}


def bar_figure(df: pd.DataFrame, x: str, y: str, title: str = "") -> go.Figure:
    fig = go.Figure(go.Bar(x=df[x].astype(str), y=df[y], text=df[y], textposition="auto"))
    fig.update_layout(title=title, xaxis_title=x, yaxis_title="rows", **_LAYOUT)
    return fig


def histogram_figure(df: pd.DataFrame, unit: str, marker: int | None = None) -> go.Figure:
    """Bars from explore.histogram(); an optional dashed line (e.g. at max_length)."""
    width = (df["start"].iloc[1] - df["start"].iloc[0]) if len(df) > 1 else 1
    fig = go.Figure(go.Bar(x=df["start"] + width / 2, y=df["count"], width=width,
                           hovertext=df["bin"], hoverinfo="text+y"))
    fig.update_layout(xaxis_title=unit, yaxis_title="rows", **_LAYOUT)
    if marker is not None:
        fig.add_vline(x=marker, line_dash="dash", line_color="crimson",
                      annotation_text=f"max_length {marker}")
    return fig


def split_figure(counts: dict[str, dict[str, int]]) -> go.Figure:
    """Grouped bars: rows per label in each split."""
    fig = go.Figure()
    for split, per_label in counts.items():
        fig.add_bar(name=split, x=list(per_label), y=list(per_label.values()))
    layout = {**_LAYOUT, "showlegend": True}
    fig.update_layout(barmode="group", xaxis_title="label", yaxis_title="rows", **layout)
    return fig
