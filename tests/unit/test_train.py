"""train(): real Trainer runs on tiny models built from a config (seconds on a CPU)."""

from __future__ import annotations

import json
import random

import pytest
import torch

from ft_core import runs
from ft_core.config import RunConfig
from ft_core.errors import UserError
from ft_core.train import PreparedData, train_prepared, validate

LABELS = ["neg", "neu", "pos"]
WORDS = {0: ["bad", "awful", "terrible"], 1: ["okay", "fine", "average"],
         2: ["great", "good", "excellent"]}


def cls_rows(n: int, seed: int = 0) -> dict:
    rng = random.Random(seed)
    labels = [rng.randrange(3) for _ in range(n)]
    texts = [f"this is {rng.choice(WORDS[y])} stuff number {i}" for i, y in enumerate(labels)]
    return {"text": texts, "label": labels}


def cls_data(n_train: int = 48, text_pair: bool = False) -> PreparedData:
    from datasets import Dataset, DatasetDict
    parts = {}
    for name, n, seed in (("train", n_train, 0), ("validation", 12, 1), ("test", 12, 2)):
        rows = cls_rows(n, seed)
        if text_pair:
            rows["text2"] = [f"second part {i}" for i in range(n)]
        parts[name] = Dataset.from_dict(rows)
    return PreparedData(DatasetDict(parts), "text", "text2" if text_pair else None, "label",
                        None, LABELS, {n: i for i, n in enumerate(LABELS)})


def lm_data(chat: bool) -> PreparedData:
    from datasets import Dataset, DatasetDict
    q = [f"what is {i} plus one?" for i in range(40)]
    a = [f"it is {i + 1}." for i in range(40)]
    rows = {"question": q, "answer": a} if chat else \
        {"question": [f"{x} {y}" for x, y in zip(q, a, strict=True)]}
    ds = Dataset.from_dict(rows)
    splits = DatasetDict(train=ds.select(range(32)), validation=ds.select(range(32, 40)))
    return PreparedData(splits, "question", response_column="answer" if chat else None)


def cls_config(model_dir, **train) -> RunConfig:
    t = dict(num_train_epochs=2, per_device_train_batch_size=8, learning_rate=5e-3,
             logging_steps=2, eval_on_start=True)
    t.update(train)
    return RunConfig.from_dict({
        "data": {"source": "builtin:drug_reviews"},
        "model": {"name_or_path": str(model_dir), "task": "classification"},
        "train": t})


def lm_config(model_dir, method="full", **train) -> RunConfig:
    t = dict(num_train_epochs=2, per_device_train_batch_size=8, learning_rate=1e-2,
             logging_steps=2, max_length=64, eval_on_start=True)
    t.update(train)
    return RunConfig.from_dict({
        "data": {"source": "builtin:chatterbot"},
        "model": {"name_or_path": str(model_dir), "task": "causal_lm", "method": method,
                  "lora_r": 4, "lora_alpha": 8},
        "train": t})


def events(run_dir) -> list[dict]:
    return runs.read_events(run_dir)[0]


def state_dict(path, cls):
    return {k: v.clone() for k, v in cls.from_pretrained(path).state_dict().items()}


# -- classification ---------------------------------------------------------------------------

