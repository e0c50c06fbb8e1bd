"""Compare runs made by the real training core (ft_core.train) on a tiny head-less BERT:
the right side's test metrics equal the ones the Trainer wrote into run.json."""

import pytest

from ft_core import compare as C
from ft_core import runs
from ft_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from tests import compare_helpers as H

pytestmark = pytest.mark.slow  # real Trainer runs (tiny models, a few steps)


@pytest.fixture(scope="module")
def headless_bert(tmp_path_factory, minilm_tokenizer_dir):
    import shutil

    import torch
    from transformers import BertConfig, BertModel
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("headless_bert")
    BertModel(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2,
                         num_attention_heads=2, intermediate_size=64,
                         max_position_embeddings=128)).save_pretrained(out)
    for f in minilm_tokenizer_dir.iterdir():
        shutil.copy(f, out / f.name)
    return out


@pytest.mark.parametrize("method", ["full", "lora"])
def test_trained_run_compares_like_the_trainer_evaluated(method, headless_bert, tmp_path):
    from ft_core.train import train
    csv = tmp_path / "d.csv"
    H.toy_rows(60).to_csv(csv, index=False)
    config = RunConfig(
        data=DataConfig(source=str(csv), text_column="text", label_column="label"),
        model=ModelConfig(name_or_path=str(headless_bert), task="classification",
                          method=method,
                          lora_target_modules=["query", "value"] if method == "lora" else None),
        train=TrainConfig(max_steps=3, max_length=32, eval_strategy="no", save_strategy="no",
                          learning_rate=1e-3),
        name=f"cmp-{method}", runs_dir=str(tmp_path / "runs"))
    run_dir = runs.create_run(config, tmp_path / "runs")
    train(config, run_dir)
    info = runs.read_run_info(run_dir)
    assert info["status"] == "finished"
    pair = C.open_run_pair(tmp_path / "runs", run_dir.name)
    assert pair.left.new_head and pair.labels == H.LABELS
    if method == "lora":
        assert pair.left.model is pair.right.model
    result = C.compare_classification(pair, C.eval_set_from_run(pair))
    right = result.overall.set_index("metric")["right"]
    test = info["test_metrics"]
    assert right["accuracy"] == pytest.approx(test["test_accuracy"])
    assert right["f1_macro"] == pytest.approx(test["test_f1_macro"])


def test_trained_chat_lora_loss_matches_the_trainer(tiny_llama_dir, tmp_path):
    """Answers-only held-out loss on the run's own splits = the Trainer's eval/test loss."""
    from ft_core.train import train
    config = RunConfig(
        data=DataConfig(source="builtin:chatterbot", text_column="question",
                        response_column="answer", max_rows=24),
        model=ModelConfig(name_or_path=str(tiny_llama_dir), task="causal_lm", method="lora"),
        train=TrainConfig(max_steps=2, max_length=64, eval_strategy="no", save_strategy="no",
                          learning_rate=1e-2, per_device_train_batch_size=4),
        name="cmp-chat", runs_dir=str(tmp_path / "runs"))
    run_dir = runs.create_run(config, tmp_path / "runs")
    train(config, run_dir)
    info = runs.read_run_info(run_dir)
    pair = C.open_run_pair(tmp_path / "runs", run_dir.name)
    test = C.compare_loss(pair, C.lm_rows_from_run(pair, "test")).table.set_index("side")
    assert test.loc["right", "loss"] == pytest.approx(info["test_metrics"]["test_loss"],
                                                      rel=1e-4)
    assert test.loc["left", "loss"] != pytest.approx(test.loc["right", "loss"], rel=1e-6)
