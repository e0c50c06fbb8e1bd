"""Compare core on tiny models: metrics against a hand-checked case, real comparisons,
the LoRA toggle, held-out loss, next-token KL, reports and every bad input."""

import numpy as np
import pandas as pd
import pytest
import torch

from ft_core import compare as C
from ft_core.config import DataConfig, GenerationConfig
from ft_core.errors import UserError
from ft_core.metrics import classification_metrics
from tests import compare_helpers as H


def _one_hot(preds, k=3):
    probs = np.full((len(preds), k), 0.1)
    probs[np.arange(len(preds)), preds] = 0.8
    return probs


def test_summarize_hand_checked():
    labels = [0, 0, 1, 1, 2, 2]
    left = [0, 1, 1, 0, 2, 1]
    right = [0, 0, 1, 1, 1, 0]
    res = C.summarize(labels, _one_hot(left), _one_hot(right), H.LABELS,
                      texts=list("abcdef"), majority=0)
    overall = res.overall.set_index("metric")
    assert overall.loc["accuracy", "left"] == pytest.approx(3 / 6)
    assert overall.loc["accuracy", "right"] == pytest.approx(4 / 6)
    assert overall.loc["accuracy", "difference"] == pytest.approx(1 / 6)
    # by hand: left F1 per class 0.5, 0.4, 2/3; right 0.8, 0.8, 0
    assert overall.loc["f1_macro", "left"] == pytest.approx((0.5 + 0.4 + 2 / 3) / 3)
    assert overall.loc["f1_macro", "right"] == pytest.approx(1.6 / 3)
    assert overall.loc["accuracy", "majority baseline"] == pytest.approx(2 / 6)
    per = res.per_class.set_index("label")
    assert per.loc["negative", "precision left"] == pytest.approx(1 / 2)
    assert per.loc["neutral", "precision left"] == pytest.approx(1 / 3)
    assert per.loc["positive", "precision right"] == 0
    assert per.loc["positive", "recall difference"] == pytest.approx(-0.5)
    assert per["support"].tolist() == [2, 2, 2]
    assert res.confusion_left.tolist() == [[1, 1, 0], [1, 1, 0], [0, 1, 1]]
    assert res.confusion_right.tolist() == [[2, 0, 0], [0, 2, 0], [1, 1, 0]]
    assert res.disagreements("all")["row"].tolist() == [1, 3, 4, 5]
    assert res.disagreements("fixed")["text"].tolist() == ["b", "d"]
    assert res.disagreements("Broken by fine-tuning")["row"].tolist() == [4]
    assert res.disagreements("both_wrong")["row"].tolist() == [5]
    assert res.rows.loc[0, "outcome"] == "both right"


def test_unknown_filter_is_a_user_error():
    res = C.summarize([0], _one_hot([0]), _one_hot([0]), H.LABELS)
    with pytest.raises(UserError, match="Unknown filter"):
        res.disagreements("sideways")


@pytest.fixture(scope="module")
def cls_run(tmp_path_factory, tiny_bert_dir):
    runs_dir = tmp_path_factory.mktemp("cmp_runs")
    H.make_classifier_run(runs_dir, "tiny-cls", tiny_bert_dir)
    return runs_dir


@pytest.fixture(scope="module")
def cls_pair(cls_run):
    return C.open_run_pair(cls_run, "tiny-cls")


def test_run_pair_is_base_vs_fine_tuned(cls_pair, tiny_bert_dir):
    assert cls_pair.task == "classification"
    assert cls_pair.labels == H.LABELS
    assert cls_pair.left.new_head and not cls_pair.right.new_head
    assert any("chance" in n for n in cls_pair.notes)
    assert cls_pair.same_tokenizer
    assert tiny_bert_dir.name in cls_pair.left.name


