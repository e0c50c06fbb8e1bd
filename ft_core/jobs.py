"""Background jobs: each training is a subprocess running ``python -m ft_core train``.

A subprocess is the sturdiest shape for long work: it cannot freeze the web server, a
crash stays inside it, Stop can fall back to killing its process group, GPU memory is
freed when it exits, and it runs exactly what the CLI runs. The run folder is the only
channel back: the child writes run.json and events.jsonl, the UI tails them.

A ``JobManager`` (one per app) keeps a registry of jobs keyed by session, so one
browser's Stop never touches another's run, and a FIFO queue behind a concurrency limit
(``max_concurrent``), which Space mode uses to share one machine. A watcher thread per
process notices when it ends: a child that dies without writing a final status (killed,
out of memory, import error) gets its run marked 'failed' with the last lines of its log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from . import runs
from .config import RunConfig
from .errors import UserError

FINAL = ("finished", "stopped", "failed", "pruned")
LOG_FILE = "process.log"


@dataclass
class Job:
    run_id: str
    run_dir: Path
    session: str  # owner: only this session sees and stops it
    resume: bool = False
    origin: str | None = None  # browser session that queued it (for demo.unload)
    command: str = "train"
    state: str = "queued"  # queued -> running -> done
    proc: subprocess.Popen | None = None
    queued_at: float = field(default_factory=time.time)
    returncode: int | None = None


def tail(path: str | Path, lines: int = 20, max_bytes: int = 65536) -> str:
    """The last lines of a text file (the process log), '' when there is none."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            data = f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])


def default_max_concurrent() -> int:
    """FT_LAB_MAX_JOBS, else one job on a GPU (memory) and two on a CPU."""
    env = os.environ.get("FT_LAB_MAX_JOBS")
    if env:
        return max(1, int(env))
    from .models import device_info
    return 1 if device_info()["device"] == "cuda" else 2


