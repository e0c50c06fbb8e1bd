"""Search space, validation, storage and study views (no training: fast)."""

from __future__ import annotations

import optuna
import pandas as pd
import pytest

from ft_core import search
from ft_core.config import ModelConfig, RunConfig, SearchConfig, SearchParam, TrainConfig
from ft_core.errors import UserError


def cfg(space=None, task="classification", method="full", **search_kw) -> RunConfig:
    space = search.default_space(task, method) if space is None else space
    return RunConfig(model=ModelConfig(task=task, method=method),
                     search=SearchConfig(space=space, **search_kw))


# -- space ---------------------------------------------------------------------------------

def test_default_space_has_the_usual_knobs_and_lora_only_with_lora():
    names = [p.name for p in search.default_space("classification", "full")]
    assert names == ["learning_rate", "num_train_epochs", "per_device_train_batch_size",
                     "weight_decay", "warmup_ratio"]
    lr = search.default_space()[0]
    assert lr.log and 0 < lr.low < lr.high
    lora = [p.name for p in search.default_space("causal_lm", "lora")]
    assert {"lora_r", "lora_alpha"} <= set(lora)
    for task, method in [("classification", "full"), ("classification", "head"),
                         ("classification", "lora"), ("causal_lm", "lora")]:
        assert search.validate_search(cfg(task=task, method=method)) == "eval_loss"


def test_space_rows_round_trip_and_parsing():
    space = search.default_space("classification", "lora")
    rows = search.space_to_rows(space)
    assert search.space_from_rows(rows) == space
    frame = pd.DataFrame([["learning_rate", "float", "1e-5", "1e-3", "true", ""],
                          ["", None, None, None, None, None],  # the editor's empty row
                          ["per_device_train_batch_size", "", None, None, False, "8, 16"]],
                         columns=search.SPACE_COLUMNS)
    parsed = search.space_from_rows(frame)
    assert parsed[0] == SearchParam("learning_rate", "float", 1e-5, 1e-3, log=True)
    assert parsed[1].kind == "categorical" and parsed[1].choices == [8, 16]
    with pytest.raises(UserError, match="not a number"):
        search.space_from_rows([["learning_rate", "float", "abc", 1, False, ""]])


def test_apply_params_casts_and_checks():
    base = cfg(method="lora")
    out = search.apply_params(base, {"learning_rate": "0.001", "per_device_train_batch_size":
                                     16.0, "lora_r": 8, "num_train_epochs": 2})
    assert out.train.learning_rate == 0.001 and out.train.per_device_train_batch_size == 16
    assert isinstance(out.train.per_device_train_batch_size, int)
    assert out.model.lora_r == 8 and out.train.num_train_epochs == 2.0
    assert base.train.learning_rate == TrainConfig().learning_rate  # base untouched


def test_grid_values():
    assert search.grid_values(SearchParam("num_train_epochs", "int", 1, 3)) == [1, 2, 3]
    assert search.grid_values(SearchParam("learning_rate", "float", 1e-5, 1e-3, log=True)) \
        == pytest.approx([1e-5, 1e-4, 1e-3])
    assert search.grid_values(SearchParam("per_device_train_batch_size", "categorical",
                                          choices=[8, 16])) == [8, 16]


# -- bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize("row, message", [
    (dict(name="learning_rate", kind="float", low=1e-3, high=1e-5), "above high"),
    (dict(name="learning_rate", kind="float", low=0.0, high=1e-3, log=True), "above 0"),
    (dict(name="learning_rate", kind="float", low=-1e-3, high=1e-3, log=True), "above 0"),
    (dict(name="per_device_train_batch_size", kind="categorical"), "choices"),
])
def test_bad_ranges_are_refused(row, message):
    with pytest.raises(UserError, match=message):
        SearchParam(**row)


def test_zero_trials_refused():
    with pytest.raises(UserError, match="at least one trial"):
        SearchConfig(n_trials=0)


def test_objective_the_task_does_not_produce():
    with pytest.raises(UserError, match="not a metric the causal_lm task produces"):
        search.validate_search(cfg(task="causal_lm", objective="eval_accuracy"))
    # spelled without the eval_ prefix, and per-label metrics of a classifier, are fine
    assert search.validate_search(cfg(objective="accuracy")) == "eval_accuracy"
    assert search.validate_search(cfg(objective="eval_recall_positive")) == \
        "eval_recall_positive"
    assert search.validate_search(cfg(task="causal_lm", objective="perplexity")) == \
        "eval_perplexity"