def test_full_classification_run_writes_everything(tiny_bert_dir, tmp_path):
    from transformers import AutoModelForSequenceClassification as Cls
    run_dir = tmp_path / "run"
    config = cls_config(tiny_bert_dir)
    metrics = train_prepared(config, run_dir, cls_data())

    assert {"eval_loss", "eval_accuracy", "eval_f1_macro", "test_f1_macro"} <= set(metrics)
    info = runs.read_run_info(run_dir)
    assert info["status"] == "finished" and info["error"] is None
    assert 0 < info["train_runtime"] < info["finished"] - info["started"]
    assert info["trainable_params"] == info["total_params"] > 0
    assert info["new_head"] is False  # tiny_bert already has a 3-label head
    assert info["best_metric"]["name"] == "eval_loss"
    trained = [e["metrics"]["eval_loss"] for e in events(run_dir)
               if e["type"] == "eval" and e["step"] > 0]
    assert info["best_metric"]["value"] == pytest.approx(min(trained))  # not the base's
    types = [e["type"] for e in events(run_dir)]
    for t in ("start", "log", "progress", "eval", "checkpoint", "status", "test"):
        assert t in types, t
    start = next(e for e in events(run_dir) if e["type"] == "start")
    assert start["total_steps"] == 12 and start["train_rows"] == 48
    assert start["device"] == "cpu" and start["precision"] == "fp32"
    evals = [e for e in events(run_dir) if e["type"] == "eval"]
    assert evals[0]["step"] == 0 and len(evals) == 3  # start + 2 epochs
    assert "eval_precision_pos" in evals[-1]["metrics"]
    logs = [e for e in events(run_dir) if e["type"] == "log"]
    assert all({"step", "epoch", "loss", "learning_rate", "grad_norm"} <= set(e) for e in logs)

    # The saved model is plain transformers, with the label names, and has learnt.
    model = Cls.from_pretrained(run_dir / "model")
    assert model.config.id2label == dict(enumerate(LABELS))
    before = state_dict(tiny_bert_dir, Cls)
    after = model.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert any("encoder" in k for k in changed) and any("classifier" in k for k in changed)
    assert (run_dir / "model" / "tokenizer.json").exists()
    card = (run_dir / "README.md").read_text()
    assert str(tiny_bert_dir) in card and "learning_rate" in card and "eval_f1_macro" in card
    assert RunConfig.load(run_dir / "config.yaml").to_dict() == config.to_dict()
    assert list((run_dir / "tb").rglob("events.out.tfevents*"))
    assert runs.latest_checkpoint(run_dir).name == "checkpoint-12"


def test_best_metric_ignores_the_base_models_evaluation(tiny_bert_dir):
    """A short run that only got worse reports its own best, not the untrained model's
    step-0 score (eval_on_start)."""
    from types import SimpleNamespace

    from ft_core.train import _best_metric
    history = [{"step": 0, "eval_loss": 0.5, "eval_f1_macro": 0.6},
               {"step": 10, "loss": 0.7}, {"step": 10, "eval_loss": 0.9, "eval_f1_macro": 0.3},
               {"step": 20, "eval_loss": 0.8, "eval_f1_macro": 0.2}]
    trainer = SimpleNamespace(state=SimpleNamespace(log_history=history))
    assert _best_metric(cls_config(tiny_bert_dir), {}, trainer)["value"] == 0.8
    f1 = cls_config(tiny_bert_dir, metric_for_best_model="f1_macro")
    assert _best_metric(f1, {}, trainer) == {"name": "eval_f1_macro", "value": 0.3}


def test_head_only_freezes_the_base(tiny_bert_dir, tmp_path):
    from transformers import AutoModelForSequenceClassification as Cls
    config = cls_config(tiny_bert_dir, eval_on_start=False, num_train_epochs=1,
                        eval_strategy="no", save_strategy="no")
    config.model.method = "head"
    train_prepared(config, tmp_path / "run", cls_data())
    info = runs.read_run_info(tmp_path / "run")
    assert 0 < info["trainable_params"] < info["total_params"] / 100
    before = state_dict(tiny_bert_dir, Cls)
    after = Cls.from_pretrained(tmp_path / "run" / "model").state_dict()
    for k, v in before.items():
        if k.startswith("bert."):
            assert torch.equal(v, after[k]), k
    assert not torch.equal(before["classifier.weight"], after["classifier.weight"])


def test_text_pair_and_new_head(tiny_bert_dir, tmp_path):
    """Two labels instead of the checkpoint's three: a new head, flagged in notes."""
    data = cls_data(text_pair=True)
    for split in data.splits:
        data.splits[split] = data.splits[split].map(lambda r: {"label": r["label"] % 2})
    data.label_names = ["no", "yes"]
    config = cls_config(tiny_bert_dir, max_steps=2, eval_strategy="no",
                        save_strategy="no", eval_on_start=False)
    notes = validate(config, data)
    assert any("newly initialised" in n for n in notes)
    train_prepared(config, tmp_path / "run", data)
    info = runs.read_run_info(tmp_path / "run")
    assert info["new_head"] is True and info["status"] == "finished"
    msgs = [e["text"] for e in events(tmp_path / "run") if e["type"] == "message"]
    assert any("newly initialised" in m for m in msgs)


