"""The offline quick-start recipes, end to end on the embedded models, on a small subset.

The full recipes' figures (time, base vs fine-tuned) are in docs/benchmarks.md; here each
runs a few steps through the real CLI path and must move the held-out metric the right
way, starting from the base model's own evaluation (eval_on_start)."""

from __future__ import annotations

import pytest

from ft_core import runs
from ft_core.recipes import recipe_config
from ft_core.train import train

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _evals(run_dir) -> list[dict]:
    return [e for e in runs.read_events(run_dir)[0] if e["type"] == "eval"]


def test_drug_reviews_quickstart_subset(tmp_path):
    config = recipe_config("drug-reviews-minilm")
    config.data.max_rows = 96  # 96 train / 96 held-out test reviews
    config.train.max_steps = 12
    config.train.eval_strategy = "no"  # base (eval_on_start) and final evaluation only
    metrics = train(config, tmp_path / "run")
    evals = _evals(tmp_path / "run")
    base = evals[0]["metrics"]
    assert evals[0]["step"] == 0 and base["eval_loss"] > 0
    assert metrics["eval_loss"] < base["eval_loss"]
    assert 0 <= metrics["eval_f1_macro"] <= 1
    info = runs.read_run_info(tmp_path / "run")
    assert info["status"] == "finished" and info["new_head"] is True
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    model = AutoModelForSequenceClassification.from_pretrained(tmp_path / "run" / "model")
    assert set(model.config.label2id) == {"negative", "neutral", "positive"}
    # The recipe reads the end of each review; the saved tokenizer keeps doing so.
    tok = AutoTokenizer.from_pretrained(tmp_path / "run" / "model")
    assert tok.truncation_side == "left"


def test_smollm2_cpt_quickstart_subset(tmp_path):
    config = recipe_config("smollm2-cpt")
    config.data.max_rows = 48
    config.train.max_steps = 4
    config.train.eval_strategy = "no"
    metrics = train(config, tmp_path / "run")
    base = _evals(tmp_path / "run")[0]["metrics"]
    assert metrics["eval_loss"] < base["eval_loss"] * 0.95
    assert metrics["eval_perplexity"] < base["eval_perplexity"]
    assert runs.read_run_info(tmp_path / "run")["status"] == "finished"
    assert (tmp_path / "run" / "model" / "model.safetensors").exists()
