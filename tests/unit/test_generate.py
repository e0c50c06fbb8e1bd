"""Generation on a tiny Llama: inputs, seeds, streaming, stop, beams, samples, bad input."""

import threading

import pytest
import torch

from ft_core import generate as G
from ft_core.config import GenerationConfig
from ft_core.errors import UserError


@pytest.fixture(scope="module")
def lm(tiny_llama_dir):
    model, tokenizer = G.load_causal_lm(str(tiny_llama_dir))
    return model, tokenizer


def _cfg(**kw):
    kw.setdefault("max_new_tokens", 12)
    return GenerationConfig(**kw)


def test_build_inputs_chat_raw_and_left_truncation(lm):
    _, tok = lm
    chat_ids, note = G.build_inputs(tok, "Hello there", chat=True)
    assert note is None and chat_ids.dtype == torch.long and chat_ids.shape[0] == 1
    text = tok.decode(chat_ids[0])
    assert "<|im_start|>user" in text and text.rstrip().endswith("<|im_start|>assistant")
    history = [{"role": "user", "content": "Hi"},
               {"role": "assistant", "content": [{"type": "text", "text": "Hello!"}]}]
    multi, _ = G.build_inputs(tok, "How are you?", chat=True, history=history)
    assert "Hello!" in tok.decode(multi[0]) and multi.shape[1] > chat_ids.shape[1]
    raw, _ = G.build_inputs(tok, "Once upon a time", chat=False)
    assert tok.decode(raw[0]) == "Once upon a time"
    long_prompt = " ".join(f"word{i}" for i in range(200))
    full, _ = G.build_inputs(tok, long_prompt, chat=False)
    cut, note = G.build_inputs(tok, long_prompt, chat=False, max_input_tokens=50)
    assert cut.shape[1] == 50 and torch.equal(cut[0], full[0, -50:])  # kept the end
    assert "truncated from the left" in note and str(full.shape[1] - 50) in note


def test_prompt_longer_than_context_is_truncated_when_generating(lm):
    model, tok = lm
    long_prompt = " ".join(f"word{i}" for i in range(400))  # > 256 positions of the model
    updates = list(G.stream_updates(model, tok, long_prompt, _cfg(max_new_tokens=8),
                                    chat=False))
    assert updates[-1].done and updates[-1].input_ids.shape[1] == 256 - 8
    assert any("truncated from the left" in n for n in updates[-1].notes)


def test_same_seed_same_text_and_other_seed_differs(lm):
    model, tok = lm
    cfg = _cfg(do_sample=True, temperature=1.5, seed=123, max_new_tokens=16)
    first = list(G.stream_generate(model, tok, "Tell me", cfg, chat=False))[-1]
    second = list(G.stream_generate(model, tok, "Tell me", cfg, chat=False))[-1]
    assert first == second and first
    others = {list(G.stream_generate(model, tok, "Tell me",
                                     _cfg(do_sample=True, temperature=1.5, seed=s,
                                          max_new_tokens=16), chat=False))[-1]
              for s in (1, 2, 3)}
    assert len(others | {first}) > 1


def test_streaming_yields_incrementally_and_matches_generate(lm):
    model, tok = lm
    cfg = _cfg(max_new_tokens=10)
    texts = list(G.stream_generate(model, tok, "Hi", cfg, chat=True))
    assert len(texts) >= 3
    assert all(b.startswith(a) for a, b in zip(texts, texts[1:], strict=False))
    assert len(set(texts)) >= 3  # it grew step by step, not all at once
    ids, _ = G.build_inputs(tok, "Hi", chat=True)
    bare = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                          **G.generate_kwargs(cfg, tok))
    assert texts[-1] == tok.decode(bare[0, ids.shape[1]:], skip_special_tokens=True)


def test_stop_event_ends_generation_early(lm):
    model, tok = lm
    stop = threading.Event()
    updates = []
    for u in G.stream_updates(model, tok, "Hi", _cfg(max_new_tokens=200), chat=False,
                              stop_event=stop):
        updates.append(u)
        stop.set()
    assert updates[-1].done and updates[-1].stopped
    assert len(updates[-1].output_ids) < 200


def test_temperature_zero_is_greedy_and_explained(lm):
    model, tok = lm
    zero = list(G.stream_updates(model, tok, "Hi", _cfg(do_sample=True, temperature=0.0,
                                                       seed=None), chat=False))[-1]
    greedy = list(G.stream_updates(model, tok, "Hi", _cfg(), chat=False))[-1]
    assert zero.output_ids == greedy.output_ids
    assert any("Temperature 0 means greedy" in n for n in zero.notes)
    assert G.generate_kwargs(_cfg(do_sample=True, temperature=0.0), tok)["do_sample"] is False


def test_generate_kwargs_pass_every_sampling_knob(lm):
    _, tok = lm
    kw = G.generate_kwargs(_cfg(do_sample=True, temperature=0.7, top_k=0, top_p=0.9,
                                min_p=0.1), tok)
    # top_k=0 must reach transformers, or its global default (50) would apply.
    assert kw["top_k"] == 0 and kw["top_p"] == 0.9 and kw["min_p"] == 0.1


