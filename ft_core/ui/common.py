"""Glue shared by the tabs: turn core errors into readable messages, never tracebacks."""

from __future__ import annotations

import functools
import inspect
import logging

import gradio as gr

from ..errors import UserError

log = logging.getLogger("ft_lab.ui")


def _to_gr_error(exc: Exception) -> gr.Error:
    if isinstance(exc, UserError):
        return gr.Error(str(exc), title="Please check")
    if isinstance(exc, gr.Error):
        return exc
    if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower():
        return gr.Error("Ran out of memory. Try a smaller batch size, a shorter max length, "
                        "gradient checkpointing or LoRA.", title="Out of memory")
    log.exception("unexpected error in a UI handler")
    return gr.Error(f"Something went wrong: {type(exc).__name__}: {str(exc)[:300]}. "
                    "The app is still running; the server log has the details.",
                    title="Unexpected error")


def handler(fn):
    """Wrap a UI handler (function or generator) so errors show as messages."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen_wrapper(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - every error becomes a message
                raise _to_gr_error(exc) from None
        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001
            raise _to_gr_error(exc) from None
    return wrapper


def session_id(request: gr.Request | None) -> str:
    """Stable id for the browser session (or API client) making the request."""
    if request is None:
        return "local"
    return getattr(request, "session_hash", None) or "local"
