"""The Data tab: load, look, filter, choose columns, split, see tokens, save.

Wiring only: every button calls ft_core.data. The loaded data and what the preview shows
live in a per-session gr.State (a ``DataWork``); the dataset the Train tab will use is the
DataConfig dict put in ``ctx.data_state`` after a successful split, because the training
subprocess re-creates the same rows from it with ``ft_core.data.prepare``.

The widgets that make the DataConfig are passed to handlers as keyword arguments named
after its fields (``inputs_kwargs``), so gradio_client calls read like the config:
``client.predict(label_column="rating", seed=1, api_name="/split_dataset")``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gradio as gr
import pandas as pd

from .. import data as D
from ..catalog import MINILM, presets_for
from ..config import FILTER_OPS, DataConfig
from ..data import explore
from ..data import split as S
from ..data import tokenize_preview as T
from ..data.filters import column as data_column
from ..data.prepare import describe_builtins, source_tables
from ..errors import UserError
from ..space import check_source_allowed, check_upload_size, output_dir
from .common import handler, session_id
from .data_plots import bar_figure, histogram_figure, split_figure
from .state import AppContext

NONE = "(none)"
COND_HEADERS = ["column", "op", "value"]
TOKEN_SAMPLE = 2000  # rows tokenized for the length histogram


@dataclass
class DataWork:
    """One session's data: what was loaded, and the tables the preview shows now."""

    source: str
    hub_config: str | None
    hub_split: str | None
    loaded: object  # DatasetDict
    view: dict = field(default_factory=dict)  # split name -> pyarrow Table
    stage: str = "loaded"  # loaded | filtered | split
    prepared: object = None  # PreparedData after a split

    def config(self, fields: dict) -> DataConfig:
        """The DataConfig for this source from the widgets' values."""
        return config_from({**fields, "source": self.source, "hub_config": self.hub_config,
                            "hub_split": self.hub_split})

    def replace(self, view: dict, stage: str, prepared=None) -> DataWork:
        return DataWork(self.source, self.hub_config, self.hub_split, self.loaded, view,
                        stage, prepared)

    def table(self, split: str | None):
        if not self.view:
            raise UserError("Load a dataset first.")
        return self.view.get(split) or next(iter(self.view.values()))


def _work(work: DataWork | None) -> DataWork:
    if work is None:
        raise UserError("No dataset is loaded yet.", hint="Pick a source and click Load.")
    return work


def _col(value) -> str | None:
    return None if value in (None, "", NONE) else str(value)


def conditions_from(df) -> list[dict]:
    """The conditions table (column, op, value) -> FilterCondition dicts (blank rows skipped)."""
    if df is None:
        return []
    if isinstance(df, dict):  # {"headers": [...], "data": [[...]]} from gradio_client
        df = pd.DataFrame(df.get("data") or [], columns=df.get("headers") or COND_HEADERS)
    rows = df.values.tolist() if isinstance(df, pd.DataFrame) else list(df)
    out = []
    for row in rows:
        column, op, value = (list(row) + [None, None, None])[:3]
        if not column or str(column).strip() == "":
            continue
        out.append({"column": str(column).strip(), "op": str(op or "==").strip(),
                    "value": None if value is None else str(value)})
    return out


def config_from(fields: dict) -> DataConfig:
    """Widget values (keyed by DataConfig field) -> a checked DataConfig."""
    max_rows = fields.get("max_rows")
    return DataConfig(
        source=str(fields.get("source") or "").strip(),
        hub_config=_col(fields.get("hub_config")), hub_split=_col(fields.get("hub_split")),
        filters=conditions_from(fields.get("filters")),
        combine=str(fields.get("combine") or "and").lower(),
        drop_duplicates=bool(fields.get("drop_duplicates")),
        drop_empty_text=bool(fields.get("drop_empty_text")),
        unescape_html=bool(fields.get("unescape_html")),
        text_column=_col(fields.get("text_column")),
        text_pair_column=_col(fields.get("text_pair_column")),
        label_column=_col(fields.get("label_column")),
        response_column=_col(fields.get("response_column")),
        keep_existing_splits=bool(fields.get("keep_existing_splits")),
        train_ratio=float(fields.get("train_ratio") or 0),
        validation_ratio=float(fields.get("validation_ratio") or 0),
        test_ratio=float(fields.get("test_ratio") or 0),
        stratify=bool(fields.get("stratify")), seed=int(fields.get("seed") or 0),
        max_rows=int(max_rows) if max_rows else None)