def test_real_comparison_matches_direct_forward(cls_pair, tmp_path):
    df = H.toy_rows(24, seed=7)
    df.to_csv(tmp_path / "eval.csv", index=False)
    data = C.eval_set_from_file(tmp_path / "eval.csv", cls_pair.labels)
    res = C.compare_classification(cls_pair, data, C.Settings(batch_size=5))
    for side, col in ((cls_pair.left, "left"), (cls_pair.right, "right")):
        preds = []
        for text in df["text"]:  # one at a time, no batching, no sorting
            enc = side.tokenizer(text, return_tensors="pt")
            with torch.no_grad():
                preds.append(int(side.model(**enc).logits.argmax(-1)))
        assert res.rows[col].tolist() == [H.LABELS[p] for p in preds]
        refs = [H.LABELS.index(v) for v in df["label"]]
        expected = classification_metrics(refs, preds, H.LABELS)
        got = res.overall.set_index("metric")[col]
        assert got["accuracy"] == pytest.approx(expected["accuracy"])
        assert got["f1_macro"] == pytest.approx(expected["f1_macro"])
    # fine-tuning on the toy task beats the untrained head
    assert res.overall.set_index("metric").loc["accuracy", "difference"] > 0.2
    assert res.seconds > 0 and res.settings["batch_size"] == 5


def test_sorting_and_batching_do_not_change_probabilities(cls_pair):
    texts = list(H.toy_rows(13, seed=3)["text"]) + ["short", "a much longer text " * 8]
    a = C.predict_probs(cls_pair.right, texts, batch_size=1, sort_by_length=False)
    b = C.predict_probs(cls_pair.right, texts, batch_size=4, sort_by_length=True)
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert a.shape == (15, 3)


def test_truncation_side_is_applied_without_touching_the_shared_tokenizer(cls_pair):
    side = cls_pair.right
    long_text = "great " * 40 + "awful awful awful"
    right = C.predict_probs(side, [long_text], max_length=8)
    left = C.predict_probs(side, [long_text], max_length=8, truncation_side="left")
    tok = side.tokenizer
    expected = {}
    for name in ("right", "left"):
        tok.truncation_side = name
        enc = tok(long_text, truncation=True, max_length=8, return_tensors="pt")
        with torch.no_grad():
            expected[name] = torch.softmax(side.model(**enc).logits, -1).numpy()
    tok.truncation_side = "right"
    np.testing.assert_allclose(right, expected["right"], atol=1e-5)
    np.testing.assert_allclose(left, expected["left"], atol=1e-5)
    assert not np.allclose(left, right)
    assert side.tokenizer.truncation_side == "right"  # the cached tokenizer is unchanged


def test_predict_one_and_progress(cls_pair):
    left, right = C.predict_one(cls_pair, "the medicine was great for me")
    assert set(left) == set(right) == set(H.LABELS)
    assert sum(right.values()) == pytest.approx(1, abs=1e-5)
    assert max(right, key=right.get) == "positive"
    seen = []
    C.compare_classification(cls_pair, C.EvalSet(["good", "bad"], [2, 0]),
                             progress=lambda d, t, s: seen.append((d, t)))
    assert seen[-1] == (4, 4) and len(seen) == 2


def test_run_test_split_comes_from_data_prepare(cls_pair):
    data = C.eval_set_from_run(cls_pair)
    assert len(data.texts) > 0 and len(data.labels) == len(data.texts)
    assert set(data.labels) <= {0, 1, 2}
    assert data.majority is not None and "training" in data.majority_source
    text, _, label = data.row(0)
    assert text == data.texts[0] and label == data.labels[0]
    with pytest.raises(UserError, match="does not exist"):
        data.row(len(data.texts))


def test_export_classification(cls_pair, tmp_path):
    res = C.compare_classification(cls_pair, C.EvalSet(["good", "bad", "okay"], [2, 0, 1]))
    paths = C.export_classification(res, C.report_dir(cls_pair.run_dir, tmp_path))
    assert all(p.parent == cls_pair.run_dir / "compare" for p in paths)
    md = next(p for p in paths if p.suffix == ".md").read_text()
    assert "## Metrics" in md and "accuracy" in md and "Confusion" in md
    rows = pd.read_csv(next(p for p in paths if p.name.endswith("-rows.csv")))
    assert rows["true"].tolist() == ["positive", "negative", "neutral"]
    metrics = pd.read_csv(next(p for p in paths if p.name.endswith("-metrics.csv")))
    assert "f1_macro" in metrics["metric"].tolist()


