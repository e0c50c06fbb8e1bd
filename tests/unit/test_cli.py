"""`python -m ft_core ...`: the same code path as the UI, as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ft_core import runs
from ft_core.cli import build_parser, main
from ft_core.config import RunConfig
from ft_core.recipes import RECIPES, recipe_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_cli(*args, timeout=600):
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "ft_core", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def tiny_csv_config(tmp_path, model_dir, **train) -> RunConfig:
    rows = ["text,label"] + [f"{'good great' if i % 2 else 'bad awful'} thing {i},"
                             f"{'pos' if i % 2 else 'neg'}" for i in range(40)]
    csv = tmp_path / "data.csv"
    csv.write_text("\n".join(rows) + "\n")
    t = dict(max_steps=4, per_device_train_batch_size=8, logging_steps=1,
             eval_strategy="no", save_strategy="no")
    t.update(train)
    return RunConfig.from_dict({
        "data": {"source": str(csv), "text_column": "text", "label_column": "label"},
        "model": {"name_or_path": str(model_dir), "task": "classification"},
        "train": t, "runs_dir": str(tmp_path / "runs")})


def test_train_subprocess_creates_a_run(tiny_bert_dir, tmp_path):
    cfg = tiny_csv_config(tmp_path, tiny_bert_dir)
    cfg.save(tmp_path / "run.yaml")
    proc = run_cli("train", "--config", str(tmp_path / "run.yaml"),
                   "--set", "train.max_steps=3")
    assert proc.returncode == 0, proc.stderr[-2000:]
    [run] = runs.list_runs(tmp_path / "runs")
    assert run["status"] == "finished" and run["global_step"] == 3
    assert f"Run folder: {run['path']}" in proc.stdout
    assert RunConfig.load(os.path.join(run["path"], "config.yaml")).train.max_steps == 3
    assert os.path.exists(os.path.join(run["path"], "model", "config.json"))


def test_bad_config_exits_2_with_the_message(tmp_path):
    (tmp_path / "bad.yaml").write_text("train:\n  learning_rate: 0\n")
    proc = run_cli("train", "--config", str(tmp_path / "bad.yaml"), timeout=120)
    assert proc.returncode == 2
    assert "Learning rate must be > 0" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_in_process_errors_and_resume_needs_run_dir(tmp_path, capsys):
    assert main(["train", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["train", "--recipe", "drug-reviews-minilm", "--resume"]) == 2
    assert "--resume needs --run-dir" in capsys.readouterr().err
    assert main(["train", "--recipe", "no-such-recipe"]) == 2
    assert "Unknown recipe" in capsys.readouterr().err
    assert main(["train", "--recipe", "drug-reviews-minilm", "--set", "oops"]) == 2
    assert "--set expects" in capsys.readouterr().err
    (tmp_path / "typo.yaml").write_text("train:\n  learning_rate: fast\n")
    assert main(["validate", "--config", str(tmp_path / "typo.yaml")]) == 2
    assert "wrong type" in capsys.readouterr().err


def test_set_reads_numbers_written_like_1e_4():
    from ft_core.cli import _set_value
    data = {"train": {}}
    _set_value(data, "train.learning_rate=1e-4")
    _set_value(data, "train.max_steps=20")
    _set_value(data, "model.name_or_path=gpt2")
    assert data == {"train": {"learning_rate": 1e-4, "max_steps": 20},
                    "model": {"name_or_path": "gpt2"}}


def test_validate_reports_a_fatal_problem(tiny_bert_dir, tmp_path, capsys):
    cfg = tiny_csv_config(tmp_path, tiny_bert_dir, max_length=1024)
    cfg.save(tmp_path / "run.yaml")
    assert main(["validate", "--config", str(tmp_path / "run.yaml")]) == 2
    assert "above what" in capsys.readouterr().err
    cfg.train.max_length = 64
    cfg.save(tmp_path / "run.yaml")
    assert main(["validate", "--config", str(tmp_path / "run.yaml")]) == 0
    assert "OK" in capsys.readouterr().out


def test_recipes_list_and_write(tmp_path, capsys):
    assert main(["recipes"]) == 0
    listed = capsys.readouterr().out
    for name in RECIPES:
        assert name in listed
    out = tmp_path / "r.yaml"
    assert main(["recipes", "--recipe", "smollm2-chat-lora", "--out", str(out)]) == 0
    loaded = RunConfig.load(out)
    assert loaded.to_dict() == recipe_config("smollm2-chat-lora").to_dict()
    assert loaded.model.method == "lora" and loaded.data.response_column == "answer"


@pytest.mark.parametrize("name", list(RECIPES))
def test_every_recipe_is_a_valid_config(name):
    cfg = recipe_config(name)
    assert RunConfig.from_yaml(cfg.to_yaml()).to_dict() == cfg.to_dict()
    assert RECIPES[name].online == (not cfg.data.source.startswith("builtin:"))


def test_parser_has_subcommands_for_each_registered_command():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert {"train", "validate", "eval", "recipes", "search"} <= set(sub.choices)
    # The search command's real options load when it is the command being run.
    search = next(a for a in build_parser("search")._actions if a.dest == "command")
    opts = {o for a in search.choices["search"]._actions for o in a.option_strings}
    assert {"--config", "--n-trials", "--storage"} <= opts


def test_space_mode_cuts_a_cli_run_to_the_step_limit(tiny_bert_dir, tmp_path):
    """The app exports its Space settings to training subprocesses: the CLI obeys them."""
    cfg = tiny_csv_config(tmp_path, tiny_bert_dir, max_steps=50)
    cfg.save(tmp_path / "run.yaml")
    env_cmd = ["env", "FT_LAB_SPACE_MODE=1", "FT_LAB_MAX_TRAIN_STEPS=2", sys.executable,
               "-m", "ft_core", "train", "--config", str(tmp_path / "run.yaml")]
    proc = subprocess.run(env_cmd, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=ROOT))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Space limit" in proc.stdout and "cut to 2 steps" in proc.stdout
    [run] = runs.list_runs(tmp_path / "runs")
    assert run["global_step"] == 2


def test_set_keeps_no_as_a_word():
    from ft_core.cli import _set_value
    data = {}
    _set_value(data, "train.save_strategy=no")
    _set_value(data, "train.group_by_length=false")
    assert data == {"train": {"save_strategy": "no", "group_by_length": False}}


@pytest.mark.slow
def test_accelerate_launch_two_processes_write_one_run(tiny_bert_dir, tmp_path):
    """`accelerate launch -m ft_core train` with 2 processes on this CUDA-less machine
    (accelerate's multi-process launcher; the processes join over gloo): one run folder,
    events written once by the main process, data split between the processes, the loss
    on the same scale as one process's, a model saved."""
    cfg = tiny_csv_config(tmp_path, tiny_bert_dir, max_steps=4, logging_steps=1,
                          save_strategy="steps", save_steps=2)
    cfg.save(tmp_path / "run.yaml")
    accelerate = os.path.join(os.path.dirname(sys.executable), "accelerate")
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    proc = subprocess.run([accelerate, "launch", "--multi_gpu", "--num_processes", "2",
                           "--num_machines", "1", "--mixed_precision", "no",
                           "--dynamo_backend", "no", "-m", "ft_core", "train",
                           "--config", str(tmp_path / "run.yaml")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert proc.stdout.count("Finished:") == 1  # only the main process reports
    [run] = runs.list_runs(tmp_path / "runs")  # one folder, shared by both processes
    assert run["status"] == "finished" and run["global_step"] == 4
    events = runs.read_events(run["path"])[0]
    assert [e["type"] for e in events].count("start") == 1
    logs = [e for e in events if e["type"] == "log"]
    assert [e["step"] for e in logs] == [1, 2, 3, 4]  # each step logged once
    # 32 training rows, batch 8 per process: two processes finish an epoch in 2 steps.
    assert logs[0]["epoch"] == pytest.approx(0.5)
    # Two balanced classes and a fresh head: cross-entropy near ln 2, not doubled.
    assert all(0.5 < e["loss"] < 0.9 for e in logs)
    evals = [e for e in events if e["type"] == "eval"]
    assert 0.5 < evals[-1]["metrics"]["eval_loss"] < 0.9
    assert os.path.exists(os.path.join(run["path"], "model", "config.json"))
    assert os.path.exists(os.path.join(run["path"], "README.md"))


@pytest.mark.slow
def test_killed_run_resumes_from_its_last_complete_checkpoint(tiny_bert_dir, tmp_path):
    """kill -9 mid-run loses only the steps since the last checkpoint; a checkpoint the
    kill left half-written is skipped on resume."""
    import signal
    import time
    cfg = tiny_csv_config(tmp_path, tiny_bert_dir, max_steps=100_000, logging_steps=5,
                          save_strategy="steps", save_steps=5, save_total_limit=3)
    cfg.save(tmp_path / "run.yaml")
    run_dir = tmp_path / "runs" / "killed"
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "ft_core", "train", "--config",
                             str(tmp_path / "run.yaml"), "--run-dir", str(run_dir)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            ckpt = runs.latest_checkpoint(run_dir)
            if ckpt is not None and int(ckpt.name.split("-")[1]) >= 10:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("no checkpoint within 5 minutes")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    saved = runs.latest_checkpoint(run_dir)
    step = int(saved.name.split("-")[1])
    # What a kill during a save leaves behind: weights, but no trainer_state.json yet.
    partial = run_dir / "checkpoints" / f"checkpoint-{step + 1000}"
    partial.mkdir()
    (partial / "model.safetensors").write_bytes(b"half a file")
    assert runs.latest_checkpoint(run_dir) == saved

    proc = run_cli("train", "--config", str(run_dir / "config.yaml"), "--run-dir",
                   str(run_dir), "--resume", "--set", f"train.max_steps={step + 3}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = runs.read_run_info(run_dir)
    assert info["status"] == "finished" and info["global_step"] == step + 3
    starts = [e for e in runs.read_events(run_dir)[0] if e["type"] == "start"]
    assert starts[-1]["resumed_from_step"] == step
