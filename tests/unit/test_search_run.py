"""Real searches on a tiny BERT: every trial is a real Trainer run through train().

Data comes from a small CSV through the real data path (DataConfig -> prepare), so the
same config also drives the CLI workers below.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import optuna
import pytest
import yaml

from ft_core import cli, runs, search
from ft_core.config import (
    DataConfig,
    ModelConfig,
    RunConfig,
    SearchConfig,
    SearchParam,
    TrainConfig,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
WORDS = {"good": ["great", "wonderful", "excellent"], "bad": ["terrible", "awful", "poor"],
         "meh": ["okay", "average", "fine"]}
FILLER = "the pill was taken every morning with water after food".split()


def write_csv(path: Path, n: int = 60, seed: int = 0) -> Path:
    rng = random.Random(seed)
    lines = ["text,label"]
    for i in range(n):
        label = list(WORDS)[i % 3]
        words = rng.sample(FILLER, 4) + [rng.choice(WORDS[label])]
        rng.shuffle(words)
        lines.append(f"{' '.join(words)},{label}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_config(tmp_path: Path, model_dir: Path, space=None, **search_kw) -> RunConfig:
    data = DataConfig(source=str(write_csv(tmp_path / "reviews.csv")), text_column="text",
                      label_column="label", train_ratio=0.6, validation_ratio=0.2,
                      test_ratio=0.2)
    space = space or [SearchParam("learning_rate", "float", 1e-4, 1e-2, log=True)]
    kw = dict(n_trials=3, sampler="random", seed=0, pruner="none", space=space)
    kw.update(search_kw)
    return RunConfig(name="tiny-search", runs_dir=str(tmp_path / "runs"), data=data,
                     model=ModelConfig(name_or_path=str(model_dir)),
                     train=TrainConfig(num_train_epochs=1, per_device_train_batch_size=8,
                                       max_length=32, logging_steps=2),
                     search=SearchConfig(**kw))


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("FT_LAB_CACHE", str(tmp_path_factory.getbasetemp() / "ft-cache"))


@pytest.fixture(scope="module")
def searched(tmp_path_factory, tiny_bert_dir):
    """A real 3-trial search, shared by the tests that read it."""
    os.environ.setdefault("FT_LAB_CACHE", str(tmp_path_factory.getbasetemp() / "ft-cache"))
    tmp = tmp_path_factory.mktemp("search3")
    config = make_config(tmp, tiny_bert_dir)
    run_dir = tmp / "runs" / "s3"
    study = search.run_search(config, run_dir)
    return config, run_dir, study


def test_three_trials_recorded_in_storage_and_events(searched):
    config, run_dir, _ = searched
    # Read the SQLite file directly, as another process (or optuna-dashboard) would.
    stored = optuna.load_study(study_name="s3", storage=f"sqlite:///{run_dir / 'optuna.db'}")
    trials = stored.get_trials()
    assert [t.number for t in trials] == [0, 1, 2]
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    lrs = {t.params["learning_rate"] for t in trials}
    assert len(lrs) == 3 and all(1e-4 <= lr <= 1e-2 for lr in lrs)
    assert all(t.intermediate_values for t in trials)  # train() reported its evals
    events, _ = runs.read_events(run_dir)
    trial_events = [e for e in events if e["type"] == "trial"]
    assert [e["number"] for e in trial_events] == [0, 1, 2]
    assert all(e["state"] == "COMPLETE" and e["duration"] > 0 and "learning_rate" in
               e["params"] for e in trial_events)
    assert [e["value"] for e in trial_events] == [t.value for t in trials]
    info = runs.read_run_info(run_dir)
    assert info["status"] == "finished" and info["kind"] == "search"
    assert info["best_trial"] == stored.best_trial.number
    for n in range(3):  # real run folders per trial, weights not kept
        trial_info = runs.read_run_info(run_dir / "trials" / str(n))
        assert trial_info["status"] == "finished"
        assert not (run_dir / "trials" / str(n) / "model").exists()


def test_train_with_best_parameters(searched, tmp_path):
    config, run_dir, study = searched
    best = search.best_config(study, config)
    assert best.train.learning_rate == pytest.approx(study.best_params["learning_rate"])
    saved = RunConfig.load(run_dir / "best_config.yaml")
    assert saved.train.learning_rate == pytest.approx(best.train.learning_rate)
    from ft_core.train import train
    out = tmp_path / "best-run"
    metrics = train(best, out)
    assert "eval_loss" in metrics
    assert runs.read_run_info(out)["status"] == "finished"
    ran = RunConfig.load(out / "config.yaml")
    assert ran.train.learning_rate == pytest.approx(study.best_params["learning_rate"])


def test_continue_search_resumes_numbering(searched):
    config, run_dir, _ = searched
    study = search.run_search(config, run_dir, n_trials=1)  # "Continue search"
    assert [t.number for t in study.get_trials()] == [0, 1, 2, 3]
    assert (run_dir / "trials" / "3").is_dir()


def test_pruning_prunes_a_hopeless_trial(tmp_path, tiny_bert_dir):
    # Crafted: trial 0 barely moves (lr 1e-6), trial 1 diverges (lr 0.5). With the median
    # pruner (one start-up trial) trial 1 is worse at its first evaluation and is pruned.
    space = [SearchParam("learning_rate", "float", 1e-6, 0.5, log=True)]
    config = make_config(tmp_path, tiny_bert_dir, space, n_trials=2, pruner="median")
    config.train = TrainConfig(max_steps=8, per_device_train_batch_size=8, max_length=32,
                               eval_strategy="steps", eval_steps=2, logging_steps=2)
    run_dir = tmp_path / "runs" / "prune"
    url = f"sqlite:///{tmp_path / 'prune.db'}"
    study = search.open_study(url, "prune", "minimize")
    study.enqueue_trial({"learning_rate": 1e-6})
    study.enqueue_trial({"learning_rate": 0.5})
    study = search.run_search(config, run_dir, storage=url, study_name="prune")
    first, second = study.get_trials()
    assert first.state == optuna.trial.TrialState.COMPLETE
    assert len(first.intermediate_values) == 4  # evals at steps 2, 4, 6, 8
    assert second.state == optuna.trial.TrialState.PRUNED
    assert list(second.intermediate_values) == [1]  # stopped after its first evaluation
    assert second.intermediate_values[1] > first.intermediate_values[1]
    assert runs.read_run_info(run_dir / "trials" / "1")["status"] == "pruned"
    events, _ = runs.read_events(run_dir / "trials" / "1")
    assert max(e.get("step", 0) for e in events if e["type"] == "progress") < 8


def test_stop_ends_the_search_after_the_current_trial_step(tmp_path, tiny_bert_dir):
    config = make_config(tmp_path, tiny_bert_dir, n_trials=4)
    config.train = TrainConfig(max_steps=400, per_device_train_batch_size=8, max_length=32,
                               eval_strategy="steps", eval_steps=200, logging_steps=5)
    run_dir = tmp_path / "runs" / "stopme"
    done: dict = {}
    worker = threading.Thread(target=lambda: done.update(
        study=search.run_search(config, run_dir)), daemon=True)
    worker.start()
    trial_events = run_dir / "trials" / "0" / "events.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline and not (
            trial_events.exists() and '"progress"' in trial_events.read_text()):
        time.sleep(0.3)
    runs.request_stop(run_dir)  # what the Stop button does
    worker.join(timeout=240)
    assert not worker.is_alive()
    trials = done["study"].get_trials()
    assert len(trials) == 1 and search.trial_state(trials[0]) == "STOPPED"
    assert runs.read_run_info(run_dir)["status"] == "stopped"
    trial_info = runs.read_run_info(run_dir / "trials" / "0")
    assert trial_info["status"] == "stopped" and trial_info["global_step"] < 400


def test_cli_refuses_bad_input_with_exit_code_2(tmp_path, tiny_bert_dir, capsys):
    config = make_config(tmp_path, tiny_bert_dir, objective="eval_perplexity")
    config.model.task = "causal_lm"
    config.search.objective = "eval_accuracy"
    path = config.save(tmp_path / "bad.yaml")
    assert cli.main(["search", "--config", str(path)]) == 2
    assert "not a metric the causal_lm task produces" in capsys.readouterr().err
    good = make_config(tmp_path, tiny_bert_dir).save(tmp_path / "good.yaml")
    assert cli.main(["search", "--config", str(good), "--storage",
                     "sqlite:////no/such/dir/x.db", "--run-dir", str(tmp_path / "r")]) == 2
    assert "Cannot open the Optuna storage" in capsys.readouterr().err


def test_two_workers_share_one_sqlite_study(tmp_path, tiny_bert_dir):
    shared = tmp_path / "shared.db"
    config = make_config(tmp_path, tiny_bert_dir, storage=f"sqlite:///{shared}",
                         study_name="shared", seed=None)
    path = config.save(tmp_path / "run.yaml")
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1")
    procs = [subprocess.Popen([sys.executable, "-m", "ft_core", "search", "--config",
                               str(path), "--run-dir", str(tmp_path / f"worker{i}"),
                               "--n-trials", "2"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for i in range(2)]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    study = optuna.load_study(study_name="shared", storage=f"sqlite:///{shared}")
    trials = study.get_trials()
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    workers = {t.user_attrs["worker"] for t in trials}
    assert len(workers) == 2  # both processes ran trials of the one study
    for i in range(2):
        own = sorted(int(p.name) for p in (tmp_path / f"worker{i}" / "trials").iterdir())
        assert len(own) == 2
        events = [yaml.safe_load(line) for line in
                  (tmp_path / f"worker{i}" / "events.jsonl").read_text().splitlines()]
        assert sorted(e["number"] for e in events if e["type"] == "trial") == own
