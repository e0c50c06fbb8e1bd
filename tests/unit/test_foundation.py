"""Configs, errors, catalog and metrics: the pieces every tab stands on."""

import time

import pytest

from ft_core.catalog import (
    BUILTIN_DATASETS,
    EMBEDDED_MODELS,
    MINILM,
    SMOLLM,
    builtin_dataset_path,
    resolve_model,
)
from ft_core.config import DataConfig, GenerationConfig, RunConfig, TrainConfig
from ft_core.errors import UserError
from ft_core.metrics import classification_metrics, load_metric


def test_run_config_yaml_round_trip(tmp_path):
    cfg = RunConfig(data=DataConfig(source="builtin:drug_reviews", text_column="review",
                                    label_column="rating",
                                    filters=[{"column": "rating", "op": "!=",
                                              "value": "neutral"}]),
                    train=TrainConfig(learning_rate=1e-4, max_steps=5))
    path = cfg.save(tmp_path / "run.yaml")
    again = RunConfig.load(path)
    assert again.to_dict() == cfg.to_dict()
    assert again.data.filters[0].op == "!="


@pytest.mark.parametrize("kwargs, words", [
    ({"learning_rate": 0}, "Learning rate"),
    ({"per_device_train_batch_size": 0}, "Batch size"),
    ({"max_length": 2}, "max_length"),
])
def test_train_config_refuses_bad_values(kwargs, words):
    with pytest.raises(UserError, match=words):
        TrainConfig(**kwargs)


def test_data_config_ratios_must_sum_to_one():
    with pytest.raises(UserError, match="sum to"):
        DataConfig(train_ratio=0.5, validation_ratio=0.1, test_ratio=0.1)


def test_generation_config_explains_inconsistencies():
    with pytest.raises(UserError, match="top_p 0"):
        GenerationConfig(top_p=0)
    with pytest.raises(UserError, match="num_beams"):
        GenerationConfig(num_beams=2, num_return_sequences=3, do_sample=False)
    with pytest.raises(UserError, match="num_beams"):
        GenerationConfig(num_beams=9)


def test_unknown_yaml_field_is_named():
    with pytest.raises(UserError, match="lerning_rate"):
        RunConfig.from_yaml("train:\n  lerning_rate: 0.1\n")


def test_embedded_presets_resolve_to_files():
    assert {MINILM, SMOLLM} <= set(EMBEDDED_MODELS)
    assert (resolve_model(MINILM).path.endswith("model"))
    smol = resolve_model(SMOLLM)
    assert smol.kind == "gguf" and smol.gguf_file.endswith(".gguf")
    for name in BUILTIN_DATASETS:
        assert builtin_dataset_path(name).exists()


def test_offline_hub_id_fails_fast_with_alternatives():
    start = time.monotonic()
    with pytest.raises(UserError) as err:
        resolve_model("some-user/some-model-that-is-not-cached")
    assert time.monotonic() - start < 5
    assert MINILM in str(err.value) and "offline" in str(err.value)


def test_missing_local_folder_is_reported():
    with pytest.raises(UserError, match="does not exist"):
        resolve_model("./no/such/folder")


def test_local_metrics_match_hand_computed_values():
    refs, preds = [0, 1, 2, 2], [0, 1, 1, 2]
    assert load_metric("accuracy").compute(predictions=preds, references=refs) == \
        {"accuracy": 0.75}
    # per class F1: 1, 2/3, 2/3 -> macro 7/9
    f1 = load_metric("f1").compute(predictions=preds, references=refs)["f1"]
    assert f1 == pytest.approx(7 / 9)
    m = classification_metrics(refs, preds, ["a", "b", "c"])
    assert m["precision_b"] == 0.5 and m["recall_c"] == 0.5
    assert m["f1_micro"] == pytest.approx(0.75)


def test_each_local_metric_module_reports_its_own_score():
    refs, preds = [0, 1, 2, 2], [0, 1, 1, 2]
    assert load_metric("precision").compute(predictions=preds, references=refs,
                                            average=None) == {"precision": [1.0, 0.5, 1.0]}
    assert load_metric("recall").compute(predictions=preds, references=refs)["recall"] == \
        pytest.approx(5 / 6)
