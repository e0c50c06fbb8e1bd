"""Run folders: durable, plain files (see docs/ARCHITECTURE.md for the layout).

A run folder is the only truth about a run: the UI, the CLI and the Compare tab read it,
the training process (possibly a subprocess) writes it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from datetime import datetime
from pathlib import Path

from .config import RunConfig
from .errors import UserError

STATUSES = ("queued", "running", "finished", "stopped", "failed")
STOP_FILE = "STOP"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:40] or "run"


def create_run(config: RunConfig, runs_dir: str | Path | None = None) -> Path:
    """Make runs/<id>/ with config.yaml and run.json (status 'queued')."""
    root = Path(runs_dir or config.runs_dir)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    name = _slug(config.name or Path(config.model.name_or_path).name.split(" ")[0])
    try:
        root.mkdir(parents=True, exist_ok=True)
        run_dir = root / f"{stamp}-{name}"
        n = 1
        while run_dir.exists():  # two runs in the same second
            n += 1
            run_dir = root / f"{stamp}-{name}-{n}"
        run_dir.mkdir()
        init_run_folder(config, run_dir)
    except OSError as exc:
        raise UserError(f"Cannot write the run folder under {root}: {exc.strerror or exc}.",
                        hint="Check the disk has space and the folder is writable.") from None
    return run_dir


def init_run_folder(config: RunConfig, run_dir: str | Path) -> Path:
    """Give a folder named by the caller (CLI --run-dir, a search trial) what every run
    folder has: config.yaml and run.json (status 'queued'). Existing files are kept."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if not (run_dir / "config.yaml").exists():
        config.save(run_dir / "config.yaml")
    if not (run_dir / "run.json").exists():
        write_run_info(run_dir, id=run_dir.name, status="queued", task=config.model.task,
                       base_model=config.model.name_or_path, method=config.model.method,
                       dataset=config.data.source, created=time.time(), name=config.name)
    return run_dir


def read_run_info(run_dir: str | Path) -> dict:
    path = Path(run_dir) / "run.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {"id": Path(run_dir).name, "status": "unknown"}


def write_run_info(run_dir: str | Path, **fields) -> dict:
    """Merge fields into run.json atomically (write a temp file, then rename)."""
    run_dir = Path(run_dir)
    info = read_run_info(run_dir) if (run_dir / "run.json").exists() else {}
    info.update(fields)
    tmp = run_dir / "run.json.tmp"
    tmp.write_text(json.dumps(info, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, run_dir / "run.json")
    return info


def append_event(run_dir: str | Path, type_: str, **fields) -> dict:
    """One JSON line in events.jsonl. Lines are flushed at once so a tailing UI sees them."""
    event = {"t": time.time(), "type": type_, **fields}
    with open(Path(run_dir) / "events.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(event, default=str) + "\n")
    return event


def read_events(run_dir: str | Path, offset: int = 0) -> tuple[list[dict], int]:
    """Events written since byte ``offset``, and the new offset (only whole lines)."""
    path = Path(run_dir) / "events.jsonl"
    if not path.exists():
        return [], offset
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read()
    end = data.rfind(b"\n") + 1  # a line still being written waits for the next read
    events = []
    for line in data[:end].splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events, offset + end


def list_runs(runs_dir: str | Path) -> list[dict]:
    """run.json of every run, newest first."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    infos = [dict(read_run_info(d), path=str(d)) for d in root.iterdir()
             if (d / "run.json").exists()]
    return sorted(infos, key=lambda i: i.get("created", 0), reverse=True)


def run_path(runs_dir: str | Path, run_id: str) -> Path:
    """runs_dir/run_id, refusing ids that would escape the runs folder."""
    root = Path(runs_dir).resolve()
    path = (root / run_id).resolve()
    if path.parent != root or not (path / "run.json").exists():
        raise UserError(f"No run named {run_id!r}.", hint="Pick one from the runs table.")
    return path


def request_stop(run_dir: str | Path) -> None:
    (Path(run_dir) / STOP_FILE).touch()


def stop_requested(run_dir: str | Path) -> bool:
    return (Path(run_dir) / STOP_FILE).exists()


def clear_stop(run_dir: str | Path) -> None:
    (Path(run_dir) / STOP_FILE).unlink(missing_ok=True)


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest *complete* checkpoint. The Trainer writes trainer_state.json last (after
    the weights, optimizer, scheduler and RNG state), so a folder without it is one a
    crash or kill interrupted: resuming skips it and uses the one before."""
    ckpts = [p for p in (Path(run_dir) / "checkpoints").glob("checkpoint-*")
             if p.name.split("-")[-1].isdigit() and (p / "trainer_state.json").is_file()]
    ckpts.sort(key=lambda p: int(p.name.split("-")[-1]))
    return ckpts[-1] if ckpts else None


def delete_run(run_dir: str | Path) -> None:
    info = read_run_info(run_dir)
    if info.get("status") == "running":
        raise UserError("This run is still running.", hint="Stop it first, then delete it.")
    shutil.rmtree(run_dir)
