"""Shared fixtures: tiny models built from a config, the running app, a browser page.

Tiny models borrow the embedded models' tokenizers (no Hub here) and get a few thousand
parameters of their own, so unit tests train in seconds on CPU.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# Deterministic and fast offline behaviour whatever the machine's network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def minilm_tokenizer_dir(tmp_path_factory) -> Path:
    from ft_core.catalog import MINILM, resolve_model
    from ft_core.models import load_tokenizer
    out = tmp_path_factory.mktemp("minilm_tok")
    load_tokenizer(resolve_model(MINILM)).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def smollm_tokenizer_dir(tmp_path_factory) -> Path:
    from ft_core.catalog import SMOLLM, resolve_model
    from ft_core.models import load_tokenizer
    out = tmp_path_factory.mktemp("smollm_tok")
    load_tokenizer(resolve_model(SMOLLM)).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory, minilm_tokenizer_dir) -> Path:
    """A 2-layer, 32-wide BERT classifier (3 labels) with MiniLM's tokenizer."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("tiny_bert")
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=128, num_labels=3)
    BertForSequenceClassification(config).save_pretrained(out)
    for f in minilm_tokenizer_dir.iterdir():
        shutil.copy(f, out / f.name)
    return out


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory, smollm_tokenizer_dir) -> Path:
    """A 2-layer, 32-wide Llama causal LM with SmolLM2's tokenizer and chat template."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("tiny_llama")
    tok = AutoTokenizer.from_pretrained(smollm_tokenizer_dir)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, intermediate_size=64,
                         max_position_embeddings=256, bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                         tie_word_embeddings=True)
    LlamaForCausalLM(config).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """The real app, launched in-process on a free port (prevent_thread_lock)."""
    from ft_core.ui import build_app
    from ft_core.ui.app import launch_kwargs
    runs = tmp_path_factory.mktemp("app_runs")
    demo = build_app(runs_dir=str(runs))
    demo.queue(default_concurrency_limit=8)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                quiet=True, **launch_kwargs())
    demo.ft_runs_dir = runs
    yield f"http://127.0.0.1:{port}/"
    demo.close()
    # A failed test can leave a training subprocess behind (e.g. one meant to be stopped):
    # end every job the app started, so nothing keeps running after the suite.
    manager = demo.ft_context.extras.get("jobs")
    if manager is not None:
        manager.shutdown(kill=True)


@pytest.fixture(scope="session")
def app_runs_dir(app_url, tmp_path_factory) -> Path:
    """The runs folder of the app launched by ``app_url``."""
    base = tmp_path_factory.getbasetemp()
    return sorted(base.glob("app_runs*"))[0]


@pytest.fixture(scope="session")
def client(app_url):
    from gradio_client import Client
    return Client(app_url, verbose=False)


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.fail("Debian chromium is needed for browser tests: apt-get install chromium "
                    "(make test installs it when run as root)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    pg.goto(app_url)
    pg.wait_for_selector("text=Fine-Tuning Lab")
    yield pg
    context.close()
