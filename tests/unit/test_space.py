"""Space mode: settings, limits, per-session folders, source checks, the time limit."""

from __future__ import annotations

import json
import os
import time

import pytest

from ft_core.config import RunConfig, SearchConfig, TrainConfig
from ft_core.errors import UserError
from ft_core.space import (
    SpaceSettings,
    apply_limits,
    check_source_allowed,
    check_upload_size,
    cleanup_old_sessions,
    estimated_steps,
    limit_callbacks,
    maybe_cleanup,
    session_runs_dir,
    time_limit_callback,
)

ON = SpaceSettings(enabled=True, allow_local_paths=False, max_train_steps=100, max_trials=3,
                   max_train_minutes=5)
OFF = SpaceSettings()


# -- settings -------------------------------------------------------------------------------

def test_settings_off_by_default_and_on_in_a_space():
    assert SpaceSettings.from_env({}).enabled is False
    assert SpaceSettings.from_env({}).allow_local_paths is True
    in_space = SpaceSettings.from_env({"SPACE_ID": "alice/lab"})
    assert in_space.enabled and in_space.allow_local_paths is False
    assert SpaceSettings.from_env({"FT_LAB_SPACE_MODE": "1"}).enabled
    assert SpaceSettings.from_env({}, space_mode=True).enabled
    # The owner of a duplicated Space can switch the limits off explicitly.
    assert not SpaceSettings.from_env({"SPACE_ID": "a/b", "FT_LAB_SPACE_MODE": "0"}).enabled
    # ...even though app.py passes space_mode=True whenever SPACE_ID is set.
    assert not SpaceSettings.from_env({"SPACE_ID": "a/b", "FT_LAB_SPACE_MODE": "0"},
                                      space_mode=True).enabled


def test_settings_read_limits_from_env_and_round_trip_to_a_child_process():
    env = {"FT_LAB_SPACE_MODE": "true", "FT_LAB_MAX_TRAIN_STEPS": "50",
           "FT_LAB_MAX_TRAIN_MINUTES": "2.5", "FT_LAB_MAX_UPLOAD_MB": "5",
           "FT_LAB_MAX_TRIALS": "2", "FT_LAB_MAX_CONCURRENT_JOBS": "3",
           "FT_LAB_SESSION_TTL_HOURS": "1"}
    s = SpaceSettings.from_env(env)
    assert (s.max_train_steps, s.max_train_minutes, s.max_upload_mb, s.max_trials,
            s.max_concurrent_jobs, s.session_ttl_hours) == (50, 2.5, 5.0, 2, 3, 1.0)
    assert SpaceSettings.from_env(s.to_env()) == s
    assert s.concurrency(local_default=2) == 3 and OFF.concurrency(local_default=2) == 2
    text = " ".join(s.limits_text())
    assert "50 training steps" in text and "2.5 min" in text and "5 MB" in text
    assert OFF.limits_text() == []


@pytest.mark.parametrize("env", [{"FT_LAB_MAX_TRAIN_STEPS": "many"},
                                 {"FT_LAB_MAX_TRAIN_STEPS": "0"},
                                 {"FT_LAB_MAX_TRAIN_MINUTES": "-1"}])
def test_bad_settings_give_a_clear_error(env):
    with pytest.raises(UserError, match="Space settings"):
        SpaceSettings.from_env({"FT_LAB_SPACE_MODE": "1", **env})


def test_local_paths_stay_refused_in_a_space_unless_opted_in():
    assert not SpaceSettings.from_env({"SPACE_ID": "a/b"}).allow_local_paths
    assert SpaceSettings.from_env({"SPACE_ID": "a/b",
                                   "FT_LAB_ALLOW_LOCAL_PATHS": "1"}).allow_local_paths


# -- limits on a run ------------------------------------------------------------------------

def test_a_run_over_the_step_limit_is_cut_with_a_message():
    config = RunConfig(train=TrainConfig(max_steps=1000))
    limited, notes = apply_limits(config, ON)
    assert limited.train.max_steps == 100
    assert len(notes) == 1 and "1000" in notes[0] and "100 steps" in notes[0]
    assert config.train.max_steps == 1000  # the caller's config is untouched


def test_a_run_within_the_limits_is_unchanged():
    config = RunConfig(train=TrainConfig(max_steps=40))
    limited, notes = apply_limits(config, ON)
    assert limited.train.max_steps == 40 and notes == []
    limited, notes = apply_limits(RunConfig(train=TrainConfig(max_steps=10_000)), OFF)
    assert limited.train.max_steps == 10_000 and notes == []


def test_an_epoch_run_is_cut_when_its_size_is_known():
    config = RunConfig(train=TrainConfig(num_train_epochs=3, per_device_train_batch_size=16))
    assert estimated_steps(config, 600) == 3 * 38
    limited, notes = apply_limits(config, ON, train_rows=600)
    assert limited.train.max_steps == 100 and "114 steps" in notes[0]
    small, notes = apply_limits(config, ON, train_rows=100)  # 3 x 7 = 21 steps: fine
    assert small.train.max_steps == -1 and notes == []