class JobManager:
    """Start, queue, stop, resume and watch training subprocesses, per session."""

    def __init__(self, max_concurrent: int | None = None, launcher: list[str] | None = None):
        self.max_concurrent = max_concurrent or default_max_concurrent()
        # What runs a job: [python, -m, ft_core] + [command, --config, ..., --run-dir, ...]
        self.launcher = launcher or [sys.executable, "-m", "ft_core"]
        self._jobs: dict[str, Job] = {}  # run_id -> job (running, queued, or done)
        self._queue: deque[str] = deque()
        self._lock = threading.RLock()

    # -- what a session sees -----------------------------------------------------------

    def active(self, session: str) -> Job | None:
        """The session's queued or running job, if any."""
        with self._lock:
            for job in self._jobs.values():
                if job.session == session and job.state != "done":
                    return job
        return None

    def job(self, run_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(run_id)

    def owner(self, run_id: str) -> str | None:
        with self._lock:
            job = self._jobs.get(run_id)
            return job.session if job else None

    def queue_position(self, session: str) -> int | None:
        """1 for the next job to start; None when the session has nothing queued."""
        with self._lock:
            for i, run_id in enumerate(self._queue, start=1):
                if self._jobs[run_id].session == session:
                    return i
        return None

    def running_count(self) -> int:
        with self._lock:
            return sum(j.state == "running" for j in self._jobs.values())

    # -- actions -------------------------------------------------------------------------

    def start(self, config: RunConfig, session: str, runs_dir: str | Path,
              origin: str | None = None, command: str = "train") -> Path:
        """Create the run folder and start (or queue) its job; returns the run folder."""
        with self._lock:
            self._refuse_second(session)
            config.runs_dir = str(runs_dir)
            run_dir = runs.create_run(config, runs_dir).resolve()
            job = Job(run_dir.name, run_dir, session, origin=origin, command=command)
            self._enqueue(job)
        return run_dir

    def resume(self, session: str, run_id: str, runs_dir: str | Path,
               origin: str | None = None) -> Path:
        """Continue a stopped (or failed) run from its latest checkpoint."""
        return self._requeue(session, run_id, runs_dir, ("stopped", "failed"),
                             "only a stopped or failed run can be resumed.",
                             resume=True, origin=origin)

    def rerun(self, session: str, run_id: str, runs_dir: str | Path, command: str,
              origin: str | None = None) -> Path:
        """Run a command again in an existing run folder with its config.yaml (search
        "Continue": the same folder and study get more trials). Any final status is fine."""
        return self._requeue(session, run_id, runs_dir, FINAL, "wait for it to end first.",
                             origin=origin, command=command)

    def _requeue(self, session: str, run_id: str, runs_dir: str | Path, allowed,
                 refusal: str, **job_kw) -> Path:
        """Queue a new job in an existing run folder owned by this session (or by none)."""
        with self._lock:
            self._refuse_second(session)
            run_dir = runs.run_path(runs_dir, run_id)
            other = self._jobs.get(run_id)
            if other and other.session != session:
                raise UserError("That run was started by another session.",
                                hint="Only the session that started a run can continue it.")
            status = runs.read_run_info(run_dir).get("status")
            if status not in allowed:
                raise UserError(f"Run {run_id} is {status}: {refusal}")
            runs.clear_stop(run_dir)
            runs.write_run_info(run_dir, status="queued", error=None)
            self._enqueue(Job(run_id, run_dir, session, **job_kw))
        return run_dir

    def stop(self, session: str, run_id: str, runs_dir: str | Path | None = None, *,
             allow_unowned: bool = False) -> str:
        """Ask the session's job to stop: a queued job is dropped, a running one gets the
        STOP file (the trainer saves a checkpoint and ends). Returns what happened."""
        with self._lock:
            job = self._jobs.get(run_id)
            if job is None or job.state == "done":
                return self._stop_unregistered(run_id, job, runs_dir, allow_unowned)
            if job.session != session:
                raise UserError("That run belongs to another session.",
                                hint="You can only stop runs started from this page.")
            if job.state == "queued":
                self._queue.remove(run_id)
                job.state = "done"
                runs.write_run_info(job.run_dir, status="stopped", finished=time.time(),
                                    error="Stopped while waiting in the queue.")
                runs.append_event(job.run_dir, "status", status="stopped",
                                  message="Stopped while waiting in the queue.")
                return "dropped from the queue"
            runs.request_stop(job.run_dir)
            return "stop requested"

    def kill(self, session: str, run_id: str) -> None:
        """Terminate a job's whole process group (for a run that ignores Stop)."""
        with self._lock:
            job = self._jobs.get(run_id)
            if job is None or job.session != session or job.proc is None:
                raise UserError("No running job of yours with that id.")
            proc = job.proc
        _terminate(proc)

    def cancel_queued(self, origin: str) -> list[str]:
        """Drop the queued jobs a closed browser session left behind (demo.unload).
        Running jobs survive: a reload re-attaches to them."""
        with self._lock:
            ids = [r for r in self._queue if self._jobs[r].origin == origin]
        for run_id in ids:
            self.stop(self._jobs[run_id].session, run_id)
        return ids

    def wait(self, run_id: str, timeout: float | None = None) -> str:
        """Block until the job is done (tests, CLI use); returns the run's status."""
        deadline = None if timeout is None else time.monotonic() + timeout
        job = self._jobs[run_id]
        while True:
            with self._lock:
                if job.state == "done":
                    break
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {run_id} still {job.state}")
            time.sleep(0.1)
        return runs.read_run_info(job.run_dir).get("status", "unknown")

    def shutdown(self, kill: bool = True) -> None:
        """Drop the queue and (by default) terminate running jobs (tests, app exit)."""
        with self._lock:
            for run_id in list(self._queue):
                self.stop(self._jobs[run_id].session, run_id)
            procs = [j.proc for j in self._jobs.values() if j.proc and j.state == "running"]
        if kill:
            for proc in procs:
                _terminate(proc)

    # -- mechanics -------------------------------------------------------------------------

    def _refuse_second(self, session: str) -> None:
        current = self.active(session)
        if current is not None:
            status = runs.read_run_info(current.run_dir).get("status")
            where = ("is waiting in the queue" if current.state == "queued" else
                     "is finishing (saving its model)" if status in FINAL else
                     "is still running")
            raise UserError(f"Run {current.run_id} {where}.",
                            hint="Stop it (or wait for it to finish) before starting another.")

    def _stop_unregistered(self, run_id: str, job: Job | None, runs_dir, allow_unowned: bool
                           ) -> str:
        if job is not None:
            return "already ended"
        if not allow_unowned or runs_dir is None:
            raise UserError(f"Run {run_id} was not started from this session.",
                            hint="You can only stop runs started from this page.")
        # A run started elsewhere (the CLI, an earlier app process): the STOP file works
        # for it too, as long as its folder is in reach.
        run_dir = runs.run_path(runs_dir, run_id)
        if runs.read_run_info(run_dir).get("status") != "running":
            return "not running"
        runs.request_stop(run_dir)
        return "stop requested"

    def _enqueue(self, job: Job) -> None:
        self._jobs[job.run_id] = job
        self._queue.append(job.run_id)
        self._fill_slots()

    def _fill_slots(self) -> None:
        with self._lock:
            while self._queue and self.running_count() < self.max_concurrent:
                job = self._jobs[self._queue.popleft()]
                try:
                    self._spawn(job)
                except UserError as exc:
                    job.state = "done"
                    _mark_failed(job.run_dir, str(exc))

    def _spawn(self, job: Job) -> None:
        args = [*self.launcher, job.command, "--config", str(job.run_dir / "config.yaml"),
                "--run-dir", str(job.run_dir)]
        if job.resume:
            args.append("--resume")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        try:
            log = open(job.run_dir / LOG_FILE, "ab")
            proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=env,
                                    start_new_session=True)  # own process group: killable
        except OSError as exc:
            raise UserError(f"Could not start the training process: {exc}.") from None
        finally:
            if "log" in locals():
                log.close()  # the child holds its own handle
        job.proc, job.state = proc, "running"
        runs.write_run_info(job.run_dir, pid=proc.pid)
        threading.Thread(target=self._watch, args=(job,), daemon=True,
                         name=f"job-{job.run_id}").start()

    def _watch(self, job: Job) -> None:
        """Wait for the process; fix up a run that ended without a final status."""
        rc = job.proc.wait()
        info = runs.read_run_info(job.run_dir)
        if info.get("status") not in FINAL:
            if rc == 0 and runs.stop_requested(job.run_dir):
                runs.write_run_info(job.run_dir, status="stopped", finished=time.time())
            else:
                why = _death_reason(rc)
                last = tail(job.run_dir / LOG_FILE, 12)
                _mark_failed(job.run_dir, f"The training process ended {why} without "
                             f"reporting a result." + (f" Last log lines:\n{last}" if last
                                                       else ""))
        with self._lock:
            job.returncode, job.state = rc, "done"
        self._fill_slots()


