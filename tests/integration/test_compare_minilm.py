"""Compare on the real embedded MiniLM and the drug reviews (a small subset)."""

import time

import pytest

from ft_core import compare as C
from ft_core import runs
from ft_core.catalog import MINILM
from ft_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_minilm_run_vs_base_on_drug_reviews(tmp_path):
    import torch

    from ft_core.models import load_model, load_tokenizer
    labels = ["negative", "neutral", "positive"]
    config = RunConfig(data=DataConfig(source="builtin:drug_reviews", text_column="review",
                                       label_column="rating", max_rows=24),
                       model=ModelConfig(name_or_path=MINILM), train=TrainConfig(max_length=64))
    run_dir = tmp_path / "minilm-run"
    run_dir.mkdir()
    config.save(run_dir / "config.yaml")
    torch.manual_seed(1)  # a different head from the base side's seeded one
    model, info = load_model(MINILM, "classification", num_labels=3,
                             id2label=dict(enumerate(labels)),
                             label2id={n: i for i, n in enumerate(labels)})
    assert info["new_head"]
    model.save_pretrained(run_dir / "model")
    load_tokenizer(MINILM).save_pretrained(run_dir / "model")
    runs.write_run_info(run_dir, id="minilm-run", status="finished", task="classification",
                        base_model=MINILM, created=time.time())

    pair = C.open_run_pair(tmp_path, "minilm-run")
    assert pair.left.new_head and pair.labels == labels
    data = C.eval_set_from_run(pair)
    assert len(data.texts) == 24 and data.majority is not None
    result = C.compare_classification(pair, data)
    assert len(result.rows) == 24
    assert result.confusion_left.sum() == result.confusion_right.sum() == 24
    overall = result.overall.set_index("metric")
    assert 0 <= overall.loc["accuracy", "left"] <= 1
    assert "majority baseline" in result.overall.columns
    # the two heads differ, so some rows differ (this is a real forward pass, not a copy)
    assert (result.rows["left p"] != result.rows["right p"]).any()
