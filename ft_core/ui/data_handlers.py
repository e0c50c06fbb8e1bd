"""The Data tab's handlers: widget values in, ft_core.data calls, display values out.

Kept apart from the layout (data_tab.py) so each reads on its own. A session's data is a
``DataWork`` held in a gr.State: the loaded DatasetDict (shared, read-only, from the load
cache) and the Arrow tables the preview shows now.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gradio as gr
import pandas as pd

from .. import data as D
from ..catalog import MINILM
from ..config import FILTER_OPS, DataConfig
from ..data import explore
from ..data import split as S
from ..data import tokenize_preview as T
from ..data.filters import column as data_column
from ..data.prepare import source_tables
from ..errors import UserError
from ..space import check_source_allowed, check_upload_size, output_dir
from .common import session_id
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
        # an empty split is still that split (a 0-row Arrow table is falsy)
        return self.view[split] if split in self.view else next(iter(self.view.values()))


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



class DataHandlers:
    """The handlers of the Data tab (DataTab adds the layout and the wiring)."""

    def __init__(self, ctx: AppContext):
        self.ctx = ctx

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
        if info["rows"] == 0:
            return f"`{split}` is empty (its ratio is 0)."
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
                         truncation_side="right", text_column=None, text_pair_column=None,
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
                                 padding=padding, truncation=bool(truncation),
                                 truncation_side=truncation_side or "right")
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
                f"padding=`{s['padding']}`, truncation={s['truncation']}"
                f"{' (keeping the end)' if cut and s['truncation_side'] == 'left' else ''}, "
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
