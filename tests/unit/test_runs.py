"""Run folders: created with config and status, events tailed by offset, ids confined."""

import pytest

from ft_core import runs
from ft_core.config import RunConfig
from ft_core.errors import UserError


def test_create_and_list(tmp_path):
    run_dir = runs.create_run(RunConfig(name="demo"), tmp_path)
    assert (run_dir / "config.yaml").exists()
    assert runs.read_run_info(run_dir)["status"] == "queued"
    assert [r["id"] for r in runs.list_runs(tmp_path)] == [run_dir.name]
    assert RunConfig.load(run_dir / "config.yaml").name == "demo"


def test_events_are_read_incrementally(tmp_path):
    runs.append_event(tmp_path, "log", step=1, loss=2.0)
    events, offset = runs.read_events(tmp_path)
    assert [e["step"] for e in events] == [1]
    with open(tmp_path / "events.jsonl", "a") as f:
        f.write('{"type": "log", "step": 2')  # half-written line: not read yet
    events, offset2 = runs.read_events(tmp_path, offset)
    assert events == [] and offset2 == offset
    with open(tmp_path / "events.jsonl", "a") as f:
        f.write("}\n")
    events, _ = runs.read_events(tmp_path, offset)
    assert events[0]["step"] == 2


def test_run_path_refuses_escape(tmp_path):
    runs.create_run(RunConfig(), tmp_path)
    with pytest.raises(UserError):
        runs.run_path(tmp_path, "../etc")


def test_unwritable_runs_dir_is_a_user_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UserError, match="Cannot write the run folder"):
        runs.create_run(RunConfig(), blocker / "runs")
