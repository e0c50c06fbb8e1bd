"""The Gradio front end: wires widgets to ft_core functions, does no work itself."""

from .app import build_app

__all__ = ["build_app"]
