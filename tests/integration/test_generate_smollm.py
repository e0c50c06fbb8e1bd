"""The Playground core on the embedded SmolLM2-135M-Instruct (real weights)."""

import pytest
import torch

from ft_core import distribution as D
from ft_core import generate as G
from ft_core.catalog import SMOLLM
from ft_core.config import GenerationConfig

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def smollm():
    return G.load_causal_lm(SMOLLM)


def test_chat_answer_streams_and_is_coloured(smollm):
    model, tok = smollm
    updates = list(G.stream_updates(model, tok, "What is the capital of France?",
                                    GenerationConfig(max_new_tokens=12), chat=True))
    assert len(updates) > 3 and "Paris" in updates[-1].text
    infos = G.token_infos(model, tok, updates[-1].input_ids, updates[-1].output_ids)
    paris = next(i for i in infos if "Paris" in i.text)
    assert paris.prob > 0.5 and paris.rank == 1
    # Picking that position shows the distribution it was drawn from (cached, no rerun).
    prefix = updates[-1].input_ids[0].tolist() + updates[-1].output_ids[:paris.position]
    assert D.cached_logits(model, prefix) is not None
    view = D.apply_transforms(D.next_token_distribution(model, tok, prefix),
                              GenerationConfig(do_sample=True, top_p=0.9))
    assert view.top(1)[0] == paris.token_id and view.tokens_in_play >= 1


def test_beam_view_on_the_real_model(smollm):
    model, tok = smollm
    cfg = GenerationConfig(num_beams=3, num_return_sequences=2, max_new_tokens=5,
                           early_stopping=True)
    result = G.beam_search(model, tok, "The capital of France is", cfg, chat=False)
    ids, _ = G.build_inputs(tok, "The capital of France is", chat=False)
    bare = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                          **G.generate_kwargs(cfg, tok))
    assert result["beams"][0]["tokens"] == bare[0, ids.shape[1]:].tolist()
    assert len(result["steps"]) >= 2 and all(len(s) <= 3 for s in result["steps"])
    best = result["steps"][-1][0]
    seq = torch.tensor([ids[0].tolist() + best["tokens"]])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=seq).logits[0].float(), -1)
    n = ids.shape[1]
    expected = sum(float(logp[n - 1 + i, t]) for i, t in enumerate(best["tokens"]))
    assert best["logprob"] == pytest.approx(expected, abs=2e-2)
