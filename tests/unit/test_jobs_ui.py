"""What the Train tab shows for a run's events, and the form -> RunConfig conversion."""

import json

import gradio as gr
import pytest

from ft_core import runs
from ft_core.config import DataConfig, RunConfig
from ft_core.errors import UserError
from ft_core.ui.state import AppContext
from ft_core.ui.train_form import TrainForm, model_note
from ft_core.ui.train_monitor import RunView, runs_table


def _write_run(tmp_path):
    run_dir = runs.create_run(RunConfig(name="fold"), tmp_path)
    runs.write_run_info(run_dir, status="running")
    runs.append_event(run_dir, "start", total_steps=20, num_train_epochs=2, task="classification",
                      method="full", trainable_params=100, total_params=1000, new_head=True,
                      device="cpu", precision="fp32", train_rows=80, eval_rows=10)
    for step in (5, 10):
        runs.append_event(run_dir, "log", step=step, epoch=step / 10, loss=1.0 / step,
                          learning_rate=1e-4, grad_norm=0.5)
    runs.append_event(run_dir, "progress", step=10, total_steps=20, epoch=1.0, eta_s=65,
                      elapsed_s=30)
    runs.append_event(run_dir, "eval", step=10, epoch=1.0,
                      metrics={"eval_loss": 0.9, "eval_accuracy": 0.6, "eval_f1_macro": 0.4,
                               "eval_runtime": 1.2})
    return run_dir


def test_view_folds_events_into_progress_curves_and_log(tmp_path):
    run_dir = _write_run(tmp_path)
    view = RunView.open(run_dir)
    assert view.status == "running" and view.fraction() == 0.5
    assert "step 10 / 20" in view.summary() and "ETA 1:05" in view.summary()
    loss = view.loss_frame()
    assert list(loss["series"]) == ["train loss", "train loss", "eval loss"]
    assert list(loss["loss"]) == [0.2, 0.1, 0.9]
    metric = view.metric_frame()
    assert sorted(metric["metric"]) == ["accuracy", "f1_macro"]  # not runtime
    log = view.log_text()
    assert "newly initialised" in log and "eval @ step 10" in log
    assert "100 of 1,000 parameters trainable (10.00%)" in log

    # Only new bytes are read: a second poll with nothing new changes nothing.
    assert view.poll() is False
    runs.append_event(run_dir, "status", status="stopped", message="Stopped by the user.")
    runs.write_run_info(run_dir, status="stopped", started=100.0, finished=165.0,
                        best_metric={"name": "eval_f1_macro", "value": 0.4})
    assert view.poll() is True and view.final and view.status == "stopped"
    assert len(view.loss_frame()) == 3  # nothing duplicated
    row = runs_table(tmp_path).iloc[0]
    assert (row["status"], row["best metric"], row["duration"]) == ("stopped", "f1_macro 0.4",
                                                                   "1:05")


def test_failed_run_shows_its_reason(tmp_path):
    run_dir = runs.create_run(RunConfig(name="bad"), tmp_path)
    runs.write_run_info(run_dir, status="failed", error="CUDA out of memory.\nmore")
    view = RunView.open(run_dir)
    assert "CUDA out of memory" in view.progress_html()
    table = runs_table(tmp_path)
    assert table.loc[0, "status"] == "failed" and table.loc[0, "reason"] == "CUDA out of memory."


@pytest.fixture()
def form(tmp_path):
    with gr.Blocks():
        ctx = AppContext(runs_dir=str(tmp_path))
        ctx.data_state = gr.State(None)
        f = TrainForm(ctx)
    return f


def _defaults(form):
    return [c.value for c in form.components]


DATA = DataConfig(source="builtin:drug_reviews", text_column="review",
                  label_column="rating").to_dict()


def test_form_defaults_make_a_valid_config(form):
    config = form.to_config(DATA, *_defaults(form))
    assert config.model.task == "classification" and config.model.method == "full"
    assert config.train.learning_rate == 5e-5 and config.train.eval_steps is None
    assert config.data.label_column == "rating"
    # And back: the values reproduce the same config (recipes, "use its config").
    again = form.to_config(DATA, *form.values_from(config))
    assert again.to_dict() == config.to_dict()


def test_form_maps_task_lora_and_zero_means_off(form):
    values = dict(zip(form.names, _defaults(form), strict=True))
    values.update(task="causal_lm_chat", method="lora", lora_target_modules="q_proj, v_proj",
                  eval_strategy="steps", eval_steps=5, save_total_limit=0, max_steps=7.0)
    config = form.to_config(DATA, *values.values())
    assert config.model.task == "causal_lm" and config.train.use_chat_template
    assert config.model.lora_target_modules == ["q_proj", "v_proj"]
    assert config.train.eval_steps == 5 and config.train.save_total_limit is None
    assert config.train.max_steps == 7 and isinstance(config.train.max_steps, int)


@pytest.mark.parametrize("field,value,message", [
    ("learning_rate", 0, "Learning rate must be > 0"),
    ("per_device_train_batch_size", 0, "Batch size must be at least 1"),
    ("learning_rate", None, "is empty"),
])
def test_form_refuses_bad_values(form, field, value, message):
    values = dict(zip(form.names, _defaults(form), strict=True))
    values[field] = value
    with pytest.raises(UserError, match=message):
        form.to_config(DATA, *values.values())


def test_form_needs_a_prepared_dataset(form):
    with pytest.raises(UserError, match="Prepare a dataset in the Data tab first"):
        form.to_config(None, *_defaults(form))


def test_model_note_flags_new_head(tmp_path):
    assert "newly initialised" in model_note("MiniLM-L6 (embedded)", "classification")
    assert "causal lm model" in model_note("SmolLM2-135M-Instruct (embedded)",
                                           "classification")
    base, clf = tmp_path / "base", tmp_path / "clf"
    for folder, arch in ((base, "BertModel"), (clf, "BertForSequenceClassification")):
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({"architectures": [arch]}))
    assert "newly initialised" in model_note(str(base), "classification")
    assert "re-initialised" in model_note(str(clf), "classification")
    assert "newly" not in model_note(str(base), "causal_lm")
