"""Data tab speed on a generated 1,000,000-row text dataset, against plain pandas.

Steps (targets from issue 2): load from Parquet, a 3-condition filter and a stratified
3-way split each under 2 s; a preview call under 0.5 s whatever the dataset size. The
same operations are done with plain pandas in the same process and the ratio printed.

    .venv/bin/python bench/bench_data.py [--rows 1000000] [--repeat 3] [--no-ui]

--no-ui skips the end-to-end preview timing through the running app (gradio_client).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from ft_core import data as D  # noqa: E402
from ft_core.config import DataConfig  # noqa: E402

WORDS = ("data model train token label review drug pain effect great bad good side sleep "
         "day week doctor work better worse help dose night feel life year time the a and "
         "of to in it is was for with my this that").split()
LABELS = np.array(["negative", "neutral", "positive", "mixed", "unknown"])
FILTERS = [{"column": "text", "op": "contains", "value": "data"},
           {"column": "score", "op": ">=", "value": "3"},
           {"column": "text", "op": "length between", "value": "20, 400"}]


def make_dataset(path: Path, rows: int, seed: int = 0) -> None:
    """Texts of 3-60 random words, an imbalanced 5-class label, an int score."""
    rng = np.random.default_rng(seed)
    vocab = np.array(WORDS)
    # Build texts from 20k distinct random sentences (fast) drawn with replacement.
    sentences = [" ".join(vocab[rng.integers(0, len(vocab), rng.integers(3, 60))])
                 for _ in range(20_000)]
    pick = rng.integers(0, len(sentences), rows)
    texts = pa.array(np.array(sentences, dtype=object)[pick], pa.string())
    labels = LABELS[rng.choice(len(LABELS), rows, p=[0.3, 0.1, 0.45, 0.1, 0.05])]
    table = pa.table({"id": np.arange(rows), "text": texts, "label": labels,
                      "score": rng.integers(1, 6, rows)})
    pq.write_table(table, path)


CPU_TIMES: dict[str, list[float]] = {}  # step -> CPU seconds of our code (all threads)


def timed(fn, repeat: int, cpu_key: str | None = None):
    times, result = [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        times.append(time.perf_counter() - t0)
        if cpu_key:
            CPU_TIMES.setdefault(cpu_key, []).append(time.process_time() - c0)
    return statistics.median(times), result


def paired(ours, base, repeat: int, name: str):
    """Median times of two functions run alternately (machine load drifts, both see it)."""
    t_ours, t_base, r_ours, r_base = [], [], None, None
    for _ in range(repeat):
        t, r_ours = timed(ours, 1, name)
        t_ours.append(t)
        t, r_base = timed(base, 1)
        t_base.append(t)
    return statistics.median(t_ours), statistics.median(t_base), r_ours, r_base


def warm_up(tmp: str) -> None:
    """Import datasets & co once (the app has them loaded) so step times exclude imports."""
    small = Path(tmp) / "warm.parquet"
    warm = pa.table({"text": ["a b", "c d"], "label": ["x", "y"], "score": [1, 5]})
    pq.write_table(warm, small)
    D.apply_filters(D.arrow_table(D.load_source(str(small))["train"]), FILTERS)


# -- ours --------------------------------------------------------------------------------

def ours_load(path):
    D.clear_cache()
    return D.load_source(str(path))


def ours_filter(dd):
    return D.apply_filters(D.arrow_table(dd["train"]), FILTERS, "and")


def ours_split(filtered):
    cfg = DataConfig(source="bench", text_column="text", label_column="label",
                     drop_empty_text=False, stratify=True, seed=42)
    return D.prepare_loaded({"train": D.to_dataset(filtered)}, cfg)


# -- plain pandas ------------------------------------------------------------------------

def pandas_load(path):
    return pd.read_parquet(path)


def pandas_filter(df):
    text = df["text"]
    length = text.str.len()
    mask = (text.str.contains("data", case=False, regex=False) & (df["score"] >= 3) &
            length.between(20, 400))
    return df[mask]


def pandas_split(df, seed=42):
    shuffled = df.sample(frac=1.0, random_state=seed)
    groups = shuffled.groupby("label", sort=True)["label"]
    position = groups.cumcount() / groups.transform("size")
    return {"train": shuffled[position < 0.8],
            "validation": shuffled[(position >= 0.8) & (position < 0.9)],
            "test": shuffled[position >= 0.9]}


def preview_through_app(path: Path, repeat: int) -> tuple[float, float]:
    """(load call, median preview call) through the real app over HTTP (gradio_client)."""
    import socket

    from gradio_client import Client

    from ft_core.ui import build_app
    from ft_core.ui.app import launch_kwargs
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = build_app(runs_dir=tempfile.mkdtemp())
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                        quiet=True, **launch_kwargs())
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        t0 = time.perf_counter()
        client.predict(str(path), "", "", api_name="/load_dataset")
        load_s = time.perf_counter() - t0
        times = []
        for page in range(1, repeat * 3 + 1):
            t0 = time.perf_counter()
            client.predict("train", page * 1000, 20, api_name="/preview_page")
            times.append(time.perf_counter() - t0)
        return load_s, statistics.median(times)
    finally:
        demo.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-ui", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"bench_{args.rows}.parquet"
        t0 = time.perf_counter()
        make_dataset(path, args.rows)
        print(f"generated {args.rows:,} rows ({path.stat().st_size / 2**20:.0f} MB Parquet) "
              f"in {time.perf_counter() - t0:.1f} s")

        warm_up(tmp)
        t_load, p_load, dd, df = paired(lambda: ours_load(path), lambda: pandas_load(path),
                                        args.repeat, "load Parquet")
        t_filter, p_filter, filtered, pdf = paired(lambda: ours_filter(dd),
                                                   lambda: pandas_filter(df), args.repeat,
                                                   "3-condition filter")
        assert filtered.num_rows == len(pdf), (filtered.num_rows, len(pdf))
        t_split, p_split, prepared, parts = paired(lambda: ours_split(filtered),
                                                   lambda: pandas_split(pdf), args.repeat,
                                                   "stratified 3-way split")
        t_preview, _ = timed(lambda: D.preview_page(dd["train"], 40_000, 20), args.repeat * 5,
                             "preview one page (core)")
        p_preview, _ = timed(lambda: df.iloc[799_980:800_000].copy(), args.repeat * 5)

        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"machine: {os.cpu_count()} CPU cores, load average {load}")
        sizes = prepared.sizes()
        print(f"filter kept {filtered.num_rows:,} rows; split {sizes} "
              f"(pandas {[len(v) for v in parts.values()]})")
        print(f"\n{'step':<28}{'ours (s)':>10}{'pandas (s)':>12}{'pandas/ours':>13}"
              f"{'target':>9}   ours CPU s (median)")
        for name, ours, base, target in (
                ("load Parquet", t_load, p_load, 2.0),
                ("3-condition filter", t_filter, p_filter, 2.0),
                ("stratified 3-way split", t_split, p_split, 2.0),
                ("preview one page (core)", t_preview, p_preview, 0.5)):
            ok = "ok" if ours < target else "MISSED"
            cpu = statistics.median(CPU_TIMES.get(name, [0.0]))
            print(f"{name:<28}{ours:>10.3f}{base:>12.3f}{base / ours:>12.2f}x"
                  f"{'<' + str(target):>6} {ok:<7}{cpu:>8.3f}")

        if not args.no_ui:
            load_s, preview_s = preview_through_app(path, args.repeat)
            ok = "ok" if preview_s < 0.5 else "MISSED"
            print(f"\nthrough the app (gradio_client, HTTP): load_dataset call {load_s:.2f} s, "
                  f"preview_page call median {preview_s:.3f} s (target < 0.5) {ok}")


if __name__ == "__main__":
    main()