def test_truncation_side_keeps_the_end_and_is_saved(tiny_bert_dir, tmp_path):
    """'left' keeps a long text's end (where reviews give their verdict) and travels with
    the saved tokenizer; 'right' (the default) keeps the start."""
    from transformers import AutoTokenizer

    from ft_core.training.tokenize import TokenizeSpec, tokenize_splits
    tok = AutoTokenizer.from_pretrained(tiny_bert_dir)
    data = cls_data()
    text = data.splits["train"][5]["text"]  # "this is <word> stuff number 5"
    kept = {}
    for side in ("right", "left"):
        spec = TokenizeSpec("classification", 6, "text", truncation_side=side)
        out, _ = tokenize_splits(data.splits, tok, spec, cache_dir=tmp_path / "cache")
        kept[side] = tok.decode(out["train"][5]["input_ids"], skip_special_tokens=True)
    assert kept["right"].startswith("this is") and "number" not in kept["right"]
    assert kept["left"].endswith("number 5") and "this" not in kept["left"]
    assert text.startswith(kept["right"])

    config = cls_config(tiny_bert_dir, max_steps=1, max_length=8, truncation_side="left",
                        eval_on_start=False, eval_strategy="no", save_strategy="no")
    train_prepared(config, tmp_path / "run", data)
    assert AutoTokenizer.from_pretrained(tmp_path / "run" / "model").truncation_side == "left"
    assert RunConfig.load(tmp_path / "run" / "config.yaml").train.truncation_side == "left"
    with pytest.raises(UserError, match="truncation_side"):
        cls_config(tiny_bert_dir, truncation_side="middle")


# -- causal LM ---------------------------------------------------------------------------------

def test_plain_text_causal_lm_learns(tiny_llama_dir, tmp_path):
    config = lm_config(tiny_llama_dir, max_steps=10, eval_strategy="no", save_strategy="no")
    metrics = train_prepared(config, tmp_path / "run", lm_data(chat=False))
    evals = [e["metrics"] for e in events(tmp_path / "run") if e["type"] == "eval"]
    assert evals[-1]["eval_loss"] < evals[0]["eval_loss"] * 0.9
    assert metrics["eval_perplexity"] == pytest.approx(
        torch.tensor(metrics["eval_loss"]).exp().item(), rel=1e-4)
    from transformers import AutoModelForCausalLM
    AutoModelForCausalLM.from_pretrained(tmp_path / "run" / "model")


def test_chat_tokenisation_masks_the_prompt(tiny_llama_dir):
    from transformers import AutoTokenizer

    from ft_core.training.tokenize import IGNORE_INDEX, TokenizeSpec, tokenize_splits
    tok = AutoTokenizer.from_pretrained(tiny_llama_dir)
    data = lm_data(chat=True)
    spec = TokenizeSpec("chat", 64, "question", response_column="answer")
    out, _ = tokenize_splits(data.splits, tok, spec, cache_dir=None)
    row = out["train"][3]
    masked = [i for i, v in enumerate(row["labels"]) if v == IGNORE_INDEX]
    assert masked == list(range(len(masked))) and 0 < len(masked) < len(row["labels"])
    answer_ids = row["input_ids"][len(masked):]
    assert row["labels"][len(masked):] == answer_ids
    assert tok.decode(answer_ids).startswith("it is 4.")
    assert "what is 3 plus one?" in tok.decode(row["input_ids"][:len(masked)])
    assert "<|im_start|>assistant" in tok.decode(row["input_ids"][:len(masked)])
    assert answer_ids[-1] == tok.convert_tokens_to_ids("<|im_end|>") or \
        tok.eos_token_id in answer_ids
    # Without the option the loss covers every token.
    spec_all = TokenizeSpec("chat", 64, "question", response_column="answer",
                            loss_on_answers_only=False)
    out_all, _ = tokenize_splits(data.splits, tok, spec_all, cache_dir=None)
    assert out_all["train"][3]["labels"] == out_all["train"][3]["input_ids"]