def summary_markdown(prepared, cfg: DataConfig) -> str:
    sizes = ", ".join(f"{k} **{v:,}**" for k, v in prepared.sizes().items())
    roles = [f"text `{prepared.text_column}`"]
    if prepared.text_pair_column:
        roles.append(f"second text `{prepared.text_pair_column}`")
    if prepared.label_column:
        roles.append(f"label `{prepared.label_column}` ({len(prepared.label_names)} classes)")
    if prepared.response_column:
        roles.append(f"response `{prepared.response_column}`")
    return (f"**Ready for training:** `{cfg.source}`: {sizes}; {', '.join(roles)}. "
            f"Seed {cfg.seed}{', stratified' if cfg.stratify and prepared.label_names else ''}"
            f". The **Train** tab will use exactly these rows.")


def length_text(report: dict, sampled: bool, max_length: int, limit: int) -> str:
    return (f"Over {report['rows']:,} rows{' (a random sample)' if sampled else ''}: "
            f"median {report['p50']:.0f} tokens, 95th percentile {report['p95']:.0f}, "
            f"longest {report['max']:,}. max_length {max_length} would truncate "
            f"**{report['truncated_share']:.1%}** of rows. Suggested max_length: "
            f"**{report['suggested_max_length']}** (95th percentile rounded up to a "
            f"multiple of 8, at most the model's {limit}).")


