"""Job mechanics with real subprocesses: start, queue, stop, resume, death, isolation.

The child here is a small stand-in for ``python -m ft_core train`` that speaks the same
run-folder protocol (run.json status, events.jsonl, the STOP file) in milliseconds, so
these tests check the job runner itself; the real CLI is driven by the e2e tests.
"""

import sys
import textwrap
import time

import pytest

from ft_core import jobs, runs
from ft_core.config import RunConfig
from ft_core.errors import UserError

FAKE_CLI = textwrap.dedent('''
    import argparse, os, sys, time
    sys.path.insert(0, {root!r})
    from ft_core import runs
    from ft_core.config import RunConfig
    p = argparse.ArgumentParser()
    p.add_argument("command"); p.add_argument("--config"); p.add_argument("--run-dir")
    p.add_argument("--resume", action="store_true")
    a = p.parse_args()
    cfg = RunConfig.load(a.config)
    mode = cfg.name.split("-")[0]
    print("fake trainer starting", mode, "resume" if a.resume else "", flush=True)
    if mode == "crash":
        print("Traceback: something exploded", flush=True)
        raise SystemExit(3)
    if mode == "silent":  # exits 0 without writing any status
        raise SystemExit(0)
    runs.write_run_info(a.run_dir, status="running", pid=os.getpid(), resumed=a.resume)
    runs.append_event(a.run_dir, "start", total_steps=1000)
    for step in range(1, 1000):
        if runs.stop_requested(a.run_dir):
            runs.write_run_info(a.run_dir, status="stopped")
            runs.append_event(a.run_dir, "status", status="stopped", message="stopped")
            raise SystemExit(0)
        runs.append_event(a.run_dir, "log", step=step, loss=1.0 / step)
        if mode == "quick" and step == 3:
            break
        time.sleep(0.02)
    runs.write_run_info(a.run_dir, status="finished", best_metric=0.5)
''')


@pytest.fixture()
def manager(tmp_path):
    from tests.conftest import ROOT
    script = tmp_path / "fake_cli.py"
    script.write_text(FAKE_CLI.format(root=str(ROOT)))
    m = jobs.JobManager(max_concurrent=1, launcher=[sys.executable, str(script)])
    yield m
    m.shutdown(kill=True)


def cfg(name):
    return RunConfig(name=name)