def test_two_models_pair_and_same_model(cls_run, tiny_bert_dir):
    pair = C.open_model_pair(str(tiny_bert_dir), "tiny-cls", runs_dir=cls_run)
    assert pair.labels == H.LABELS and pair.run_dir.name == "tiny-cls"
    same = C.open_model_pair("tiny-cls", "tiny-cls", runs_dir=cls_run)
    left, right = C.predict_one(same, "okay")
    assert left == right


# -- Bad input --------------------------------------------------------------------------

def test_run_without_model(tmp_path, tiny_bert_dir):
    H.make_run(tmp_path, "still-running", str(tiny_bert_dir), status="running")
    H.make_run(tmp_path, "crashed", str(tiny_bert_dir), status="failed")
    with pytest.raises(UserError, match="still running"):
        C.open_run_pair(tmp_path, "still-running")
    with pytest.raises(UserError, match="no saved model"):
        C.open_run_pair(tmp_path, "crashed")
    with pytest.raises(UserError, match="No run named"):
        C.open_run_pair(tmp_path, "../etc")
    assert [r["id"] for r in C.comparable_runs(tmp_path)] == []


def test_different_label_sets(tmp_path, tiny_bert_dir, cls_run):
    from transformers import AutoModelForSequenceClassification
    other = AutoModelForSequenceClassification.from_pretrained(
        tiny_bert_dir, num_labels=2, id2label={0: "spam", 1: "ham"},
        label2id={"spam": 0, "ham": 1}, ignore_mismatched_sizes=True)
    other.save_pretrained(tmp_path / "spam")
    with pytest.raises(UserError, match="different label sets"):
        C.open_model_pair(str(tmp_path / "spam"), "tiny-cls", runs_dir=cls_run)


def test_classifier_vs_causal_lm(tiny_llama_dir, cls_run):
    with pytest.raises(UserError, match="cannot be compared"):
        C.open_model_pair(str(tiny_llama_dir), "tiny-cls", runs_dir=cls_run)


def test_neither_model_has_a_head(tmp_path, minilm_tokenizer_dir):
    from transformers import BertConfig, BertModel
    BertModel(BertConfig(vocab_size=30522, hidden_size=16, num_hidden_layers=1,
                         num_attention_heads=2, intermediate_size=32)).save_pretrained(tmp_path)
    with pytest.raises(UserError, match="Neither model"):
        C.open_model_pair(str(tmp_path), str(tmp_path))


def test_different_tokenizers_are_allowed_but_shown(tmp_path, smollm_tokenizer_dir, cls_run):
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification
    tok = AutoTokenizer.from_pretrained(smollm_tokenizer_dir)
    config = BertConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32, num_labels=3,
                        id2label=dict(enumerate(H.LABELS)), pad_token_id=tok.pad_token_id)
    BertForSequenceClassification(config).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    pair = C.open_model_pair(str(tmp_path), "tiny-cls", runs_dir=cls_run)
    assert not pair.same_tokenizer
    assert any("tokenizers differ" in n for n in pair.notes)
    left, right = C.predict_one(pair, "fine")
    assert set(left) == set(H.LABELS)


def test_uploaded_file_problems(tmp_path, cls_pair):
    pd.DataFrame({"review": ["x"], "label": ["positive"]}).to_csv(tmp_path / "a.csv",
                                                                   index=False)
    with pytest.raises(UserError, match=r"no column\(s\) \['text'\]"):
        C.eval_set_from_file(tmp_path / "a.csv", cls_pair.labels)
    pd.DataFrame({"text": ["x"], "label": ["joyful"]}).to_json(tmp_path / "b.jsonl",
                                                               orient="records", lines=True)
    with pytest.raises(UserError, match="joyful"):
        C.eval_set_from_file(tmp_path / "b.jsonl", cls_pair.labels)
    (tmp_path / "c.txt").write_text("hello")
    with pytest.raises(UserError, match="unsupported"):
        C.eval_set_from_file(tmp_path / "c.txt", cls_pair.labels)
    ok = C.eval_set_from_file(tmp_path / "b.jsonl", ["joyful", "sad"])
    assert ok.labels == [0]