def test_tokenised_data_is_cached(tiny_llama_dir, tmp_path):
    from transformers import AutoTokenizer

    from ft_core.training.tokenize import TokenizeSpec, tokenize_splits
    tok = AutoTokenizer.from_pretrained(tiny_llama_dir)
    spec = TokenizeSpec("text", 32, "question")
    first, hit1 = tokenize_splits(lm_data(False).splits, tok, spec, tmp_path)
    second, hit2 = tokenize_splits(lm_data(False).splits, tok, spec, tmp_path)
    assert (hit1, hit2) == (False, True)
    assert first["train"]["input_ids"] == second["train"]["input_ids"]
    assert all(ids[-1] == tok.eos_token_id for ids in first["train"]["input_ids"])
    spec.max_length = 16  # different settings, different cache entry
    _, hit3 = tokenize_splits(lm_data(False).splits, tok, spec, tmp_path)
    assert hit3 is False


def test_lora_saves_adapter_and_merged_model(tiny_llama_dir, tmp_path):
    config = lm_config(tiny_llama_dir, method="lora", max_steps=3, eval_on_start=False,
                       eval_strategy="no", save_strategy="no")
    config.model.merge_lora = True
    train_prepared(config, tmp_path / "run", lm_data(chat=True))
    model_dir = tmp_path / "run" / "model"
    assert (model_dir / "adapter_config.json").exists()
    assert not (model_dir / "model.safetensors").exists()
    adapter = json.loads((model_dir / "adapter_config.json").read_text())
    assert set(adapter["target_modules"]) == {"q_proj", "k_proj", "v_proj", "o_proj",
                                              "gate_proj", "up_proj", "down_proj"}
    info = runs.read_run_info(tmp_path / "run")
    assert info["trainable_params"] < info["total_params"] / 5
    from transformers import AutoModelForCausalLM
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "run" / "merged")
    base = AutoModelForCausalLM.from_pretrained(tiny_llama_dir)
    w = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(merged.state_dict()[w], base.state_dict()[w])


# -- stop, resume, pruning ------------------------------------------------------------------------

class _StopAt:
    """Presses Stop (creates the STOP file) after a given step, as the UI would."""

    def __new__(cls, run_dir, step):
        from transformers import TrainerCallback

        class StopAt(TrainerCallback):
            def on_step_end(self, args, state, control, **kw):
                if state.global_step == step:
                    runs.request_stop(run_dir)
        return StopAt()


def test_stop_then_resume(tiny_bert_dir, tmp_path):
    run_dir = tmp_path / "run"
    config = cls_config(tiny_bert_dir, max_steps=10, save_strategy="no",
                        eval_strategy="no", eval_on_start=False)
    train_prepared(config, run_dir, cls_data(), extra_callbacks=(_StopAt(run_dir, 3),))
    info = runs.read_run_info(run_dir)
    assert info["status"] == "stopped"
    ckpt = runs.latest_checkpoint(run_dir)
    assert ckpt is not None and ckpt.name == "checkpoint-4"  # seen at the next step
    assert (ckpt / "optimizer.pt").exists()  # resumable, not just weights

    train_prepared(config, run_dir, cls_data(), resume=True)
    info = runs.read_run_info(run_dir)
    assert info["status"] == "finished" and info["global_step"] == 10
    starts = [e for e in events(run_dir) if e["type"] == "start"]
    assert [s["resumed_from_step"] for s in starts] == [0, 4]
    logs = [e["step"] for e in events(run_dir) if e["type"] == "log"]
    assert logs[-1] == 10 and 5 not in logs[:logs.index(4) + 1]
    assert not runs.stop_requested(run_dir)


def test_resume_without_checkpoint_is_a_user_error(tiny_bert_dir, tmp_path):
    with pytest.raises(UserError, match="no checkpoint"):
        train_prepared(cls_config(tiny_bert_dir), tmp_path / "run", cls_data(), resume=True)
    assert runs.read_run_info(tmp_path / "run")["status"] == "failed"