def wait_status(run_dir, status, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if runs.read_run_info(run_dir).get("status") == status:
            return
        time.sleep(0.05)
    raise AssertionError(f"{run_dir.name} is {runs.read_run_info(run_dir).get('status')}, "
                         f"expected {status}")


def test_start_runs_to_finish_and_logs(manager, tmp_path):
    run_dir = manager.start(cfg("quick"), "s1", tmp_path / "runs")
    assert manager.wait(run_dir.name, timeout=60) == "finished"
    assert "fake trainer starting quick" in (run_dir / "process.log").read_text()
    events, _ = runs.read_events(run_dir)
    assert [e["step"] for e in events if e["type"] == "log"] == [1, 2, 3]
    assert manager.active("s1") is None


def test_second_start_in_same_session_refused(manager, tmp_path):
    first = manager.start(cfg("slow"), "s1", tmp_path / "runs")
    with pytest.raises(UserError, match="still running|waiting"):
        manager.start(cfg("slow"), "s1", tmp_path / "runs")
    assert manager.active("s1").run_id == first.name
    assert len(runs.list_runs(tmp_path / "runs")) == 1  # the refused one left no folder


def test_stop_ends_run_as_stopped(manager, tmp_path):
    run_dir = manager.start(cfg("slow"), "s1", tmp_path / "runs")
    wait_status(run_dir, "running")
    assert manager.stop("s1", run_dir.name) == "stop requested"
    assert manager.wait(run_dir.name, timeout=60) == "stopped"


def test_sessions_cannot_stop_each_other(manager, tmp_path):
    manager.max_concurrent = 2
    a = manager.start(cfg("slow"), "alice", tmp_path / "runs")
    with pytest.raises(UserError, match="another session"):
        manager.stop("bob", a.name)
    assert manager.active("bob") is None
    with pytest.raises(UserError, match="not started from this session"):
        manager.stop("bob", "no-such-run")
    assert not runs.stop_requested(a)


def test_queue_is_fifo_and_starts_when_slot_frees(manager, tmp_path):
    a = manager.start(cfg("slow"), "a", tmp_path / "runs")
    b = manager.start(cfg("quick"), "b", tmp_path / "runs")
    c = manager.start(cfg("quick"), "c", tmp_path / "runs")
    assert manager.queue_position("a") is None
    assert (manager.queue_position("b"), manager.queue_position("c")) == (1, 2)
    assert runs.read_run_info(b)["status"] == "queued"
    time.sleep(0.5)
    assert not (b / "process.log").exists()  # waits for the slot
    manager.stop("a", a.name)
    assert manager.wait(b.name, timeout=60) == "finished"
    assert manager.wait(c.name, timeout=60) == "finished"
    first_b = runs.read_events(b)[0][0]["t"]
    first_c = runs.read_events(c)[0][0]["t"]
    assert first_b < first_c


def test_stop_queued_job_and_unload_cleanup(manager, tmp_path):
    manager.start(cfg("slow"), "a", tmp_path / "runs")
    b = manager.start(cfg("quick"), "b", tmp_path / "runs", origin="tab-b")
    c = manager.start(cfg("quick"), "c", tmp_path / "runs", origin="tab-c")
    assert manager.stop("b", b.name) == "dropped from the queue"
    assert runs.read_run_info(b)["status"] == "stopped"
    assert manager.queue_position("c") == 1
    assert manager.cancel_queued("tab-c") == [c.name]
    assert manager.active("c") is None and runs.read_run_info(c)["status"] == "stopped"
    assert manager.active("a").state == "running"  # unload never touches a running job


def test_dead_process_marked_failed_with_log(manager, tmp_path):
    run_dir = manager.start(cfg("crash"), "s1", tmp_path / "runs")
    assert manager.wait(run_dir.name, timeout=60) == "failed"
    info = runs.read_run_info(run_dir)
    assert "exit code 3" in info["error"] and "something exploded" in info["error"]
    silent = manager.start(cfg("silent"), "s1", tmp_path / "runs")
    assert manager.wait(silent.name, timeout=60) == "failed"


def test_killed_process_marked_failed(manager, tmp_path):
    run_dir = manager.start(cfg("slow"), "s1", tmp_path / "runs")
    wait_status(run_dir, "running")
    manager.kill("s1", run_dir.name)
    assert manager.wait(run_dir.name, timeout=60) == "failed"
    assert "signal SIGTERM" in runs.read_run_info(run_dir)["error"]


def test_resume_stopped_run(manager, tmp_path):
    run_dir = manager.start(cfg("slow"), "s1", tmp_path / "runs")
    wait_status(run_dir, "running")
    with pytest.raises(UserError, match="still running"):  # its own session is busy
        manager.resume("s1", run_dir.name, tmp_path / "runs")
    with pytest.raises(UserError, match="another session"):
        manager.resume("s2", run_dir.name, tmp_path / "runs")
    manager.stop("s1", run_dir.name)
    manager.wait(run_dir.name, timeout=60)
    with pytest.raises(UserError, match="another session"):
        manager.resume("s2", run_dir.name, tmp_path / "runs")
    manager.resume("s1", run_dir.name, tmp_path / "runs")
    assert not runs.stop_requested(run_dir)
    wait_status(run_dir, "running")
    assert runs.read_run_info(run_dir)["resumed"] is True
    assert "resume" in (run_dir / "process.log").read_text()


def test_disk_write_failure_is_a_user_error(manager, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the runs folder should be")
    with pytest.raises(UserError, match="Cannot write the run folder"):
        manager.start(cfg("quick"), "s1", blocker)
    assert manager.active("s1") is None


def test_orphaned_running_run_is_marked_failed(tmp_path):
    run_dir = runs.create_run(cfg("x"), tmp_path)
    runs.write_run_info(run_dir, status="running", pid=2**22 + 12345)  # no such process
    assert jobs.reconcile_orphans(tmp_path) == [run_dir.name]
    assert runs.read_run_info(run_dir)["status"] == "failed"


def test_tail_returns_last_lines(tmp_path):
    f = tmp_path / "log.txt"
    f.write_text("\n".join(f"line {i}" for i in range(100)))
    assert jobs.tail(f, 2) == "line 98\nline 99"
    assert jobs.tail(tmp_path / "missing") == ""
