"""Data: load a source, look at it, filter it, split it, see it tokenized.

Public API (the contract with the other tabs, see docs/ARCHITECTURE.md):
- ``load_source(source, hub_config=None, hub_split=None, max_bytes=None) -> DatasetDict``
- ``prepare(cfg: DataConfig) -> PreparedData`` (train/validation/test + column roles)
- ``save_prepared(prepared, folder, fmt="disk"|"parquet")``; the folder loads back as a source
- ``store_upload(path)``: copy an upload to a stable folder, returns the new path

Modules: load (sources, uploads, cache), filters (structured Arrow filters), split (label
ids, stratified splits), prepare (the whole pipeline), explore (preview, schema, stats),
tokenize_preview (tokens, offsets, length histogram).
"""

from .explore import (
                      histogram,
                      label_distribution,
                      label_table,
                      preview_page,
                      schema,
                      split_summary,
                      text_lengths,
)
from .filters import apply_filters, drop_duplicates, drop_empty, filter_mask, unescape_html
from .load import (
                      FILE_FORMATS,
                      arrow_table,
                      builtin_sources,
                      clear_cache,
                      load_source,
                      max_upload_bytes,
                      read_file,
                      store_upload,
                      to_dataset,
                      uploads_dir,
)
from .prepare import (
                      PreparedData,
                      clean,
                      default_roles,
                      prepare,
                      prepare_loaded,
                      resolve_roles,
                      save_prepared,
)
from .tokenize_preview import get_tokenizer, length_report, token_lengths, tokenize_row

__all__ = [
    "FILE_FORMATS", "PreparedData", "apply_filters", "arrow_table", "builtin_sources",
    "clean", "clear_cache", "default_roles", "drop_duplicates", "drop_empty", "filter_mask",
    "get_tokenizer", "histogram", "label_distribution", "label_table", "length_report",
    "load_source", "max_upload_bytes", "prepare", "prepare_loaded", "preview_page",
    "read_file", "resolve_roles", "save_prepared", "schema", "split_summary", "store_upload",
    "text_lengths", "to_dataset", "token_lengths", "tokenize_row", "unescape_html",
    "uploads_dir",
]
