"""Run folders for the Compare tests: tiny models saved the way the Train tab saves them."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from ft_core import runs
from ft_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig

LABELS = ["negative", "neutral", "positive"]
WORDS = {0: ["awful", "terrible", "bad", "horrible"], 1: ["okay", "average", "fine", "plain"],
         2: ["great", "wonderful", "good", "excellent"]}


def toy_rows(n: int = 60, seed: int = 0) -> pd.DataFrame:
    """Short sentences whose label is given away by one word (a learnable toy task)."""
    import random
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = i % 3
        word = rng.choice(WORDS[label])
        rows.append({"text": f"the medicine was {word} for me {rng.randint(0, 99)}",
                     "label": LABELS[label]})
    return pd.DataFrame(rows)


def train_tiny_classifier(base_dir: Path, out_dir: Path, steps: int = 40, lr: float = 3e-3
                          ) -> Path:
    """Fine-tune the tiny BERT a few steps with plain torch and save it with its labels."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModelForSequenceClassification.from_pretrained(
        base_dir, num_labels=3, id2label=dict(enumerate(LABELS)),
        label2id={v: i for i, v in enumerate(LABELS)}, ignore_mismatched_sizes=True)
    df = toy_rows(90, seed=1)
    enc = tok(list(df["text"]), padding=True, return_tensors="pt")
    y = torch.tensor([LABELS.index(v) for v in df["label"]])
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    for step in range(steps):
        idx = torch.arange(step * 16, step * 16 + 16) % len(y)
        loss = model(input_ids=enc["input_ids"][idx], attention_mask=enc["attention_mask"][idx],
                     labels=y[idx]).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    return out_dir


def make_run(runs_dir: Path, run_id: str, base: str, task: str = "classification",
             method: str = "full", status: str = "finished", data: DataConfig | None = None
             ) -> Path:
    """runs/<id>/ with config.yaml and run.json; the caller puts the model in model/."""
    run_dir = Path(runs_dir) / run_id
    (run_dir / "model").mkdir(parents=True, exist_ok=True)
    if data is None:
        csv = run_dir / "data.csv"
        toy_rows(60).to_csv(csv, index=False)
        data = DataConfig(source=str(csv), text_column="text", label_column="label")
    config = RunConfig(data=data, model=ModelConfig(name_or_path=str(base), task=task,
                                                    method=method),
                       train=TrainConfig(max_length=64), name=run_id, runs_dir=str(runs_dir))
    config.save(run_dir / "config.yaml")
    runs.write_run_info(run_dir, id=run_id, status=status, task=task, base_model=str(base),
                        method=method, dataset=data.source, created=time.time())
    return run_dir


def make_classifier_run(runs_dir: Path, run_id: str, tiny_bert_dir: Path) -> Path:
    run_dir = make_run(runs_dir, run_id, str(tiny_bert_dir))
    train_tiny_classifier(tiny_bert_dir, run_dir / "model")
    return run_dir


def make_lora_run(runs_dir: Path, run_id: str, tiny_llama_dir: Path) -> Path:
    """A LoRA adapter on the tiny Llama whose B matrices are non-zero (it changes outputs)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer
    run_dir = make_run(runs_dir, run_id, str(tiny_llama_dir), task="causal_lm", method="lora",
                       data=DataConfig(source="builtin:chatterbot", text_column="question",
                                       response_column="answer"))
    torch.manual_seed(1)
    base = AutoModelForCausalLM.from_pretrained(tiny_llama_dir)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                      init_lora_weights=False, task_type="CAUSAL_LM")
    model = get_peft_model(base, lora)
    model.save_pretrained(run_dir / "model")
    AutoTokenizer.from_pretrained(tiny_llama_dir).save_pretrained(run_dir / "model")
    return run_dir