def test_beams_recorded_match_generate_and_forward_pass(lm):
    model, tok = lm
    cfg = _cfg(num_beams=3, num_return_sequences=3, max_new_tokens=6)
    result = G.beam_search(model, tok, "Hello", cfg, chat=False)
    ids, _ = G.build_inputs(tok, "Hello", chat=False)
    bare = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                          **G.generate_kwargs(cfg, tok))
    assert result["beams"][0]["tokens"] == bare[0, ids.shape[1]:].tolist()
    assert [b["text"] for b in G.generate_beams(model, tok, "Hello", cfg, chat=False)] == \
        [b["text"] for b in result["beams"]]
    steps = result["steps"]
    assert steps and all(1 <= len(s) <= 3 for s in steps)
    for step in steps:  # best first, growing one token a step
        assert [b["logprob"] for b in step] == sorted((b["logprob"] for b in step),
                                                      reverse=True)
    for beam in steps[-1]:  # cumulative log-prob = sum of the token log-probs
        seq = torch.tensor([ids[0].tolist() + beam["tokens"]])
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=seq).logits[0].float(), -1)
        n = ids.shape[1]
        expected = sum(float(logp[n - 1 + i, t]) for i, t in enumerate(beam["tokens"]))
        assert beam["logprob"] == pytest.approx(expected, abs=1e-3)


def test_sample_n_and_diversity(lm):
    model, tok = lm
    texts, notes = G.sample_n(model, tok, "Hi", _cfg(do_sample=True, temperature=1.5, seed=1),
                              4, chat=False)
    assert len(texts) == 4 and len(set(texts)) > 1 and not notes
    same, notes = G.sample_n(model, tok, "Hi", _cfg(), 3, chat=False)
    assert len(set(same)) == 1 and "Sampling is off" in notes[-1]
    d = G.diversity(["a b c d", "a b c d"])
    assert d["distinct_1"] == 0.5 and d["distinct_2"] == 0.5 and d["identical_texts"] == 1
    rep = G.diversity(["x y x y x y"])
    assert rep["repetition_rate"] == pytest.approx(1 - 2 / 5)


def test_token_infos_give_probabilities_and_alternatives(lm):
    model, tok = lm
    final = list(G.stream_updates(model, tok, "Hi", _cfg(max_new_tokens=5), chat=False))[-1]
    infos = G.token_infos(model, tok, final.input_ids, final.output_ids)
    assert [i.token_id for i in infos] == final.output_ids
    for info in infos:  # greedy: every chosen token is the top alternative
        assert info.rank == 1 and info.alternatives[0][1] == pytest.approx(info.prob)


def test_presets_are_valid_configs():
    for name in G.PRESETS:
        cfg = G.preset_config(name)
        assert isinstance(cfg, GenerationConfig)
    assert G.preset_config("beam search").num_beams > 1
    assert G.preset_config("creative").temperature > G.preset_config("focused").temperature


def test_bad_inputs(lm, tiny_bert_dir):
    model, tok = lm
    with pytest.raises(UserError, match="empty"):
        G.build_inputs(tok, "   ", chat=True)
    with pytest.raises(UserError, match="top_p 0"):
        GenerationConfig(top_p=0.0)
    with pytest.raises(UserError, match="num_beams"):
        GenerationConfig(num_beams=9)
    with pytest.raises(UserError, match="num_return_sequences|sequences"):
        GenerationConfig(num_beams=2, num_return_sequences=3)
    with pytest.raises(UserError, match="classifier"):
        G.load_causal_lm(str(tiny_bert_dir))
    with pytest.raises(UserError, match="classifier"):
        G.load_causal_lm("MiniLM-L6 (embedded)")
    with pytest.raises(UserError, match="offline|Hub"):
        G.load_causal_lm("someone/some-model-that-is-not-here")
    with pytest.raises(UserError, match="context window"):
        G.input_budget(model, tok, _cfg(max_new_tokens=300))
    with pytest.raises(UserError, match="sampling off"):
        G.beam_search(model, tok, "Hi", _cfg(do_sample=True, num_beams=2))


def test_lora_adapter_folder_generates(tiny_llama_dir, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer
    base = AutoModelForCausalLM.from_pretrained(tiny_llama_dir)
    peft_model = get_peft_model(base, LoraConfig(r=2, target_modules=["q_proj", "v_proj"],
                                                 task_type="CAUSAL_LM"))
    peft_model.save_pretrained(tmp_path / "adapter")
    AutoTokenizer.from_pretrained(tiny_llama_dir).save_pretrained(tmp_path / "adapter")
    model, tok = G.load_causal_lm(str(tmp_path / "adapter"))
    assert type(model).__name__.startswith("Peft")
    texts = list(G.stream_generate(model, tok, "Hi", _cfg(max_new_tokens=4), chat=False))
    assert texts and texts[-1]
