"""Load models and tokenizers for a task, from any ModelSource.

- GGUF files (the embedded SmolLM2) are dequantised once and saved with save_pretrained
  to a cache folder: a model loaded with ``gguf_file=`` refuses save_pretrained and takes
  seconds to dequantise, a plain folder reloads in well under a second.
- ``cached_model`` shares one read-only inference copy per (identity, task) across
  sessions; training always loads a fresh copy.
- Nothing loads at import time.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path

from .catalog import EMBEDDED_MODELS, ModelSource, resolve_model
from .errors import UserError


def cache_root() -> Path:
    root = Path(os.environ.get("FT_LAB_CACHE", Path.home() / ".cache" / "fine-tuning-lab"))
    root.mkdir(parents=True, exist_ok=True)
    return root


_gguf_lock = threading.Lock()


def materialize(source: ModelSource) -> str:
    """A folder (or Hub id) that plain ``from_pretrained`` can load.

    GGUF sources are dequantised into the cache on first use (a few seconds) and reused."""
    if source.kind != "gguf":
        return source.path
    gguf_path = Path(source.path) / source.gguf_file
    stat = gguf_path.stat()
    target = cache_root() / "gguf" / f"{gguf_path.stem}-{stat.st_size}"
    with _gguf_lock:
        if (target / "config.json").exists():
            return str(target)
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
        kw = {"gguf_file": source.gguf_file}
        try:
            tok = AutoTokenizer.from_pretrained(source.path, **kw)
            gguf_model = AutoModelForCausalLM.from_pretrained(source.path, **kw)
            config = AutoConfig.from_pretrained(source.path, **kw)
        except Exception as exc:  # noqa: BLE001 - turn any GGUF failure into a message
            raise UserError(f"Could not read the GGUF file {gguf_path.name}: {exc}",
                            hint="Is the `gguf` package installed? (`make run` does it)") from None
        # A gguf-loaded model refuses save_pretrained; copy its weights into a plain one.
        plain = AutoModelForCausalLM.from_config(config)
        plain.load_state_dict(gguf_model.state_dict())
        tmp = target.with_name(target.name + ".tmp")
        plain.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        tmp.rename(target)  # atomic: a half-written cache is never used
        return str(target)


def _from_pretrained_errors(source: ModelSource, exc: Exception) -> UserError:
    text = str(exc)
    if source.kind == "hub" and ("offline" in text.lower() or "connect" in text.lower()
                                 or "resolve" in text.lower()):
        return UserError(f"Could not download '{source.path}' from the Hub: {text[:200]}",
                         hint="Embedded models: " + ", ".join(EMBEDDED_MODELS) + ".")
    return UserError(f"Could not load the model '{source.name}': {text[:300]}")


def load_tokenizer(source: ModelSource | str):
    from transformers import AutoTokenizer
    source = resolve_model(source) if isinstance(source, str) else source
    path = _base_path(source)
    try:
        tok = AutoTokenizer.from_pretrained(path)
    except Exception as exc:  # noqa: BLE001
        raise _from_pretrained_errors(source, exc) from None
    if tok.pad_token is None:  # causal LMs often lack one; padding needs it
        tok.pad_token = tok.eos_token or tok.unk_token
    return tok


def _base_path(source: ModelSource) -> str:
    """Folder with config + tokenizer; for an adapter, the folder itself has the tokenizer."""
    return materialize(source)


def detect_task(source: ModelSource) -> str:
    """'classification' or 'causal_lm' from the source or its config's architectures."""
    if source.task:
        return source.task
    from transformers import AutoConfig
    path = _base_path(source)
    if source.adapter:
        from peft import PeftConfig
        path = PeftConfig.from_pretrained(path).base_model_name_or_path
    try:
        config = AutoConfig.from_pretrained(path)
    except Exception as exc:  # noqa: BLE001
        raise _from_pretrained_errors(source, exc) from None
    archs = " ".join(config.architectures or [])
    if "SequenceClassification" in archs:
        return "classification"
    if "CausalLM" in archs or "LMHead" in archs:
        return "causal_lm"
    return "classification" if getattr(config, "is_encoder_decoder", False) is False and \
        config.model_type in ("bert", "distilbert", "roberta", "deberta", "deberta-v2",
                              "electra", "albert", "xlm-roberta", "mpnet") else "causal_lm"


