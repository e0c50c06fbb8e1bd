"""Load a data source into a ``datasets.DatasetDict``: built-ins, files, folders, the Hub.

Files are read straight into Arrow (pyarrow's CSV/JSON/Parquet readers) and wrapped in an
in-memory ``datasets.Dataset``: no cache files are written and a 1M-row Parquet file loads
in well under a second. Loaded sources are kept in a small in-process cache keyed by
(path, mtime, size), so re-loading the same file (the UI's every step, ``prepare`` in a
training subprocess) is cheap. Datasets are immutable, so sharing them is safe.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import re
import shutil
import threading
import uuid
import zipfile
from collections import OrderedDict
from pathlib import Path

import pyarrow as pa

from ..catalog import BUILTIN_DATASETS, builtin_dataset_path, hub_reachable
from ..errors import UserError

FILE_FORMATS = (".csv", ".tsv", ".json", ".jsonl", ".parquet")
BUILTIN_PREFIX = "builtin:"
DEFAULT_MAX_MB = 200


def max_upload_bytes() -> int:
    """The size limit for uploaded or local files (env FT_LAB_MAX_UPLOAD_MB, default 200)."""
    try:
        mb = float(os.environ.get("FT_LAB_MAX_UPLOAD_MB", DEFAULT_MAX_MB))
    except ValueError:
        mb = DEFAULT_MAX_MB
    return int(mb * 2**20)


def builtin_sources() -> list[str]:
    return [BUILTIN_PREFIX + name for name in BUILTIN_DATASETS]


def _builtin_hint() -> str:
    return "Built-in datasets that work offline: " + ", ".join(builtin_sources()) + "."


# -- Arrow -> datasets -------------------------------------------------------------------

def to_dataset(table: pa.Table, features: dict | None = None):
    """Wrap an Arrow table in an in-memory datasets.Dataset (no copy, no cache file).

    ``features`` overrides some columns' feature types (e.g. a ClassLabel on int ids)
    without the row-by-row cast that ``Dataset.cast_column`` does."""
    from datasets import Dataset, DatasetInfo, Features
    from datasets.table import InMemoryTable
    # Arrow's dictionary/large types are fine, but null-typed columns (all empty) are not
    # useful to datasets' feature inference: make them strings.
    fields = []
    for f in table.schema:
        fields.append(pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f)
    table = table.cast(pa.schema(fields)) if fields != list(table.schema) else table
    info = None
    if features:
        feats = Features.from_arrow_schema(table.schema.remove_metadata())
        feats.update(features)
        info = DatasetInfo(features=feats)
    # A fingerprint given up front: otherwise datasets hashes every byte of the table
    # (seconds for 1M rows) only to name cache files an in-memory dataset never writes.
    return Dataset(InMemoryTable(table), info=info, fingerprint=uuid.uuid4().hex)


def arrow_table(ds) -> pa.Table:
    """The logical Arrow table of a Dataset (honours a select()/shuffle() indices map)."""
    if getattr(ds, "_indices", None) is None:
        return ds.data.table
    return ds.with_format("arrow")[:]


# -- Files -------------------------------------------------------------------------------

def _check_file(path: Path, max_bytes: int | None) -> None:
    size = path.stat().st_size
    limit = max_upload_bytes() if max_bytes is None else max_bytes
    if size == 0:
        raise UserError(f"The file {path.name} is empty.",
                        hint="Pick a file that has a header row and some data rows.")
    if size > limit:
        raise UserError(
            f"The file {path.name} is {size / 2**20:.1f} MB, over the {limit / 2**20:.0f} MB "
            "limit.", hint="Use a smaller file or a subset, or raise the limit with the "
                           "environment variable FT_LAB_MAX_UPLOAD_MB.")


def _check_utf8(path: Path) -> None:
    """Fail with the line of the first byte that is not UTF-8 (readers' errors are vague)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                line += chunk[:exc.start].count(b"\n")
                bad = chunk[exc.start:exc.start + 1].hex()
                raise UserError(
                    f"{path.name} is not UTF-8 text: byte 0x{bad} on line {line} cannot be "
                    "read.", hint="Save the file with UTF-8 encoding (e.g. 'CSV UTF-8' in a "
                                  "spreadsheet program) and upload it again.") from None
            line += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise UserError(f"{path.name} ends in the middle of a UTF-8 character.",
                            hint="Save the file with UTF-8 encoding.") from None


def _read_delimited(path: Path, delimiter: str) -> pa.Table:
    from pyarrow import csv
    parse = csv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    try:
        # Empty cells are missing values (as in pandas), not empty strings.
        table = csv.read_csv(path, parse_options=parse,
                             read_options=csv.ReadOptions(block_size=1 << 24),
                             convert_options=csv.ConvertOptions(strings_can_be_null=True))
    except pa.ArrowInvalid as exc:
        message = str(exc).split("\n")[0]
        kind = "TSV" if delimiter == "\t" else "CSV"
        raise UserError(f"{path.name} is not a well-formed {kind} file: {message}",
                        hint="Every row needs the same number of fields as the header; "
                             "quote fields that contain the delimiter or line breaks.") from None
    _require_columns(table, path)
    return table


def _read_json(path: Path) -> pa.Table:
    """A .json file: a list of records, a dict of columns, or {"data": [...]}; else JSON lines."""
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if text.lstrip().startswith("{") and "\n" in text.strip():
            return _read_jsonl(path)  # JSON lines saved with a .json name
        raise UserError(f"{path.name} is not valid JSON: {exc.msg} at line {exc.lineno}, "
                        f"column {exc.colno}.", hint="Check the file in a JSON validator.") \
            from None
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    try:
        if isinstance(data, list):
            if not all(isinstance(r, dict) for r in data):
                raise UserError(f"{path.name}: a JSON list must hold one object per row.",
                                hint='Use [{"text": ..., "label": ...}, ...].')
            table = pa.Table.from_pylist(data)
        elif isinstance(data, dict) and all(isinstance(v, list) for v in data.values()):
            table = pa.Table.from_pydict(data)
        else:
            raise UserError(f"{path.name}: expected a list of row objects or a mapping of "
                            "column lists.", hint='Use [{"text": ..., "label": ...}, ...].')
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise UserError(f"{path.name}: the rows do not form a table: {exc}",
                        hint="Each column must hold one kind of value.") from None
    _require_columns(table, path)
    return table


def _read_jsonl(path: Path) -> pa.Table:
    from pyarrow import json as pj
    try:
        table = pj.read_json(path, read_options=pj.ReadOptions(block_size=1 << 24))
    except pa.ArrowInvalid as exc:
        raise UserError(f"{path.name} is not valid JSON lines: {str(exc).splitlines()[0]}",
                        hint="Each line must be one JSON object, e.g. "
                             '{"text": "...", "label": "..."}.') from None
    _require_columns(table, path)
    return table


def _read_parquet(path: Path) -> pa.Table:
    import pyarrow.parquet as pq
    try:
        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise UserError(f"{path.name} is not a readable Parquet file: {exc}",
                        hint="Re-export it with pandas.DataFrame.to_parquet().") from None


def _require_columns(table: pa.Table, path: Path) -> None:
    if table.num_columns == 0 or table.num_rows == 0:
        raise UserError(f"{path.name} has no data rows.",
                        hint="Pick a file with a header row and at least one data row.")


_READERS = {
    ".csv": lambda p: _read_delimited(p, ","),
    ".tsv": lambda p: _read_delimited(p, "\t"),
    ".json": _read_json,
    ".jsonl": _read_jsonl,
    ".parquet": _read_parquet,
}


def read_file(path: str | Path, max_bytes: int | None = None):
    """One data file -> DatasetDict({'train': ...})."""
    from datasets import DatasetDict
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _READERS:
        raise UserError(f"Unsupported file type '{suffix or path.name}'.",
                        hint="Use one of: " + ", ".join(FILE_FORMATS) +
                             ", or a folder saved with save_to_disk.")
    _check_file(path, max_bytes)
    if suffix != ".parquet":
        _check_utf8(path)
    return DatasetDict({"train": to_dataset(_READERS[suffix](path))})


def _read_folder(path: Path):
    """A folder saved with save_to_disk, or one holding <split>.parquet files."""
    from datasets import DatasetDict, load_from_disk
    if (path / "dataset_dict.json").exists() or (path / "dataset_info.json").exists():
        try:
            loaded = load_from_disk(str(path))
        except Exception as exc:  # noqa: BLE001 - any corruption becomes a message
            raise UserError(f"Could not read the saved dataset in {path}: {exc}") from None
        return loaded if isinstance(loaded, DatasetDict) else DatasetDict({"train": loaded})
    parquet = sorted(path.glob("*.parquet"))
    if parquet:
        splits = {}
        for file in parquet:
            splits[file.stem] = to_dataset(_read_parquet(file))
        return DatasetDict(_ordered_splits(splits))
    raise UserError(f"The folder {path} holds no dataset.",
                    hint="Pick a folder saved with save_to_disk (or the Data tab's Save), or "
                         "one with <split>.parquet files.")


def _ordered_splits(splits: dict) -> dict:
    order = {"train": 0, "validation": 1, "test": 2}
    return dict(sorted(splits.items(), key=lambda kv: (order.get(kv[0], 3), kv[0])))


# -- Built-ins ---------------------------------------------------------------------------

def _load_drug_reviews(zip_path: Path):
    import pandas as pd
    from datasets import DatasetDict
    splits = {}
    with zipfile.ZipFile(zip_path) as z:
        for split, member in (("train", "drugsComTrain.tsv"), ("test", "drugsComTest.tsv")):
            with z.open(member) as fh:
                df = pd.read_csv(fh, sep="\t", index_col=0)
            splits[split] = to_dataset(pa.Table.from_pandas(df, preserve_index=False))
    return DatasetDict(splits)


def chatterbot_rows(folder: Path) -> list[dict]:
    """question/answer/category rows: a conversation [q, a, a2, ...] gives (q, a), (a, a2)..."""
    import yaml
    rows = []
    for file in sorted(folder.glob("*.yml")):
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        category = (data.get("categories") or [file.stem])[0]
        for conversation in data.get("conversations") or []:
            turns = [str(t).strip() for t in conversation if t is not None]
            for question, answer in zip(turns, turns[1:], strict=False):
                rows.append({"question": question, "answer": answer,
                             "category": str(category)})
    return rows


def _load_chatterbot(folder: Path):
    from datasets import DatasetDict
    return DatasetDict({"train": to_dataset(pa.Table.from_pylist(chatterbot_rows(folder)))})


def _load_builtin(name: str):
    path = builtin_dataset_path(name)
    return _load_drug_reviews(path) if name == "drug_reviews" else _load_chatterbot(path)


# -- Hub ---------------------------------------------------------------------------------

def _load_hub(name: str, config: str | None, split: str | None):
    from datasets import DatasetDict, load_dataset
    if not hub_reachable():
        raise UserError(f"Cannot reach the Hugging Face Hub to fetch the dataset '{name}' "
                        "(offline).", hint=_builtin_hint() + " You can also upload a file.")
    try:
        loaded = load_dataset(name, config or None, split=split or None)
    except Exception as exc:  # noqa: BLE001 - missing name, config, split: all user errors
        raise UserError(f"Could not load the Hub dataset '{name}'"
                        f"{f' (config {config})' if config else ''}: {str(exc)[:300]}",
                        hint="Check the name, config and split on huggingface.co.") from None
    if not isinstance(loaded, DatasetDict):
        loaded = DatasetDict({split or "train": loaded})
    return loaded


# -- Entry point with cache --------------------------------------------------------------

_CACHE: OrderedDict = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 6


def _looks_like_path(source: str) -> bool:
    return (source.startswith((".", "/", "~")) or "\\" in source or
            Path(source).suffix.lower() in FILE_FORMATS or source.count("/") > 1)


def _cache_key(source: str, hub_config, hub_split, max_bytes) -> tuple:
    if source.startswith(BUILTIN_PREFIX):
        return ("builtin", source)
    path = Path(source).expanduser()
    if path.exists():
        stat = path.stat()
        if path.is_dir():  # a folder changes when any of its files does
            stamps = [(f.name, f.stat().st_mtime_ns, f.stat().st_size)
                      for f in sorted(path.iterdir()) if f.is_file()]
            return ("dir", str(path.resolve()), tuple(stamps))
        return ("file", str(path.resolve()), stat.st_mtime_ns, stat.st_size, max_bytes)
    return ("hub", source, hub_config or None, hub_split or None)


def load_source(source: str, hub_config: str | None = None, hub_split: str | None = None,
                max_bytes: int | None = None):
    """Load any source into a DatasetDict (cached in-process by path and mtime)."""
    source = (source or "").strip()
    if not source:
        raise UserError("No data source given.",
                        hint="Pick a built-in dataset, upload a file or type a path.")
    key = _cache_key(source, hub_config, hub_split, max_bytes)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    loaded = _load_uncached(source, key[0], hub_config, hub_split, max_bytes)
    with _CACHE_LOCK:
        _CACHE[key] = loaded
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return loaded


def _load_uncached(source, kind, hub_config, hub_split, max_bytes):
    if kind == "builtin":
        name = source[len(BUILTIN_PREFIX):]
        if name not in BUILTIN_DATASETS:
            raise UserError(f"Unknown built-in dataset {name!r}.", hint=_builtin_hint())
        return _load_builtin(name)
    path = Path(source).expanduser()
    if kind == "dir":
        return _read_folder(path)
    if kind == "file":
        return read_file(path, max_bytes)
    if _looks_like_path(source):
        raise UserError(f"The file or folder {source!r} does not exist.",
                        hint="Check the path, upload the file, or pick a built-in dataset.")
    if not re.fullmatch(r"[\w.-]+(/[\w.-]+)?", source):
        raise UserError(f"{source!r} is neither a file nor a Hub dataset name.",
                        hint="Hub names look like 'imdb' or 'nyu-mll/glue'. " + _builtin_hint())
    return _load_hub(source, hub_config, hub_split)


def clear_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()


# -- Uploads -----------------------------------------------------------------------------

def uploads_dir() -> Path:
    """Where uploads are kept so a DataConfig's path stays valid for later training."""
    default = Path(os.environ.get("FT_LAB_CACHE", Path.home() / ".cache" / "fine-tuning-lab"))
    folder = Path(os.environ.get("FT_LAB_UPLOADS", default / "uploads"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def store_upload(path: str | Path, original_name: str | None = None,
                 folder: str | Path | None = None, max_bytes: int | None = None) -> str:
    """Copy an uploaded temp file to <uploads>/<sha16>-<name><ext> and return that path.

    Content-addressed: the same file uploaded twice is stored once, and the stored path
    never changes, so a run's config.yaml can name it."""
    path = Path(path)
    name = Path(original_name or path.name).name
    suffix = Path(name).suffix.lower()
    if suffix not in FILE_FORMATS:
        raise UserError(f"Unsupported file type '{suffix or name}'.",
                        hint="Upload one of: " + ", ".join(FILE_FORMATS) + ".")
    _check_file(path, max_bytes)
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(name).stem)[:40] or "data"
    target = Path(folder or uploads_dir()) / f"{digest.hexdigest()[:16]}-{stem}{suffix}"
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        tmp = target.with_name(target.name + ".part")
        shutil.copyfile(path, tmp)
        tmp.replace(target)  # atomic: never a half-copied upload
    return str(target)