def _death_reason(rc: int) -> str:
    if rc < 0:
        try:
            return f"by signal {signal.Signals(-rc).name}"
        except ValueError:
            return f"by signal {-rc}"
    return f"with exit code {rc}"


def _mark_failed(run_dir: Path, error: str) -> None:
    try:
        runs.write_run_info(run_dir, status="failed", error=error, finished=time.time())
        runs.append_event(run_dir, "status", status="failed", message=error)
    except OSError:  # the folder went away (deleted, disk gone): nothing left to mark
        pass


def _terminate(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM the process group, SIGKILL it if it lingers."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True


def reconcile_orphans(runs_dir: str | Path, manager: JobManager | None = None,
                      grace_s: float = 120.0) -> list[str]:
    """Runs that say 'running' or 'queued' but have no live process (the app or machine
    restarted while they ran) are marked failed, so the table never shows a ghost."""
    fixed = []
    for info in runs.list_runs(runs_dir):
        if info.get("status") not in ("running", "queued"):
            continue
        if manager is not None and manager.owner(info.get("id", "")) is not None:
            continue  # ours: the watcher handles it
        if info.get("status") == "running" and (not info.get("pid") or
                                                 pid_alive(info.get("pid"))):
            continue  # started elsewhere (the CLI, in-process) and still going, or unknown
        if info.get("status") == "queued" and \
                time.time() - float(info.get("created") or 0) < grace_s:
            continue  # just created by another process that has not started yet
        _mark_failed(Path(info["path"]), "The run was interrupted (its process is gone). "
                     "Resume it to continue from its last checkpoint.")
        fixed.append(info.get("id"))
    return fixed
