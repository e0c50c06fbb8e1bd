"""Which process is this: the one place that creates accelerate's process state.

Under ``accelerate launch`` or ``torchrun`` on GPUs, accelerate joins the processes over
NCCL by itself. On a machine without CUDA it joins them (over gloo) only when told
``cpu=True``; otherwise every process would believe it is the only one, train alone and
write a run folder of its own. So a multi-process launch without CUDA asks for CPU.
"""

from __future__ import annotations

import os


def distributed_on_cpu() -> bool:
    """Several processes were launched and there is no CUDA device to join them on."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    import torch
    return not torch.cuda.is_available()


def process_state():
    from accelerate import PartialState
    return PartialState(cpu=distributed_on_cpu())


def is_main_process() -> bool:
    try:
        return process_state().is_main_process
    except Exception:  # noqa: BLE001 - no accelerate state: a single process
        return True