def test_optuna_trial_is_reported_and_pruned(tiny_bert_dir, tmp_path):
    import optuna
    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=0.0))
    trial = study.ask()
    config = cls_config(tiny_bert_dir, eval_strategy="steps", eval_steps=2,
                        eval_on_start=False)
    with pytest.raises(optuna.TrialPruned):
        train_prepared(config, tmp_path / "run", cls_data(), trial=trial)
    assert runs.read_run_info(tmp_path / "run")["status"] == "pruned"
    assert trial.storage.get_trial(trial._trial_id).intermediate_values.keys() == {2}


# -- bad input ---------------------------------------------------------------------------------

def _with_labels(data: PreparedData, labels: list[int], names: list[str]) -> PreparedData:
    data.splits["train"] = data.splits["train"].map(
        lambda r, i: {"label": labels[i % len(labels)]}, with_indices=True)
    data.label_names = names
    return data


@pytest.mark.parametrize("case, match", [
    ("one_class", "one class"),
    ("many_classes", "more than 200"),
    ("empty_text", "are empty"),
    ("no_train", "no prepared training data"),
    ("no_label", "needs a label column"),
])
def test_bad_data_is_refused_before_training(tiny_bert_dir, tmp_path, case, match):
    from datasets import Dataset
    data = cls_data()
    if case == "one_class":
        data = _with_labels(data, [0], ["only"])
    elif case == "many_classes":
        data = _with_labels(data, list(range(48)), [f"c{i}" for i in range(250)])
    elif case == "empty_text":
        data.splits["train"] = data.splits["train"].map(
            lambda r, i: {"text": "  " if i == 3 else r["text"]}, with_indices=True)
    elif case == "no_train":
        data.splits["train"] = Dataset.from_dict({"text": [], "label": []})
    elif case == "no_label":
        data.label_column = None
    config = cls_config(tiny_bert_dir)
    with pytest.raises(UserError, match=match):
        validate(config, data)
    with pytest.raises(UserError, match=match):
        train_prepared(config, tmp_path / "run", data)
    info = runs.read_run_info(tmp_path / "run")
    assert info["status"] == "failed" and match.split()[0] in info["error"]
    assert not (tmp_path / "run" / "model").exists()


def test_bad_model_settings_are_refused(tiny_bert_dir, tiny_llama_dir):
    data = cls_data()
    too_long = cls_config(tiny_bert_dir, max_length=512)  # tiny_bert takes 128 positions
    with pytest.raises(UserError, match="above what"):
        validate(too_long, data)
    encoder_as_lm = lm_config(tiny_bert_dir)
    with pytest.raises(UserError, match="cannot generate text"):
        validate(encoder_as_lm, lm_data(chat=True))
    head_lm = lm_config(tiny_llama_dir, method="head")
    with pytest.raises(UserError, match="Head-only"):
        validate(head_lm, lm_data(chat=True))
    fp16 = cls_config(tiny_bert_dir, precision="fp16")
    with pytest.raises(UserError, match="needs a GPU"):
        validate(fp16, data)
    best = cls_config(tiny_bert_dir, load_best_model_at_end=True, save_strategy="no")
    with pytest.raises(UserError, match="same evaluation and save"):
        validate(best, data)
    # A decoder as a classifier works, with a note saying an encoder is usually better.
    llama_cls = cls_config(tiny_llama_dir)
    assert any("causal LM used as a classifier" in n for n in validate(llama_cls, data))


def test_offline_hub_model_fails_fast(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    config = cls_config("someone/not-a-cached-model")
    with pytest.raises(UserError, match="Hub"):
        validate(config, cls_data())


def test_unwritable_run_folder_is_a_user_error(tiny_bert_dir, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(UserError, match="Cannot write the run folder"):
        train_prepared(cls_config(tiny_bert_dir), blocker / "run", cls_data())


def test_out_of_memory_becomes_advice():
    from ft_core.train import _as_user_error
    err = _as_user_error(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate"))
    assert err is not None and "out of memory" in err.message
    for word in ("batch", "gradient checkpointing", "LoRA"):
        assert word in str(err)
    assert _as_user_error(ValueError("something else")) is None
