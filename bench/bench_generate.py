"""Playground speed: tokens/s through the playground's path vs a bare model.generate.

Runs in one process, interleaving the two (baseline first on even rounds, second on odd
ones) and comparing medians, because this machine is shared and wall-clock times drift.
Also measures the time to the first streamed token, the slider -> chart update (cached
logits + transforms + plotly figure), and the memory-bandwidth ceiling for the model:
every generated token reads all the weights once, so tokens/s <= bandwidth / weight bytes.

    .venv/bin/python bench/bench_generate.py [--rounds 5] [--tokens 64] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ft_core import distribution as D  # noqa: E402
from ft_core import generate as G  # noqa: E402
from ft_core.catalog import SMOLLM  # noqa: E402
from ft_core.config import GenerationConfig  # noqa: E402

PROMPT = "Write a short story about a robot who learns to paint."
SETTINGS = {
    "greedy": dict(do_sample=False),
    "sampling": dict(do_sample=True, temperature=0.8, top_p=0.95, min_p=0.05, seed=1),
}


def memory_bandwidth_gbs(mb: int = 256, repeats: int = 7) -> float:
    """Best-of-n numpy copy: bytes read + bytes written per second (GB/s)."""
    src = np.ones(mb * 2**20 // 8)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t)
    return 2 * src.nbytes / best / 1e9


def bare(model, tok, cfg, in_thread: bool = True) -> tuple[int, float]:
    """The baseline: tokenised prompt straight into model.generate, same settings.

    Run in a fresh thread by default, like the playground's generation: on this shared
    machine a worker thread and the main thread get different OpenMP thread teams, and
    that alone moved speeds by 2x or more, which would swamp the overhead we measure."""
    ids, _ = G.build_inputs(tok, PROMPT, chat=True)
    kw = G.generate_kwargs(cfg, tok)
    box = {}

    def work():
        if cfg.seed is not None:
            from transformers import set_seed
            set_seed(cfg.seed)
        t = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **kw)
        box["n"], box["s"] = out.shape[1] - ids.shape[1], time.perf_counter() - t

    if in_thread:
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
    else:
        work()
    return box["n"], box["s"]


def playground(model, tok, cfg) -> tuple[int, float, float]:
    """What the Generate button runs (stream_updates); returns tokens, seconds, TTFT."""
    t = time.perf_counter()
    first = None
    for update in G.stream_updates(model, tok, PROMPT, cfg, chat=True):
        if first is None and update.text:
            first = time.perf_counter() - t
    return len(update.output_ids), time.perf_counter() - t, first


def slider_update_ms(model, tok, repeats: int = 20) -> tuple[float, float]:
    """(transforms only, transforms + figure) per slider move, median ms, logits cached."""
    from ft_core.ui.playground_tab import distribution_figure
    ids, _ = G.build_inputs(tok, PROMPT, chat=True)
    logits = D.next_token_distribution(model, tok, ids)
    only, with_fig = [], []
    for i in range(repeats):
        cfg = GenerationConfig(do_sample=True, temperature=0.5 + i * 0.05, top_k=i * 5,
                               top_p=0.9, min_p=0.02)
        t = time.perf_counter()
        view = D.apply_transforms(logits, cfg, input_ids=ids)
        only.append(time.perf_counter() - t)
        distribution_figure(view, tok, cfg, 20)
        with_fig.append(time.perf_counter() - t)
    return statistics.median(only) * 1e3, statistics.median(with_fig) * 1e3


def api_round_trip_ms(repeats: int = 10) -> float:
    """Median /distribution round trip through a running app (what a slider move costs
    end to end, minus the browser drawing the figure), logits already cached."""
    import socket

    from gradio_client import Client

    from ft_core.ui import build_app
    from ft_core.ui.app import launch_kwargs
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    demo = build_app(runs_dir="/tmp/ft_bench_runs")
    demo.queue()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                **launch_kwargs())
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        settings = dict(do_sample=True, temperature=1.0, top_k=0, top_p=0.9, min_p=0.0,
                        typical_p=1.0, repetition_penalty=1.0, no_repeat_ngram_size=0,
                        num_beams=1, length_penalty=1.0, early_stopping=False,
                        num_return_sequences=1, max_new_tokens=32, seed=0)
        times = []
        for i in range(repeats + 1):
            settings["top_k"] = 5 * i
            t = time.perf_counter()
            client.predict(model_name=SMOLLM, mode="Chat", prompt=PROMPT, history=[],
                           position=0, top_n=20, **settings, api_name="/distribution")
            times.append(time.perf_counter() - t)
        return statistics.median(times[1:]) * 1e3  # the first call computes the logits
    finally:
        demo.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--json", default=None)
    ap.add_argument("--no-app", action="store_true", help="skip the app round-trip timing")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch intra-op threads (default: torch's choice, one per core)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    model, tok = G.load_causal_lm(SMOLLM)
    params = sum(p.numel() for p in model.parameters())
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    bw = memory_bandwidth_gbs()
    result = {"model": SMOLLM, "params": params, "dtype": str(next(model.parameters()).dtype),
              "weight_bytes_per_token": weight_bytes, "memory_bandwidth_gbs": round(bw, 2),
              "bandwidth_ceiling_tok_s": round(bw * 1e9 / weight_bytes, 1),
              "torch_threads": torch.get_num_threads(), "cpus": os.cpu_count(),
              "load_avg": os.getloadavg()[0], "max_new_tokens": args.tokens}
    for name, extra in SETTINGS.items():
        cfg = GenerationConfig(max_new_tokens=args.tokens, **extra)
        bare(model, tok, cfg)  # warm-up
        base_tps, pg_tps, ttft, infos_s = [], [], [], []
        for r in range(args.rounds):
            runs = [("bare", bare), ("pg", playground)]
            for label, fn in (runs if r % 2 == 0 else runs[::-1]):
                out = fn(model, tok, cfg)
                (base_tps if label == "bare" else pg_tps).append(out[0] / out[1])
                if label == "pg":
                    ttft.append(out[2])
        ids, _ = G.build_inputs(tok, PROMPT, chat=True)
        final = list(G.stream_updates(model, tok, PROMPT, cfg, chat=True))[-1]
        t = time.perf_counter()
        G.token_infos(model, tok, final.input_ids, final.output_ids)
        infos_s.append(time.perf_counter() - t)
        b, p = statistics.median(base_tps), statistics.median(pg_tps)
        result[name] = {"bare_tok_s": round(b, 2), "playground_tok_s": round(p, 2),
                        "ratio": round(p / b, 3),
                        "ttft_s_median": round(statistics.median(ttft), 3),
                        "ttft_s_max": round(max(ttft), 3),
                        "colouring_pass_s": round(infos_s[0], 3),
                        "bare_runs": [round(x, 2) for x in base_tps],
                        "playground_runs": [round(x, 2) for x in pg_tps]}
        print(f"{name:9s} bare {b:6.2f} tok/s  playground {p:6.2f} tok/s  ratio {p / b:.3f}  "
              f"TTFT median {statistics.median(ttft):.3f}s (max {max(ttft):.3f}s)  "
              f"colouring pass {infos_s[0]:.3f}s", flush=True)
    only, with_fig = slider_update_ms(model, tok)
    result["slider_transforms_ms"] = round(only, 2)
    result["slider_transforms_plus_figure_ms"] = round(with_fig, 2)
    print(f"slider move: transforms {only:.1f} ms, + plotly figure {with_fig:.1f} ms")
    if not args.no_app:
        result["slider_api_round_trip_ms"] = round(api_round_trip_ms(), 1)
        print(f"slider move through the app (/distribution round trip, median): "
              f"{result['slider_api_round_trip_ms']:.0f} ms")
    print(f"memory bandwidth {bw:.1f} GB/s; {params / 1e6:.1f}M params x "
          f"{weight_bytes / params:.0f} B = {weight_bytes / 1e6:.0f} MB read per token -> "
          f"ceiling {result['bandwidth_ceiling_tok_s']} tok/s")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