def test_empty_inputs(cls_pair):
    with pytest.raises(UserError, match="empty"):
        C.predict_one(cls_pair, "   ")
    with pytest.raises(UserError, match="not classifiers|generate"):
        next(C.generate_pair(cls_pair, "hi", GenerationConfig()))


def test_label_mapping():
    assert C.classify.label_mapping(["positive", "negative"], H.LABELS) == [2, 0]
    assert C.classify.label_mapping(["a", "b"], ["LABEL_0", "LABEL_1"]) == [0, 1]
    with pytest.raises(UserError, match="not the labels"):
        C.classify.label_mapping(["a", "b"], H.LABELS)


# -- Causal LM --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lora_pair(tmp_path_factory, tiny_llama_dir):
    runs_dir = tmp_path_factory.mktemp("cmp_lora")
    H.make_lora_run(runs_dir, "tiny-lora", tiny_llama_dir)
    return C.open_run_pair(runs_dir, "tiny-lora")


@pytest.fixture(scope="module")
def base_llama(tiny_llama_dir):
    from transformers import AutoModelForCausalLM
    return AutoModelForCausalLM.from_pretrained(tiny_llama_dir).eval()


def test_lora_toggle_gives_base_outputs(lora_pair, base_llama):
    assert lora_pair.left.model is lora_pair.right.model  # one copy of the weights
    assert lora_pair.left.adapter_off and not lora_pair.right.adapter_off
    ids = torch.tensor([lora_pair.left.tokenizer("Hello there, how are you")["input_ids"]])
    with torch.no_grad():
        ref = base_llama(input_ids=ids).logits
        with lora_pair.left.active() as m:
            left = m(input_ids=ids).logits
        with lora_pair.right.active() as m:
            right = m(input_ids=ids).logits
    torch.testing.assert_close(left, ref, atol=1e-5, rtol=1e-5)
    assert (right - ref).abs().max() > 1e-3
    # the adapter is on again after the left side ran
    with torch.no_grad(), lora_pair.right.active() as m:
        torch.testing.assert_close(m(input_ids=ids).logits, right)


def test_lockstep_greedy_matches_generate(lora_pair, base_llama):
    cfg = GenerationConfig(max_new_tokens=6)
    steps = list(C.generate_pair(lora_pair, "Hi", cfg, chat=False))
    left, right = steps[-1]
    assert 1 <= len(steps) <= 6
    tok = lora_pair.left.tokenizer
    ids = torch.tensor([tok("Hi")["input_ids"]])
    out = base_llama.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                              max_new_tokens=6, do_sample=False)
    assert left == tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
    # streamed: texts only grow
    assert all(steps[i + 1][0].startswith(steps[i][0]) for i in range(len(steps) - 1))


def test_same_seed_same_samples(lora_pair):
    cfg = GenerationConfig(do_sample=True, temperature=1.0, max_new_tokens=5, seed=7)
    a = list(C.generate_pair(lora_pair, "Hi", cfg, chat=True))[-1]
    b = list(C.generate_pair(lora_pair, "Hi", cfg, chat=True))[-1]
    assert a == b
    with pytest.raises(UserError, match="prompt is empty"):
        next(C.generate_pair(lora_pair, "  ", cfg))


def test_stop_event_ends_generation(lora_pair):
    import threading
    stop = threading.Event()
    stop.set()
    assert list(C.generate_pair(lora_pair, "Hi", GenerationConfig(), False, stop)) == []


def test_heldout_loss_matches_manual(lora_pair, base_llama):
    rows = C.LMRows(["the cat sat on the mat", "hello world"])
    res = C.compare_loss(lora_pair, rows, batch_size=2)
    tok = lora_pair.left.tokenizer
    total, n = 0.0, 0
    for text in rows.prompts:
        ids = torch.tensor([tok(text)["input_ids"]])
        with torch.no_grad():
            loss = base_llama(input_ids=ids, labels=ids).loss
        total += float(loss) * (ids.shape[1] - 1)
        n += ids.shape[1] - 1
    table = res.table.set_index("side")
    assert table.loc["left", "loss"] == pytest.approx(total / n, rel=1e-4)
    assert table.loc["left", "perplexity"] == pytest.approx(np.exp(total / n), rel=1e-3)
    assert table.loc["left", "loss"] != table.loc["right", "loss"]
    assert table.loc["left", "scored tokens"] == n