def test_search_trials_and_time_are_capped():
    config = RunConfig(search=SearchConfig(n_trials=20, timeout_s=999_999))
    limited, notes = apply_limits(config, ON)
    assert limited.search.n_trials == 3
    assert limited.search.timeout_s == 3 * 5 * 60
    assert any("20 trials" in n for n in notes)


def test_upload_size_limit(tmp_path):
    big = tmp_path / "big.csv"
    big.write_bytes(b"x" * (2 * 2**20))
    small_limit = SpaceSettings(enabled=True, max_upload_mb=1)
    with pytest.raises(UserError, match="limited to 1 MB"):
        check_upload_size(big, small_limit)
    check_upload_size(big, SpaceSettings(enabled=True, max_upload_mb=5))
    check_upload_size(big, SpaceSettings(max_upload_mb=1))  # not in Space mode: no limit


# -- per-session folders --------------------------------------------------------------------

def test_sessions_get_their_own_runs_folder(tmp_path):
    a = session_runs_dir(tmp_path, "abc123", ON)
    b = session_runs_dir(tmp_path, "xyz789", ON)
    assert a != b and a.is_dir() and b.is_dir()
    assert a.parent == b.parent == tmp_path / "sessions"
    assert session_runs_dir(tmp_path, "abc123", OFF) == tmp_path
    # A hostile id never escapes the sessions folder.
    evil = session_runs_dir(tmp_path, "../../etc", ON)
    assert evil.parent == tmp_path / "sessions" and ".." not in evil.name


def test_old_sessions_are_cleaned_up_and_active_ones_kept(tmp_path):
    old = session_runs_dir(tmp_path, "old", ON)
    (old / "20260101-run").mkdir()
    (old / "20260101-run" / "run.json").write_text(json.dumps({"status": "finished"}))
    fresh = session_runs_dir(tmp_path, "fresh", ON)
    two_days_ago = time.time() - 48 * 3600
    for p in [old, *old.rglob("*")]:
        os.utime(p, (two_days_ago, two_days_ago))
    (tmp_path / "shared-run").mkdir()  # outside sessions/: never touched
    removed = cleanup_old_sessions(tmp_path, ttl_hours=6)
    assert removed == [old] and not old.exists()
    assert fresh.exists() and (tmp_path / "shared-run").exists()


def test_a_session_with_a_run_still_writing_events_is_kept(tmp_path):
    sess = session_runs_dir(tmp_path, "busy", ON)
    run = sess / "run1"
    run.mkdir()
    long_ago = time.time() - 48 * 3600
    os.utime(sess / ".last_active", (long_ago, long_ago))
    (run / "events.jsonl").write_text("{}\n")  # written just now
    assert cleanup_old_sessions(tmp_path, ttl_hours=6) == []
    assert maybe_cleanup(tmp_path, OFF) == []


# -- sources ----------------------------------------------------------------------------------

def test_space_mode_refuses_local_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "secrets.csv").write_text("a,b\n")
    for bad in ["/etc/passwd", "../outside.csv", "~/.ssh/id_rsa", "secrets.csv",
                str(tmp_path / "secrets.csv"), "C:\\data\\x.csv"]:
        with pytest.raises(UserError, match="path on the server"):
            check_source_allowed(bad, ON)
        assert check_source_allowed(bad, OFF) == bad  # local use: anything goes


def test_space_mode_allows_builtins_presets_hub_ids_uploads_and_own_runs(tmp_path,
                                                                        monkeypatch):
    monkeypatch.chdir(tmp_path)
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "mine.csv").write_text("a,b\n")
    runs = session_runs_dir(tmp_path / "runs", "me", ON)
    (runs / "20260101-x").mkdir()
    allowed = [uploads, runs]
    for ok in ["builtin:drug_reviews", "MiniLM-L6 (embedded)", "gpt2",
               "HuggingFaceTB/SmolLM2-135M-Instruct", "nyu-mll/glue",
               str(uploads / "mine.csv"), str(runs / "20260101-x")]:
        assert check_source_allowed(ok, ON, allowed_dirs=allowed) == ok
    other = session_runs_dir(tmp_path / "runs", "someone-else", ON)
    with pytest.raises(UserError):
        check_source_allowed(str(other), ON, allowed_dirs=allowed)


# -- the time limit stops a real Trainer run ------------------------------------------------

def _tiny_trainer(model_dir, out_dir, callbacks, max_steps):
    import torch
    from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments
    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    torch.manual_seed(0)
    data = [{"input_ids": torch.randint(1000, 2000, (12,)), "attention_mask": torch.ones(12,
             dtype=torch.long), "labels": torch.tensor(i % 3)} for i in range(64)]
    args = TrainingArguments(output_dir=str(out_dir), max_steps=max_steps,
                             per_device_train_batch_size=4, logging_steps=1, save_strategy="no",
                             report_to=[], use_cpu=True, disable_tqdm=True)
    return Trainer(model=model, args=args, train_dataset=data, callbacks=callbacks)