def test_lora_param_with_lora_off():
    space = [SearchParam("lora_r", "categorical", choices=[4, 8])]
    with pytest.raises(UserError, match="LoRA is off"):
        search.validate_search(cfg(space=space, method="full"))


def test_unknown_and_duplicate_parameters():
    with pytest.raises(UserError, match="Unknown search parameter 'dropout_prob'"):
        search.validate_search(cfg(space=[SearchParam("dropout_prob", "float", 0, 0.5)]))
    lr = SearchParam("learning_rate", "float", 1e-5, 1e-3, log=True)
    with pytest.raises(UserError, match="twice"):
        search.validate_search(cfg(space=[lr, lr]))
    with pytest.raises(UserError, match="empty"):
        search.validate_search(cfg(space=[]))


def test_bounds_the_config_itself_refuses():
    with pytest.raises(UserError, match="warmup_ratio = 1.0 is not allowed"):
        search.validate_search(cfg(space=[SearchParam("warmup_ratio", "float", 0.0, 1.0)]))
    with pytest.raises(UserError, match="max_steps wins"):
        c = cfg(space=[SearchParam("num_train_epochs", "int", 1, 3)])
        c.train.max_steps = 10
        search.validate_search(c)
    no_eval = cfg()
    no_eval.train = TrainConfig(eval_strategy="no", save_strategy="no")
    with pytest.raises(UserError, match="needs evaluations"):
        search.validate_search(no_eval)


@pytest.mark.parametrize("url, message", [
    ("sqlite:////nonexistent-dir/sub/optuna.db", "Cannot open the Optuna storage"),
    ("nosuchdb://host/db", "Cannot open the Optuna storage"),
    ("postgresql://user:secret@127.0.0.1:1/db", "(not installed|Cannot open)"),
    ("", "No storage URL"),
])
def test_storage_that_cannot_be_opened(url, message):
    with pytest.raises(UserError, match=message) as err:
        search.open_storage(url)
    assert "secret" not in str(err.value)  # passwords never echoed


def test_study_name_with_another_direction(tmp_path):
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    search.open_study(url, "s1", "minimize")
    assert search.open_study(url, "s1", "minimize").study_name == "s1"  # load_if_exists
    with pytest.raises(UserError, match="already exists .* direction 'minimize'"):
        search.open_study(url, "s1", "maximize")


def test_default_direction():
    assert search.default_direction("eval_loss") == "minimize"
    assert search.default_direction("perplexity") == "minimize"
    assert search.default_direction("eval_f1_macro") == "maximize"


# -- study views and best config (a study filled by hand, no training) --------------------

def _filled_study(tmp_path) -> optuna.Study:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = search.open_study(url, "views", "minimize")
    dists = {"learning_rate": optuna.distributions.FloatDistribution(1e-5, 1e-3, log=True),
             "per_device_train_batch_size":
                 optuna.distributions.CategoricalDistribution([8, 16, 32])}
    for lr, bs, value in [(1e-4, 16, 0.8), (3e-4, 8, 0.5), (1e-5, 32, 0.9)]:
        study.add_trial(optuna.trial.create_trial(
            params={"learning_rate": lr, "per_device_train_batch_size": bs},
            distributions=dists, value=value, intermediate_values={1: value + 0.1,
                                                                   2: value}))
    study.add_trial(optuna.trial.create_trial(
        params={"learning_rate": 1e-3, "per_device_train_batch_size": 8},
        distributions=dists, state=optuna.trial.TrialState.PRUNED,
        intermediate_values={1: 2.0}))
    return study


def test_best_config_applies_the_best_trial(tmp_path):
    study = _filled_study(tmp_path)
    base = RunConfig(name="demo", search=SearchConfig(space=search.default_space()))
    best = search.best_config(study, base)
    assert best.train.learning_rate == pytest.approx(3e-4)
    assert best.train.per_device_train_batch_size == 8
    assert best.search is None and best.name == "demo-best"
    empty = search.open_study(f"sqlite:///{tmp_path / 'optuna.db'}", "empty", "minimize")
    with pytest.raises(UserError, match="No trial"):
        search.best_config(empty, base)