def load_model(source: ModelSource | str, task: str, *, num_labels: int | None = None,
               id2label: dict | None = None, label2id: dict | None = None,
               torch_dtype=None):
    """A fresh model for ``task``. For classification, a new head when the labels differ.

    Returns (model, info) where info says e.g. whether the head is newly initialised."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification
    source = resolve_model(source) if isinstance(source, str) else source
    path = _base_path(source)
    info: dict = {"source": source.name, "path": path, "new_head": False}
    kw = {}
    if torch_dtype is not None:
        kw["dtype"] = torch_dtype
    try:
        if source.adapter:
            return _load_adapter_model(path, task, info, kw)
        if task == "classification":
            if num_labels is not None:
                kw.update(num_labels=num_labels, ignore_mismatched_sizes=True)
                if id2label:
                    kw.update(id2label=id2label, label2id=label2id)
            model, loading = AutoModelForSequenceClassification.from_pretrained(
                path, output_loading_info=True, **kw)
            missing = list(loading.get("missing_keys", [])) + \
                list(loading.get("mismatched_keys", []))
            info["new_head"] = any("classifier" in str(k) or "score" in str(k)
                                   for k in missing)
        elif task == "causal_lm":
            model = AutoModelForCausalLM.from_pretrained(path, **kw)
        else:
            raise UserError(f"Unknown task {task!r}.")
    except UserError:
        raise
    except ValueError as exc:
        if "Unrecognized configuration class" in str(exc):
            kind = "a classifier" if task == "classification" else "a causal language model"
            raise UserError(f"'{source.name}' cannot be loaded as {kind}.",
                            hint="Pick a model made for this task (see the presets).") from None
        raise _from_pretrained_errors(source, exc) from None
    except Exception as exc:  # noqa: BLE001
        raise _from_pretrained_errors(source, exc) from None
    if task == "causal_lm" and model.config.pad_token_id is None:
        model.config.pad_token_id = model.config.eos_token_id
    return model, info


def _load_adapter_model(path: str, task: str, info: dict, kw: dict):
    from peft import AutoPeftModelForCausalLM, AutoPeftModelForSequenceClassification
    cls = AutoPeftModelForCausalLM if task == "causal_lm" else \
        AutoPeftModelForSequenceClassification
    model = cls.from_pretrained(path, **kw)
    info["adapter"] = True
    return model, info


# -- Shared inference cache ---------------------------------------------------------------

_cache: OrderedDict[tuple, tuple] = OrderedDict()
_cache_lock = threading.RLock()
MAX_CACHED_MODELS = int(os.environ.get("FT_LAB_MAX_CACHED_MODELS", "4"))


def cached_model(name_or_source: ModelSource | str, task: str):
    """(model, tokenizer) in eval mode, shared read-only between sessions (LRU)."""
    source = resolve_model(name_or_source) if isinstance(name_or_source, str) \
        else name_or_source
    key = (source.identity, task)
    # One lock for lookup and load: two sessions asking for the same model load it once,
    # and concurrent first loads don't race in transformers' lazy imports.
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        model, _ = load_model(source, task)
        model.eval()
        tokenizer = load_tokenizer(source)
        _cache[key] = (model, tokenizer)
        while len(_cache) > MAX_CACHED_MODELS:
            _cache.popitem(last=False)
        return model, tokenizer


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def count_parameters(model) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, total


def with_truncation_side(tokenizer, side: str | None):
    """``tokenizer`` cutting long texts on ``side`` ('left' keeps the end). Cached
    tokenizers are shared between sessions, so a different side gets a shallow copy."""
    if not side or side == tokenizer.truncation_side:
        return tokenizer
    if side not in ("left", "right"):
        raise UserError(f"truncation side is 'left' or 'right' (got {side!r}).")
    import copy
    tokenizer = copy.copy(tokenizer)
    tokenizer.truncation_side = side
    return tokenizer


def model_max_length(tokenizer, model=None) -> int:
    """The longest input the model takes (tokenizers often report a huge placeholder)."""
    candidates = []
    if model is not None:
        for attr in ("max_position_embeddings", "n_positions", "max_sequence_length"):
            value = getattr(model.config, attr, None)
            if isinstance(value, int) and value > 0:
                candidates.append(value)
    tok_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and 0 < tok_max < 1_000_000:
        candidates.append(tok_max)
    return min(candidates) if candidates else 512


def device_info() -> dict:
    """The compute device and, on GPU, its memory: shown in the page and used for precision."""
    import torch
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return {"device": "cuda", "name": props.name,
                "memory_gb": round(props.total_memory / 2**30, 1),
                "bf16": torch.cuda.is_bf16_supported()}
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return {"device": "mps", "name": "Apple GPU", "memory_gb": None, "bf16": False}
    return {"device": "cpu", "name": f"CPU ({os.cpu_count()} cores)", "memory_gb": None,
            "bf16": False}


def resolve_precision(precision: str) -> str:
    """'auto' -> bf16 where supported, else fp16 on GPU, fp32 on CPU."""
    if precision != "auto":
        return precision
    info = device_info()
    if info["device"] == "cuda":
        return "bf16" if info["bf16"] else "fp16"
    return "fp32"
