"""LoRA through peft: default target modules per architecture, and head-only freezing."""

from __future__ import annotations

# Attention and MLP projections per model_type; anything else falls back to peft's
# "all-linear" (every linear layer but the output head).
DEFAULT_TARGETS: dict[str, list[str]] = {
    "llama": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "mistral": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "qwen2": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "qwen3": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "gemma": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "phi3": ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"],
    "bert": ["query", "key", "value", "dense"],
    "roberta": ["query", "key", "value", "dense"],
    "xlm-roberta": ["query", "key", "value", "dense"],
    "electra": ["query", "key", "value", "dense"],
    "distilbert": ["q_lin", "k_lin", "v_lin", "out_lin", "lin1", "lin2"],
    "gpt2": ["c_attn", "c_proj", "c_fc"],
    "bloom": ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"],
    "gpt_neox": ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"],
}


def default_target_modules(model_type: str) -> list[str] | str:
    return DEFAULT_TARGETS.get(model_type, "all-linear")


def apply_lora(model, model_cfg, task: str):
    """Wrap ``model`` with a LoRA adapter; a classifier's new head stays fully trainable."""
    from peft import LoraConfig, TaskType, get_peft_model
    targets = model_cfg.lora_target_modules or default_target_modules(
        model.config.model_type)
    lora = LoraConfig(
        r=model_cfg.lora_r, lora_alpha=model_cfg.lora_alpha,
        lora_dropout=model_cfg.lora_dropout, target_modules=targets,
        task_type=TaskType.SEQ_CLS if task == "classification" else TaskType.CAUSAL_LM)
    # peft's SEQ_CLS task type marks the classifier/score head as modules_to_save.
    return get_peft_model(model, lora)


def head_module_names(model) -> list[str]:
    """Top-level names of the classification head (whatever the architecture calls it)."""
    base = getattr(model, "base_model_prefix", "")
    return [name for name, _ in model.named_children() if name != base]


def freeze_base(model) -> list[str]:
    """Head-only training: freeze everything except the classification head."""
    heads = head_module_names(model)
    for name, param in model.named_parameters():
        param.requires_grad = name.split(".")[0] in heads
    return heads