def test_answers_only_loss_scores_only_answers(lora_pair):
    chat = C.LMRows(["What is your name?"], ["I am a bot."])
    full = C.LMRows(["What is your name?"], ["I am a bot."], answers_only=False)
    a = C.compare_loss(lora_pair, chat).table["scored tokens"][0]
    b = C.compare_loss(lora_pair, full).table["scored tokens"][0]
    answer_tokens = len(lora_pair.left.tokenizer("I am a bot.", add_special_tokens=False)
                        ["input_ids"])
    assert answer_tokens <= a < b
    assert any("answers only" in n for n in C.compare_loss(lora_pair, chat).notes)


def test_lm_rows_from_file(tmp_path):
    pd.DataFrame({"q": ["a", "b"], "a": ["x", "y"]}).to_csv(tmp_path / "c.csv", index=False)
    rows = C.lm_rows_from_file(tmp_path / "c.csv", "q", "a")
    assert rows.prompts == ["a", "b"] and rows.answers == ["x", "y"]
    with pytest.raises(UserError, match="no column"):
        C.lm_rows_from_file(tmp_path / "c.csv", "question")


def test_next_token_distribution(lora_pair, base_llama):
    res = C.compare_next_token(lora_pair, "Hello", chat=False, top_n=5)
    tok = lora_pair.left.tokenizer
    ids = torch.tensor([tok("Hello")["input_ids"]])
    with torch.no_grad():
        p = torch.softmax(base_llama(input_ids=ids).logits[0, -1].double(), -1).numpy()
        with lora_pair.right.active() as m:
            q = torch.softmax(m(input_ids=ids).logits[0, -1].double(), -1).numpy()
    assert res.kl_right_left == pytest.approx(C.lm.kl_divergence(q, p), rel=1e-6)
    assert res.kl_left_right == pytest.approx(C.lm.kl_divergence(p, q), rel=1e-6)
    assert res.kl_right_left > 0
    top_left = int(np.argmax(p))
    row = res.top.set_index("id").loc[top_left]
    assert row["p left"] == pytest.approx(p[top_left]) and row["rank left"] == 1
    moves = res.movers["rank change"].abs().tolist()
    assert moves == sorted(moves, reverse=True) and len(moves) == 5


def test_next_token_needs_same_tokenizer(lora_pair):
    import dataclasses
    other = dataclasses.replace(lora_pair, same_tokenizer=False)
    with pytest.raises(UserError, match="different tokenizers"):
        C.compare_next_token(other, "Hello")


def test_export_lm(lora_pair, tmp_path):
    loss = C.compare_loss(lora_pair, C.LMRows(["hi there friend"]))
    nt = C.compare_next_token(lora_pair, "Hi", chat=False)
    paths = C.export_lm(tmp_path, ("L", "R"), {"seed": 0}, loss=loss, next_token=nt,
                        samples=[{"prompt": "Hi", "left": "a", "right": "b"}])
    md = next(p for p in paths if p.suffix == ".md").read_text()
    assert "Held-out loss" in md and "KL(right || left)" in md and "**Right:** b" in md
    assert {p.name.split("causal-lm")[1] for p in paths} >= {".md", "-samples.csv",
                                                             "-loss.csv", "-next-token.csv"}
    with pytest.raises(UserError, match="Nothing to export"):
        C.export_lm(tmp_path, ("L", "R"), {})


def test_chat_data_run_uses_run_splits(lora_pair):
    assert isinstance(lora_pair.run_config.data, DataConfig)
    rows = C.lm_rows_from_run(lora_pair, "validation", max_rows=3)
    assert len(rows.prompts) == 3 and rows.answers is not None
