"""The Train tab over the API (gradio_client): recipe -> Start -> refusals -> Stop.

A real ``python -m ft_core train`` subprocess trains a tiny BERT built from a config.
"""

import time

import pytest
from gradio_client.exceptions import AppError

from ft_core import runs
from ft_core.config import RunConfig
from ft_core.jobs import pid_alive

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _wait(predicate, timeout=120, every=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("timed out waiting")


def test_start_refuse_second_and_stop_over_api(app_url, app_runs_dir, tiny_bert_dir):
    from gradio_client import Client
    client = Client(app_url, verbose=False)  # its own session (its own data_state)

    # No prepared dataset in this session yet.
    with pytest.raises(AppError, match="Prepare a dataset"):
        client.predict(model=str(tiny_bert_dir), api_name="/start_training")

    client.predict(api_name="/recipe_drug_reviews_minilm")  # fills the data config
    name = f"api-{time.time_ns()}"
    settings = dict(model=str(tiny_bert_dir), name=name, max_steps=100_000, max_length=32,
                    per_device_train_batch_size=8, logging_steps=2, eval_strategy="steps",
                    eval_steps=20, save_strategy="no", task="classification", method="full")

    with pytest.raises(AppError, match="Learning rate must be > 0"):
        client.predict(**settings, learning_rate=0, api_name="/start_training")

    client.predict(**settings, learning_rate=1e-3, api_name="/start_training")
    run_dir = _wait(lambda: next(iter(app_runs_dir.glob(f"*{name}*")), None), 10)
    _wait(lambda: any(e["type"] == "log" for e in runs.read_events(run_dir)[0]))
    assert runs.read_run_info(run_dir)["status"] == "running"

    with pytest.raises(AppError, match="still running"):
        client.predict(**settings, learning_rate=1e-3, api_name="/start_training")

    # Another session can neither see this job as its own nor stop it.
    other = Client(app_url, verbose=False)
    with pytest.raises(AppError, match="Nothing is running"):
        other.predict(api_name="/stop_training")

    client.predict(api_name="/stop_training")
    _wait(lambda: runs.read_run_info(run_dir)["status"] == "stopped", 120)
    assert runs.latest_checkpoint(run_dir) is not None  # resumable
    table = client.predict(api_name="/list_runs")[0]
    row = [r for r in table["data"] if r[0] == run_dir.name][0]
    assert row[1] == "stopped"
    status = client.predict(run_dir.name, api_name="/run_status")
    progress, config_text = status[0], status[-1]
    config_text = config_text.get("value", "") if isinstance(config_text, dict) else config_text
    assert "data-status='stopped'" in progress and str(tiny_bert_dir) in config_text

    # Resume continues from the checkpoint in the same folder; then stop and delete it.
    stopped_at = runs.read_run_info(run_dir)["global_step"]
    _wait(lambda: not pid_alive(runs.read_run_info(run_dir)["pid"]))  # process ended
    client.predict(run_dir.name, api_name="/resume_training")
    _wait(lambda: any(e["type"] == "status" and "resumed from" in (e.get("message") or "")
                      for e in runs.read_events(run_dir)[0]))
    _wait(lambda: any(e["type"] == "log" and e["step"] > stopped_at
                      for e in runs.read_events(run_dir)[0]))
    client.predict(api_name="/stop_training")
    _wait(lambda: runs.read_run_info(run_dir)["status"] == "stopped", 120)
    _wait(lambda: not pid_alive(runs.read_run_info(run_dir)["pid"]))
    client.predict(run_dir.name, api_name="/delete_run")
    assert not run_dir.exists()


def test_export_config_gives_yaml_and_command(app_url, tiny_bert_dir):
    from gradio_client import Client
    client = Client(app_url, verbose=False)
    client.predict(api_name="/recipe_drug_reviews_minilm")
    yaml_text, command, path = client.predict(model=str(tiny_bert_dir), learning_rate=2e-4,
                                              api_name="/export_config")
    config = RunConfig.from_yaml(yaml_text)
    assert config.model.name_or_path == str(tiny_bert_dir)
    assert config.train.learning_rate == 2e-4 and config.data.source == "builtin:drug_reviews"
    assert "python -m ft_core train --config run.yaml" in command
    assert RunConfig.load(path).to_dict() == config.to_dict()