def test_trials_frame_summary_and_plots(tmp_path):
    study = _filled_study(tmp_path)
    frame = search.trials_frame(study)
    assert list(frame["number"]) == [0, 1, 2, 3]
    assert list(frame["state"]) == ["COMPLETE", "COMPLETE", "COMPLETE", "PRUNED"]
    assert list(frame["best"]) == ["", "★", "", ""]
    assert frame.loc[3, "value"] == 2.0  # a pruned trial shows its last evaluation
    assert {"learning_rate", "per_device_train_batch_size"} <= set(frame.columns)
    text = search.summary(study, {"id": "r1", "status": "finished",
                                  "objective": "eval_loss"})
    assert "3 complete" in text and "1 pruned" in text and "0.5" in text
    plots = search.study_plots(study)
    assert all(plots[k] is not None for k in ("history", "importance", "parallel"))
    assert search.study_plots(None) == {"history": None, "importance": None,
                                        "parallel": None}
    assert search.trials_frame(None).empty
    # a reader on the same URL (as the UI polls) sees the same trials
    again = search.load_study(f"sqlite:///{tmp_path / 'optuna.db'}", "views")
    assert len(again.trials) == 4
    assert search.load_study(f"sqlite:///{tmp_path / 'optuna.db'}", "nope") is None


def test_orphaned_running_trial_of_a_dead_worker_is_failed(tmp_path):
    study = search.open_study(f"sqlite:///{tmp_path / 'optuna.db'}", "o", "minimize")
    dead = study.ask()
    dead.set_user_attr("worker", f"{search.socket.gethostname()}:999999999")
    alive = study.ask()
    alive.set_user_attr("worker", search._worker_id())
    assert search.fail_orphaned_trials(study) == [dead.number]
    states = {t.number: t.state for t in study.get_trials()}
    assert states[dead.number] == optuna.trial.TrialState.FAIL
    assert states[alive.number] == optuna.trial.TrialState.RUNNING


# -- the panel's pure helpers (no server) ---------------------------------------------------

def test_panel_builds_a_search_config_and_marks_the_best_row(tmp_path):
    from ft_core.ui.search_panel import SearchPanel, styled_trials
    rows = pd.DataFrame(search.space_to_rows(search.default_space()),
                        columns=search.SPACE_COLUMNS)
    base = SearchConfig(storage="sqlite:///x.db", study_name="keep", seed=3)
    sc = SearchPanel.search_config(4, 0, "accuracy", "maximize", "random", "none", rows,
                                   base=base)
    assert sc.objective == "eval_accuracy" and sc.timeout_s is None and sc.n_trials == 4
    assert (sc.storage, sc.study_name, sc.seed) == ("sqlite:///x.db", "keep", 3)  # Continue
    assert [p.name for p in sc.space] == [p.name for p in search.default_space()]
    with pytest.raises(UserError, match="at least one trial"):
        SearchPanel.search_config(0, 0, "eval_loss", "minimize", "tpe", "median", rows)
    no_epochs = SearchPanel.default_space("classification", "full", 20)
    assert "num_train_epochs" not in set(no_epochs["name"])
    styled = styled_trials(_filled_study(tmp_path))
    html = styled.to_html()
    assert html.count("rgba(250, 204, 21") >= 1 and "★" in html


def test_workers_racing_to_create_one_sqlite_study(tmp_path):
    # Workers started together all create Optuna's tables and schema row at once; without
    # a retry some fail with "table already exists" / a UNIQUE constraint error.
    import subprocess
    import sys
    code = ("import sys; from ft_core import search; "
            "search.open_study(sys.argv[1], 'race', 'minimize'); print('ok')")
    url = f"sqlite:///{tmp_path / 'race.db'}"
    root = str(search.Path(search.__file__).resolve().parents[1])
    procs = [subprocess.Popen([sys.executable, "-c", code, url], cwd=root,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(4)]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert len(search.load_study(url, "race").trials) == 0


def test_polling_a_half_made_storage_returns_none_then_recovers(tmp_path):
    """The UI polls while a worker creates the study: a broken read must not stick."""
    db = tmp_path / "poll.db"
    db.write_bytes(b"not a database yet")
    url = f"sqlite:///{db}"
    assert search.load_study(url, "poll") is None
    db.unlink()
    import optuna
    optuna.create_study(study_name="poll", storage=url)
    assert search.load_study(url, "poll") is not None
