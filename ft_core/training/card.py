"""The model card README.md written into a run folder."""

from __future__ import annotations

import json
from pathlib import Path


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def write_model_card(run_dir: Path, config, info: dict, metrics: dict,
                     test_metrics: dict | None = None) -> Path:
    m, t, d = config.model, config.train, config.data
    lines = [
        "---",
        "library_name: " + ("peft" if m.method == "lora" else "transformers"),
        "pipeline_tag: " + ("text-classification" if m.task == "classification"
                            else "text-generation"),
        "tags: [fine-tuning-lab]",
        "---",
        "",
        f"# {config.name or Path(run_dir).name}",
        "",
        f"Fine-tuned with Fine-Tuning Lab from **{m.name_or_path}** "
        f"({m.task}, method: {m.method}). Status: **{info.get('status', '?')}**.",
        "",
        "## Data",
        f"- source: `{d.source}`" + (f" (config `{d.hub_config}`)" if d.hub_config else ""),
        f"- columns: text `{d.text_column}`"
        + (f", pair `{d.text_pair_column}`" if d.text_pair_column else "")
        + (f", label `{d.label_column}`" if d.label_column else "")
        + (f", response `{d.response_column}`" if d.response_column else ""),
        f"- rows: train {info.get('train_rows')}, validation {info.get('eval_rows')}",
    ]
    if info.get("label_names"):
        lines.append(f"- labels: {', '.join(map(str, info['label_names']))}")
    lines += ["", "## Hyperparameters", "", "| name | value |", "|---|---|"]
    for k, v in t.to_dict().items():
        lines.append(f"| {k} | {_fmt(v)} |")
    if m.method == "lora":
        lines += [f"| lora_r | {m.lora_r} |", f"| lora_alpha | {m.lora_alpha} |",
                  f"| lora_dropout | {m.lora_dropout} |",
                  f"| lora_target_modules | {info.get('lora_target_modules')} |"]
    lines += [f"| trainable / total params | {info.get('trainable_params'):,} / "
              f"{info.get('total_params'):,} |", ""]
    for title, values in (("Validation metrics", metrics), ("Test metrics", test_metrics)):
        if values:
            lines += [f"## {title}", "", "| metric | value |", "|---|---|"]
            lines += [f"| {k} | {_fmt(v)} |" for k, v in values.items()
                      if isinstance(v, (int, float))]
            lines.append("")
    lines += ["## Use it", "", "```python"]
    if m.method == "lora":
        cls = "AutoPeftModelForCausalLM" if m.task == "causal_lm" else \
            "AutoPeftModelForSequenceClassification"
        lines += [f"from peft import {cls}", f"model = {cls}.from_pretrained('model')"]
    else:
        cls = "AutoModelForCausalLM" if m.task == "causal_lm" else \
            "AutoModelForSequenceClassification"
        lines += [f"from transformers import AutoTokenizer, {cls}",
                  f"model = {cls}.from_pretrained('model')",
                  "tokenizer = AutoTokenizer.from_pretrained('model')"]
    lines += ["```", "", "Re-run: `python -m ft_core train --config config.yaml`", "",
              "<!-- run info: " + json.dumps({k: info.get(k) for k in
                                              ("id", "status", "best_metric")},
                                             default=str) + " -->", ""]
    path = Path(run_dir) / "README.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
