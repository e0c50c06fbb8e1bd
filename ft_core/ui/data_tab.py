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

import gradio as gr
import pandas as pd

from .. import data as D
from ..catalog import MINILM, presets_for
from ..config import FILTER_OPS
from ..data import tokenize_preview as T
from ..data.prepare import describe_builtins
from .common import handler
from .data_handlers import COND_HEADERS, NONE, DataHandlers, DataWork, conditions_from, config_from
from .state import AppContext

__all__ = ["DataTab", "DataWork", "build", "conditions_from", "config_from"]


class DataTab(DataHandlers):
    """Layout and wiring; the handlers come from DataHandlers."""

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
            self.tok_side = gr.Radio([("the start", "right"), ("the end", "left")],
                                     value="right", label="Keep",
                                     info="which part of a long text survives truncation "
                                          "(Train tab: Long texts)",
                                     elem_id="data-tok-side")
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
                                          "truncation_side": self.tok_side,
                                          "text_column": self.text_col,
                                          "text_pair_column": self.pair_col})
        self.save_btn.click(handler(self.save_dataset), [self.work], [self.save_msg],
                            api_name="save_dataset",
                            inputs_kwargs={"folder": self.save_folder, "fmt": self.save_fmt})


def build(ctx: AppContext) -> None:
    DataTab(ctx).build()
