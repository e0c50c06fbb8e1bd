"""Class-weighted loss: weights by inverse frequency, used by a real Trainer run."""

import json

import pytest
import torch

from ft_core.training.losses import inverse_frequency_weights, weighted_cross_entropy


def test_inverse_frequency_weights():
    w = inverse_frequency_weights([0, 0, 0, 1], 3)
    # n / (k * count): 4/(3*3), 4/(3*1); the absent class gets 1
    assert w.tolist() == pytest.approx([4 / 9, 4 / 3, 1.0])


def test_weighted_loss_matches_manual_and_scales_by_item_count():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    labels = torch.tensor([0, 1, 1])
    w = torch.tensor([0.5, 2.0])
    fn = weighted_cross_entropy(w)
    out = {"logits": logits}
    per_row = torch.nn.functional.cross_entropy(logits, labels, reduction="none")
    manual_mean = (per_row * w[labels]).sum() / w[labels].sum()
    assert fn(out, labels).item() == pytest.approx(manual_mean.item())
    assert fn(out, labels, num_items_in_batch=3).item() == \
        pytest.approx(((per_row * w[labels]).sum() / 3).item())


def test_unit_weights_equal_the_models_own_loss(tiny_bert_dir):
    """Every classification run uses this loss: with weights of 1 it is exactly the
    model's built-in cross-entropy (one process; num_items = the batch's labels)."""
    from transformers import AutoModelForSequenceClassification
    model = AutoModelForSequenceClassification.from_pretrained(tiny_bert_dir).train()
    torch.manual_seed(0)
    ids = torch.randint(5, 100, (4, 7))
    labels = torch.tensor([0, 2, 1, 2])
    torch.manual_seed(1)
    out = model(input_ids=ids, labels=labels)
    fn = weighted_cross_entropy(torch.ones(3), model)
    assert fn(out, labels, num_items_in_batch=4).item() == pytest.approx(out.loss.item())
    assert fn(out, labels).item() == pytest.approx(out.loss.item())


def test_evaluation_reports_the_plain_loss():
    model = torch.nn.Linear(2, 2).eval()
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    labels = torch.tensor([0, 1])
    fn = weighted_cross_entropy(torch.tensor([0.1, 5.0]), model)
    plain = torch.nn.functional.cross_entropy(logits, labels)
    assert fn({"logits": logits}, labels).item() == pytest.approx(plain.item())
    model.train()
    assert fn({"logits": logits}, labels).item() != pytest.approx(plain.item())


def test_class_weighting_in_a_real_run(tiny_bert_dir, tmp_path):
    from ft_core.config import RunConfig
    from ft_core.train import train
    rows = ["text,label"] + [f"{'good' if i % 5 else 'bad'} thing {i},"
                             f"{'pos' if i % 5 else 'neg'}" for i in range(40)]
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    cfg = RunConfig.from_dict({
        "data": {"source": str(tmp_path / "d.csv"), "text_column": "text",
                 "label_column": "label"},
        "model": {"name_or_path": str(tiny_bert_dir), "task": "classification"},
        "train": {"max_steps": 3, "per_device_train_batch_size": 8, "eval_strategy": "no",
                  "save_strategy": "no", "class_weighting": True, "logging_steps": 1},
        "runs_dir": str(tmp_path / "runs")})
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    train(cfg, run_dir)
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    notes = [e["text"] for e in events if e["type"] == "message"]
    assert any(n.startswith("Class weights") and "neg=" in n for n in notes)
    assert any(e["type"] == "log" and e.get("loss") is not None for e in events)