class DataTab:
    def __init__(self, ctx: AppContext):
        self.ctx = ctx

    # -- layout --------------------------------------------------------------------------

    def build(self) -> None:
        gr.Markdown(
            "## Data\nWork top to bottom: **load** a dataset, **look** at it, **filter** it, "
            "pick the **columns** the model learns from, **split** it, and see how the "
            "model's tokenizer cuts the text. Splitting makes it the dataset the **Train** "
            "tab uses.")
        self.work = gr.State(None)
        self._source_section()
        self._preview_section()
        self._filter_section()
        self._columns_section()
        self._split_section()
        self._tokenize_section()
        self._save_section()
        # DataConfig fields -> widgets (the source comes from what was loaded)
        self.cfg = {
            "filters": self.conditions, "combine": self.combine,
            "drop_duplicates": self.drop_dup, "drop_empty_text": self.drop_empty,
            "unescape_html": self.unescape, "text_column": self.text_col,
            "text_pair_column": self.pair_col, "label_column": self.label_col,
            "response_column": self.response_col, "keep_existing_splits": self.keep_splits,
            "train_ratio": self.train_ratio, "validation_ratio": self.val_ratio,
            "test_ratio": self.test_ratio, "stratify": self.stratify, "seed": self.seed,
            "max_rows": self.max_rows}
        self._wire()

    def _source_section(self) -> None:
        gr.Markdown("### 1. Source")
        with gr.Row():
            with gr.Column(scale=2):
                self.builtin = gr.Dropdown(
                    [(f"{k}: {v}", k) for k, v in describe_builtins().items()], value=None,
                    label="Built-in dataset (works offline)",
                    elem_id="data-builtin")
                self.upload = gr.File(label="…or upload a file", file_count="single",
                                      file_types=list(D.FILE_FORMATS), elem_id="data-upload",
                                      height=120)
            with gr.Column(scale=3):
                self.source = gr.Textbox(
                    "builtin:drug_reviews", label="Source", elem_id="data-source",
                    info="A built-in name, a file path (.csv .tsv .json .jsonl .parquet), a "
                         "folder saved here, or a Hub dataset name such as 'imdb' (online).")
                with gr.Row():
                    self.hub_config = gr.Textbox("", label="Hub config (optional)",
                                                 info="e.g. 'mrpc' for nyu-mll/glue")
                    self.hub_split = gr.Textbox("", label="Hub split (optional)",
                                                info="empty = all splits")
                self.load_btn = gr.Button("Load", variant="primary", elem_id="data-load")
        self.status = gr.Markdown("", elem_id="data-status")

    def _preview_section(self) -> None:
        gr.Markdown("### 2. Look at the data\nOne page at a time, whatever the size. The "
                    "schema counts missing (null) and distinct values per column.")
        with gr.Row():
            self.view_split = gr.Dropdown(["train"], value="train", label="Split",
                                          elem_id="data-view-split", scale=2,
                                          allow_custom_value=True)
            self.page = gr.Number(1, label="Page", precision=0, minimum=1, scale=1,
                                  elem_id="data-page")
            self.page_size = gr.Number(20, label="Rows per page", precision=0, minimum=1,
                                       maximum=500, scale=1)
            self.prev_btn = gr.Button("◀ Previous", scale=1, size="sm")
            self.next_btn = gr.Button("Next ▶", scale=1, size="sm")
        self.page_info = gr.Markdown("", elem_id="data-page-info")
        self.preview = gr.Dataframe(label="Rows", interactive=False, wrap=True,
                                    max_height=420, elem_id="data-preview")
        self.schema = gr.Dataframe(label="Schema", interactive=False, elem_id="data-schema")
        with gr.Row():
            self.label_plot = gr.Plot(label="Label distribution", elem_id="data-label-plot")
            self.length_plot = gr.Plot(label="Text length (characters)",
                                       elem_id="data-length-plot")

    def _filter_section(self) -> None:
        gr.Markdown("### 3. Filter\nAdd conditions, then **Apply**. Values are data, never "
                    "code: `contains` ignores case, `regex` uses RE2 syntax, `in` takes a "
                    "comma-separated list, `length between` takes two numbers (characters).")
        with gr.Row():
            self.f_column = gr.Dropdown([], label="Column", elem_id="data-filter-column",
                                        allow_custom_value=True)
            self.f_op = gr.Dropdown(list(FILTER_OPS), value="==", label="Operator",
                                    elem_id="data-filter-op")
            self.f_value = gr.Textbox("", label="Value", elem_id="data-filter-value")
            self.add_btn = gr.Button("Add condition", elem_id="data-filter-add")
        self.conditions = gr.Dataframe(
            pd.DataFrame(columns=COND_HEADERS), headers=COND_HEADERS, label="Conditions",
            interactive=True, datatype="str", column_count=3, elem_id="data-conditions")
        with gr.Row():
            self.combine = gr.Radio(["and", "or"], value="and", label="Combine conditions",
                                    info="and: every condition holds; or: any one holds")
            self.drop_empty = gr.Checkbox(True, label="Drop empty texts")
            self.drop_dup = gr.Checkbox(False, label="Drop duplicate texts",
                                        info="keeps the first of each")
            self.unescape = gr.Checkbox(True, label="Unescape HTML (&#039; → ')",
                                        info="the drug reviews need it")
        with gr.Row():
            self.clear_btn = gr.Button("Clear conditions", size="sm")
            self.apply_btn = gr.Button("Apply filters", variant="primary",
                                       elem_id="data-apply")

    def _columns_section(self) -> None:
        gr.Markdown("### 4. Columns\nThe **text** is what the model reads; a **second text** "
                    "makes sentence pairs (as in GLUE MRPC); the **label** is what a "
                    "classifier predicts (mapped to ids 0, 1, …); a **response** is the "
                    "answer a causal LM learns to write.")
        with gr.Row():
            # allow_custom_value: API callers may name any column (checked in the core).
            any_col = {"allow_custom_value": True}
            self.text_col = gr.Dropdown([NONE], value=NONE, label="Text column",
                                        elem_id="data-text-col", **any_col)
            self.pair_col = gr.Dropdown([NONE], value=NONE, label="Second text (optional)",
                                        **any_col)
            self.label_col = gr.Dropdown([NONE], value=NONE, label="Label column",
                                         elem_id="data-label-col", **any_col)
            self.response_col = gr.Dropdown([NONE], value=NONE, label="Response column",
                                            **any_col)
        self.label_map = gr.Dataframe(label="Label → id", interactive=False,
                                      elem_id="data-label-map")

    def _split_section(self) -> None:
        gr.Markdown("### 5. Split\nTrain on one part, tune on **validation**, report on "
                    "**test**. Stratified keeps each label's share equal in every split. "
                    "Same seed, same split.")
        with gr.Row():
            self.keep_splits = gr.Checkbox(True, label="Keep the dataset's own splits",
                                           info="missing ones are carved from train")
            self.train_ratio = gr.Slider(0.05, 1, 0.8, step=0.05, label="Train")
            self.val_ratio = gr.Slider(0, 0.5, 0.1, step=0.05, label="Validation")
            self.test_ratio = gr.Slider(0, 0.5, 0.1, step=0.05, label="Test")
        with gr.Row():
            self.seed = gr.Number(42, label="Seed", precision=0)
            self.stratify = gr.Checkbox(True, label="Stratify by label")
            self.max_rows = gr.Number(0, label="At most rows per split (0 = all)",
                                      precision=0, minimum=0,
                                      info="a small subset trains fast on CPU")
            self.split_btn = gr.Button("Split and use this dataset", variant="primary",
                                       elem_id="data-split")
        self.split_table = gr.Dataframe(label="Splits", interactive=False,
                                        elem_id="data-split-sizes")
        self.split_plot = gr.Plot(label="Labels per split", elem_id="data-split-plot")
        self.summary = gr.Markdown("", elem_id="data-summary")

    def _tokenize_section(self) -> None:
        gr.Markdown("### 6. Tokenization preview\nHow a model's tokenizer cuts a row: each "
                    "highlighted span is one token (its id above it). Special tokens such as "
                    "`[CLS]` have no span. `Ġ` in SmolLM2's tokens marks a leading space.")
        with gr.Row():
            self.tok_model = gr.Dropdown(presets_for(), value=MINILM, label="Model",
                                         allow_custom_value=True, elem_id="data-tok-model",
                                         info="a preset, a Hub id (online) or a folder")
            self.tok_row = gr.Number(0, label="Row #", precision=0, minimum=0)
            self.tok_text = gr.Textbox("", label="…or type a text", elem_id="data-tok-text")
        with gr.Row():
            self.tok_max_len = gr.Slider(8, 2048, 128, step=8, label="max_length")
            self.tok_padding = gr.Radio(list(T.PADDING), value="longest", label="Padding",
                                        info="training pads per batch ('longest')")
            self.tok_trunc = gr.Checkbox(True, label="Truncate to max_length")
            self.tok_btn = gr.Button("Tokenize", variant="primary", elem_id="data-tokenize")
        self.tok_spans = gr.HighlightedText(label="Tokens in the text", elem_id="data-spans",
                                            show_legend=False)
        self.tok_pair_spans = gr.HighlightedText(label="Tokens in the second text",
                                                 show_legend=False, visible=False)
        self.tok_info = gr.Markdown("", elem_id="data-tok-info")
        self.tok_table = gr.Dataframe(label="Tokens", interactive=False, max_height=300,
                                      elem_id="data-tok-table")
        self.tok_plot = gr.Plot(label="Tokens per row", elem_id="data-tok-plot")

    def _save_section(self) -> None:
        gr.Markdown("### 7. Save\nSave the split dataset to a folder (datasets' "
                    "save_to_disk or one Parquet file per split); type the folder as the "
                    "Source to load it again.")
        with gr.Row():
            self.save_folder = gr.Textbox("prepared/my-dataset", label="Folder",
                                          elem_id="data-save-folder")
            self.save_fmt = gr.Radio(["disk", "parquet"], value="disk", label="Format")
            self.save_btn = gr.Button("Save", elem_id="data-save")
        self.save_msg = gr.Markdown("", elem_id="data-save-msg")

    # -- wiring --------------------------------------------------------------------------

    def _wire(self) -> None:
        view_outputs = [self.preview, self.page_info, self.schema, self.label_plot,
                        self.length_plot]
        column_widgets = [self.f_column, self.text_col, self.pair_col, self.label_col,
                          self.response_col]
        self.builtin.change(handler(lambda name: name or gr.skip()), self.builtin,
                            self.source, api_visibility="private")
        self.upload.upload(handler(self.on_upload), self.upload, self.source,
                           api_name="upload_file").success(
            handler(self.load), [self.source, self.hub_config, self.hub_split],
            [self.work, self.status, self.view_split, self.page, self.conditions,
             *column_widgets, *view_outputs])
        self.load_btn.click(
            handler(self.load), [self.source, self.hub_config, self.hub_split],
            [self.work, self.status, self.view_split, self.page, self.conditions,
             *column_widgets, *view_outputs], api_name="load_dataset").success(
            handler(self.show_labels_quietly), [self.work, self.view_split, self.label_col],
            [self.label_map, self.label_plot], api_visibility="private")
        page_inputs = [self.work, self.view_split, self.page, self.page_size]
        self.page.submit(handler(self.show_page), page_inputs, [self.preview, self.page_info,
                                                                self.page],
                         api_visibility="private")
        self.page_size.submit(handler(self.show_page), page_inputs,
                              [self.preview, self.page_info, self.page],
                              api_visibility="private")
        self.prev_btn.click(handler(lambda *a: self.show_page(*a, step=-1)), page_inputs,
                            [self.preview, self.page_info, self.page],
                            api_visibility="private")
        self.next_btn.click(handler(lambda *a: self.show_page(*a, step=1)), page_inputs,
                            [self.preview, self.page_info, self.page],
                            api_visibility="private")
        gr.on([self.view_split.input], handler(self.show_view),
              [self.work, self.view_split, self.page_size, self.label_col, self.text_col],
              [self.page, *view_outputs], api_visibility="private")
        # The API's paging call: (split, page, page_size) -> one page of rows.
        api_page = gr.Button(visible=False)
        api_page.click(handler(self.preview_page), [self.work],
                       [self.preview, self.page_info], api_name="preview_page",
                       inputs_kwargs={"split": self.view_split, "page": self.page,
                                      "page_size": self.page_size})
        self.add_btn.click(handler(self.add_condition),
                           [self.conditions, self.f_column, self.f_op, self.f_value],
                           [self.conditions, self.f_value], api_visibility="private")
        self.clear_btn.click(lambda: pd.DataFrame(columns=COND_HEADERS), None,
                             self.conditions, api_visibility="private")
        self.apply_btn.click(handler(self.apply_filters), [self.work],
                             [self.work, self.status, self.view_split, self.page,
                              *view_outputs], api_name="apply_filters",
                             inputs_kwargs=self.cfg)
        self.label_col.input(handler(self.show_labels), [self.work, self.view_split,
                                                         self.label_col],
                             [self.label_map, self.label_plot], api_visibility="private")
        self.split_btn.click(handler(self.split_dataset), [self.work],
                             [self.work, self.ctx.data_state, self.split_table,
                              self.split_plot, self.summary, self.label_map, self.view_split,
                              self.page, *view_outputs],
                             api_name="split_dataset", inputs_kwargs=self.cfg)
        self.tok_btn.click(handler(self.tokenize_preview), [self.work],
                           [self.tok_spans, self.tok_pair_spans, self.tok_info,
                            self.tok_table, self.tok_plot], api_name="tokenize_preview",
                           inputs_kwargs={"model": self.tok_model, "split": self.view_split,
                                          "row": self.tok_row, "text": self.tok_text,
                                          "max_length": self.tok_max_len,
                                          "padding": self.tok_padding,
                                          "truncation": self.tok_trunc,
                                          "text_column": self.text_col,
                                          "text_pair_column": self.pair_col})
        self.save_btn.click(handler(self.save_dataset), [self.work], [self.save_msg],
                            api_name="save_dataset",
                            inputs_kwargs={"folder": self.save_folder, "fmt": self.save_fmt})

    # -- handlers ------------------------------------------------------------------------

    # -- Space mode: visitors may open only built-ins, uploads, their own folders, the Hub

    def _allowed_dirs(self, request) -> list:
        return [D.uploads_dir(), self.ctx.runs_dir_for(request)]  # saves land in the latter

    def on_upload(self, file):
        if file is None:
            raise UserError("No file was uploaded.")
        path = getattr(file, "name", None) or str(file)
        original = getattr(file, "orig_name", None)
        check_upload_size(path, self.ctx.space_settings)
        return D.store_upload(path, original_name=original)

    def load(self, source, hub_config, hub_split, request: gr.Request = None):
        source = str(source or "").strip()
        check_source_allowed(source, self.ctx.space_settings, self._allowed_dirs(request))
        loaded = D.load_source(source, _col(hub_config), _col(hub_split))
        work = DataWork(source, _col(hub_config), _col(hub_split), loaded,
                        source_tables(loaded))
        first = next(iter(work.view))
        roles = D.default_roles(source, work.view[first])
        cols = work.view[first].column_names
        sizes = ", ".join(f"{k}: {t.num_rows:,}" for k, t in work.view.items())
        status = (f"Loaded `{source}`: {len(cols)} columns; rows {sizes}. "
                  f"Suggested text column: `{roles['text_column']}`"
                  + (f", label column: `{roles['label_column']}`" if roles["label_column"]
                     else "") + ".")
        optional = [NONE, *cols]
        col_updates = [
            gr.update(choices=cols, value=roles["text_column"] or cols[0]),
            gr.update(choices=cols, value=roles["text_column"] or cols[0]),
            gr.update(choices=optional, value=roles["text_pair_column"] or NONE),
            gr.update(choices=optional, value=roles["label_column"] or NONE),
            gr.update(choices=optional, value=roles["response_column"] or NONE)]
        views = self._views(work, first, 20, roles["label_column"], roles["text_column"])
        return (work, status, gr.update(choices=list(work.view), value=first), 1,
                pd.DataFrame(columns=COND_HEADERS), *col_updates, *views)

    def _views(self, work, split, page_size, label_col, text_col, page=1):
        table = work.table(split)
        df, info = D.preview_page(table, page, page_size)
        schema = D.schema(table)
        label_col, text_col = _col(label_col), _col(text_col)
        labels = bar_figure(D.label_distribution(table, label_col), "label", "count") \
            if label_col and label_col in table.column_names else None
        lengths = histogram_figure(D.histogram(D.text_lengths(table, text_col)),
                                   "characters") \
            if text_col and text_col in table.column_names else None
        return df, self._page_text(info, split), schema, labels, lengths

    @staticmethod
    def _page_text(info, split) -> str:
        return (f"`{split}`: rows {info['first']:,}–{info['last']:,} of {info['rows']:,} "
                f"(page {info['page']} of {info['pages']:,})")

    def preview_page(self, work, split=None, page=1, page_size=20):
        """One page of rows of a split: the only rows sent to the browser."""
        work = _work(work)
        split = split if split in work.view else next(iter(work.view))
        df, info = D.preview_page(work.table(split), page, page_size)
        return df, self._page_text(info, split)

    def show_page(self, work, split, page, page_size, step=0):
        work = _work(work)
        split = split if split in work.view else next(iter(work.view))
        df, info = D.preview_page(work.table(split), int(page or 1) + step, page_size)
        return df, self._page_text(info, split), info["page"]

    def show_view(self, work, split, page_size, label_col, text_col):
        work = _work(work)
        return (1, *self._views(work, split, page_size, label_col, text_col))

    def add_condition(self, conditions, column, op, value):
        if not column:
            raise UserError("Pick a column for the condition.")
        if op not in FILTER_OPS:
            raise UserError(f"Unknown operator {op!r}.")
        rows = conditions_from(conditions)
        rows.append({"column": column, "op": op, "value": value or ""})
        return pd.DataFrame([[r["column"], r["op"], r["value"] or ""] for r in rows],
                            columns=COND_HEADERS), ""

    def apply_filters(self, work, **fields):
        """Apply the filters (and drop empty/duplicates, unescape) to every split."""
        work = _work(work)
        cfg = work.config(fields)
        first = next(iter(work.loaded))
        roles = D.resolve_roles(cfg, D.arrow_table(work.loaded[first]))
        before = source_tables(work.loaded)
        after = {k: D.clean(t, cfg, roles) for k, t in before.items()}
        kept = sum(t.num_rows for t in after.values())
        total = sum(t.num_rows for t in before.values())
        if kept == 0:
            raise UserError(f"No rows are left after the filters (0 of {total:,}).",
                            hint="Loosen or remove a condition, or switch 'and' to 'or'. "
                                 "Nothing was changed.")
        work = work.replace(after, "filtered")
        detail = ", ".join(f"{k}: {after[k].num_rows:,} of {before[k].num_rows:,}"
                           for k in after)
        status = (f"Filters kept **{kept:,} of {total:,}** rows ({detail}). "
                  "Now choose the columns and split.")
        split = next(iter(after))
        return (work, status, gr.update(choices=list(after), value=split), 1,
                *self._views(work, split, 20, roles["label_column"], roles["text_column"]))

    def show_labels(self, work, split, label_col):
        work = _work(work)
        label_col = _col(label_col)
        if not label_col:
            return pd.DataFrame(columns=["label", "id"]), None
        cols = [data_column(t, label_col) for t in work.view.values()]
        names = S.label_names(cols, label_col)
        table = work.table(split)
        return (pd.DataFrame({"label": names, "id": range(len(names))}),
                bar_figure(D.label_distribution(table, label_col), "label", "count"))

    def show_labels_quietly(self, work, split, label_col):
        """After a load: the mapping when it can be made, no error toast when it cannot."""
        try:
            return self.show_labels(work, split, label_col)
        except UserError:
            return pd.DataFrame(columns=["label", "id"]), gr.skip()

    def split_dataset(self, work, **fields):
        """Clean, map labels, split; store the DataConfig for the Train tab."""
        work = _work(work)
        cfg = work.config(fields)
        prepared = D.prepare_loaded(work.loaded, cfg)
        view = {k: D.arrow_table(ds) for k, ds in prepared.splits.items()}
        work = work.replace(view, "split", prepared)
        figure = split_figure(prepared.label_counts()) if prepared.label_names else None
        label_map = explore.label_table(prepared) if prepared.label_names else \
            pd.DataFrame(columns=["label", "id"])
        views = self._views(work, "train", 20, prepared.label_column, prepared.text_column)
        return (work, cfg.to_dict(), explore.split_summary(prepared), figure,
                summary_markdown(prepared, cfg), label_map,
                gr.update(choices=list(view), value="train"), 1, *views)

    def tokenize_preview(self, work, model=MINILM, split=None, row=0, text="",
                         max_length=128, padding="longest", truncation=True,
                         text_column=None, text_pair_column=None,
                         request: gr.Request = None):
        model = str(model or MINILM)
        check_source_allowed(model, self.ctx.space_settings, self._allowed_dirs(request))
        tokenizer = D.get_tokenizer(model)
        text_column, pair_column = _col(text_column), _col(text_pair_column)
        table = work.table(split) if work is not None else None
        if table is not None and not text_column:  # the split's, else the suggested one
            text_column = work.prepared.text_column if work.prepared else \
                D.default_roles(work.source, table)["text_column"]
        if table is not None:
            for name in (text_column, pair_column):
                if name:
                    data_column(table, name)
        if text and str(text).strip():
            sample, pair = str(text), None
        else:
            if table is None:
                raise UserError("Load a dataset (or type a text) first.")
            row = int(row or 0)
            if not 0 <= row < table.num_rows:
                raise UserError(f"Row {row} does not exist: this split has {table.num_rows:,} "
                                f"rows (0 to {table.num_rows - 1:,}).")
            sample = table.column(text_column)[row].as_py()
            pair = table.column(pair_column)[row].as_py() if pair_column else None
        preview = D.tokenize_row(tokenizer, sample, pair, max_length=int(max_length),
                                 padding=padding, truncation=bool(truncation))
        figure, report_text = None, ""
        if table is not None:
            rows = T.sample_rows(table.num_rows, TOKEN_SAMPLE)
            texts = table.column(text_column).take(rows).to_pylist()
            pairs = table.column(pair_column).take(rows).to_pylist() if pair_column else None
            lengths = D.token_lengths(tokenizer, texts, pairs)
            report = D.length_report(lengths, int(max_length),
                                     preview.settings["model_max_length"])
            figure = histogram_figure(D.histogram(lengths), "tokens",
                                      marker=int(max_length))
            report_text = length_text(report, len(rows) < table.num_rows, int(max_length),
                                      preview.settings["model_max_length"])
        s = preview.settings
        cut = s["truncation"] and preview.n_before_truncation > s["max_length"]
        info = (f"**{preview.n_tokens} tokens** ({preview.n_before_truncation} before "
                f"truncation{'; truncated' if cut else ''}). "
                f"padding=`{s['padding']}`, truncation={s['truncation']}, "
                f"max_length={s['max_length']}, model limit {s['model_max_length']}. "
                + report_text)
        return (preview.spans, gr.update(value=preview.pair_spans,
                                         visible=bool(preview.pair_spans)),
                info, preview.tokens, figure)

    def save_dataset(self, work, folder="prepared/my-dataset", fmt="disk",
                     request: gr.Request = None):
        work = _work(work)
        if work.prepared is None:
            raise UserError("Split the dataset before saving it.",
                            hint="Click 'Split and use this dataset' first.")
        # In Space mode the folder lands inside the visitor's own session folder.
        target = output_dir(str(folder or "").strip() or "prepared/data", self.ctx.runs_dir,
                            session_id(request), self.ctx.space_settings)
        path = D.save_prepared(work.prepared, target, fmt or "disk")
        return (f"Saved {', '.join(f'{k} {v:,}' for k, v in work.prepared.sizes().items())} "
                f"rows to `{path}` ({fmt}). Type that folder as the Source to load it again.")


def build(ctx: AppContext) -> None:
    DataTab(ctx).build()