def test_time_limit_stops_a_real_training_run(tiny_bert_dir, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    cb = time_limit_callback(1e-6, run_dir)  # a budget spent after the first step
    trainer = _tiny_trainer(tiny_bert_dir, tmp_path / "out", [cb], max_steps=50)
    trainer.train()
    assert trainer.state.global_step == 1
    assert cb.message and "Time limit" in cb.message
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    assert events[-1]["type"] == "limit" and events[-1]["step"] == 1


def test_a_generous_budget_lets_the_run_finish_and_the_step_cap_stops_it(tiny_bert_dir,
                                                                        tmp_path):
    cb = time_limit_callback(60, max_steps=None)
    trainer = _tiny_trainer(tiny_bert_dir, tmp_path / "a", [cb], max_steps=4)
    trainer.train()
    assert trainer.state.global_step == 4 and cb.message is None
    capped = limit_callbacks(SpaceSettings(enabled=True, max_train_steps=3))
    trainer = _tiny_trainer(tiny_bert_dir, tmp_path / "b", capped, max_steps=10)
    trainer.train()
    assert trainer.state.global_step == 3 and "Step limit" in capped[0].message
    assert limit_callbacks(OFF) == []


def test_launch_kwargs_cap_upload_size_only_in_space_mode():
    from ft_core.ui.app import launch_kwargs
    assert "max_file_size" not in launch_kwargs()
    assert "max_file_size" not in launch_kwargs(OFF)
    assert launch_kwargs(SpaceSettings(enabled=True, max_upload_mb=2))["max_file_size"] \
        == 2 * 2**20


def test_space_mode_app_shares_one_job_queue_sized_for_the_gpu(tmp_path, monkeypatch):
    from ft_core.ui import build_app
    monkeypatch.setenv("FT_LAB_MAX_CONCURRENT_JOBS", "2")
    monkeypatch.delenv("FT_LAB_SPACE_MODE", raising=False)
    demo = build_app(str(tmp_path), space_mode=True)
    ctx = demo.ft_context
    assert ctx.space_mode and ctx.extras["jobs"].max_concurrent == 2
    assert ctx.runs_dir_for(None) == str(tmp_path / "sessions" / "local")
    local = build_app(str(tmp_path), space_mode=False).ft_context
    assert not local.space_mode and local.runs_dir_for(None) == str(tmp_path)


def test_the_training_core_run_is_cut_by_the_space_step_limit(tiny_bert_dir, tmp_path):
    """ft_core.train with the Space callbacks: stopped at the limit, model saved, says why."""
    from datasets import Dataset, DatasetDict

    from ft_core import runs
    from ft_core.train import PreparedData, train_prepared

    labels = ["neg", "neu", "pos"]

    def rows(n):
        return {"text": [f"review number {i} is {labels[i % 3]}" for i in range(n)],
                "label": [i % 3 for i in range(n)]}
    data = PreparedData(DatasetDict(train=Dataset.from_dict(rows(64)),
                                    validation=Dataset.from_dict(rows(9))),
                        "text", label_column="label", label_names=labels,
                        label2id={n: i for i, n in enumerate(labels)})
    config = RunConfig.from_dict({
        "data": {"source": "builtin:drug_reviews"},
        "model": {"name_or_path": str(tiny_bert_dir), "task": "classification"},
        "train": {"num_train_epochs": 2, "per_device_train_batch_size": 8,
                  "save_strategy": "no", "eval_strategy": "no", "logging_steps": 1}})
    settings = SpaceSettings(enabled=True, max_train_steps=3)
    config, notes = apply_limits(config, settings, train_rows=64)  # 16 steps -> 3
    assert config.train.max_steps == 3 and "16 steps" in notes[0]
    config.train.max_steps = -1  # as if the size were unknown: the callback must cut it
    run_dir = tmp_path / "run"
    train_prepared(config, run_dir, data, extra_callbacks=limit_callbacks(settings, run_dir))
    evs = runs.read_events(run_dir)[0]
    limit = [e for e in evs if e["type"] == "limit"]
    assert len(limit) == 1 and limit[0]["step"] == 3 and "Step limit" in limit[0]["message"]
    assert max(e.get("step") or 0 for e in evs) == 3
    assert (run_dir / "model" / "config.json").exists()  # the model so far is kept


def test_output_folders_stay_inside_the_session_in_space_mode(tmp_path):
    from ft_core.space import output_dir
    inside = output_dir("../../etc/cron.d", tmp_path, "me", ON)
    assert inside == tmp_path / "sessions" / "me" / "saved" / "cron.d"
    assert output_dir("/", tmp_path, "me", ON).name == "output"
    assert str(output_dir("prepared/data", tmp_path, "me", OFF)) == "prepared/data"
